"""Export the inputs of tests/reference/marginaleffects_contraception.py: a Laplace fit's
estimates and a NUTS fit's draws of use ~ age + I(age^2) + urban + livch + (1 | district)."""
import json, numpy as np, pandas as pd, hierax as hx
from hierax.model import layout
d = pd.read_csv("tests/reference/data/contraception.csv", dtype={"livch": str, "district": str})
d["livch"] = pd.Categorical(d["livch"], categories=["0", "1", "2", "3+"])
f = "use ~ age + I(age^2) + urban + livch + (1 | district)"
fit = hx.fit(f, d, family="bernoulli", method="laplace")
out = fit.output
block = fit.spec.blocks[0]
point = {"formula": f, "family": "bernoulli (logit)", "method": "laplace (hierax, nAGQ = 1)",
         "fixed_names": list(fit.spec.fixed_names), "beta": list(map(float, out.beta)),
         "vcov_beta": np.asarray(out.vcov_beta).tolist(),
         "district_levels": list(map(str, block.levels)),
         "district_modes": list(map(float, np.asarray(out.random_effects[0])[:, 0]))}
json.dump(point, open("tests/reference/data/contraception_laplace.json", "w"), indent=1)
nuts = hx.fit(f, d, family="bernoulli", method="nuts", chains=2, warmup=300, draws=200, seed=11)
post = nuts.idata.posterior
beta = np.asarray(post[layout.FIXED_VARIABLE]).reshape(-1, len(fit.spec.fixed_names))
b = np.asarray(post[layout.variable("effects", nuts.spec.blocks[0])]).reshape(beta.shape[0], -1)
sd = np.asarray(post[layout.variable("sd", nuts.spec.blocks[0])]).reshape(beta.shape[0], -1)
cols = {n: beta[:, i] for i, n in enumerate(nuts.spec.fixed_names)}
cols.update({f"r_district[{lev}]": b[:, i] for i, lev in enumerate(nuts.spec.blocks[0].levels)})
cols["sd_district"] = sd[:, 0]
pd.DataFrame(cols).to_csv("tests/reference/data/contraception_draws.csv", index=False, float_format="%.12g")
print(fit.spec.fixed_names, beta.shape, list(post.data_vars))
