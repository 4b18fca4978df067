"""bambi from the same formula, with the suite's priors, at its defaults (PyMC's sampler;
non-centred group effects). bambi has no correlation between a group's intercept and slope: for
(1 + x | g) it fits independent effects, a slightly different model, noted in the table."""

import os

from common import Clock, arguments, write

from models import MODELS, load


def priors(model: dict, bmb):
    p = model["priors"]
    out = {"Intercept": bmb.Prior("Normal", mu=0, sigma=p["Intercept"])}
    for term in model["fixed"]:
        out[term] = bmb.Prior("Normal", mu=0, sigma=p["b"])
    for group, slopes in model["groups"]:
        for term in ["1"] + slopes:
            out[f"{term}|{group}"] = bmb.Prior("Normal", mu=0, sigma=bmb.Prior("HalfNormal", sigma=p["sd"]))
    if p["sigma"] is not None:
        out["sigma"] = bmb.Prior("HalfNormal", sigma=p["sigma"])
    return out


def main():
    args = arguments(__doc__)
    import bambi as bmb
    import numpy as np

    model = MODELS[args.model]
    data = load(args.model)
    formula = model["formula"]
    if args.model == "cbpp":       # bambi writes binomial responses as p(successes, trials)
        formula = "p(incidence, size) ~ period + (1 | herd)"
    with Clock() as clock:
        fitted = bmb.Model(formula, data, family=model["family"], priors=priors(model, bmb))
        trace = fitted.fit(draws=args.draws, tune=args.warmup, chains=args.chains, cores=os.cpu_count(),
                           random_seed=args.seed, progressbar=False, compute_convergence_checks=False)
        posterior = trace.posterior
        draws = {k: posterior[k].values for k in posterior.data_vars if not k.endswith("_offset")}
        draws = {k: v for k, v in draws.items() if v.ndim >= 2 and v.shape[2:3] != (len(data),)}   # not mu
    write(args.out, draws, clock.seconds, int(np.asarray(trace.sample_stats["diverging"]).sum()),
          {"bambi": bmb.__version__}, note="independent intercepts and slopes" if "+" in formula.split("|")[0] else "")


if __name__ == "__main__":
    main()
