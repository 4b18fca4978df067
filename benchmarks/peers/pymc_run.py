"""A hand-written PyMC model (the NumPyro model's twin) with PyMC's default sampler (its own NUTS
over PyTensor's C backend; target_accept 0.8), chains in parallel processes, one per core."""

import os

from common import Clock, arguments, write

from models import design, load


def build(d):
    import numpy as np
    import pymc as pm

    X, priors = d["X"], d["priors"]
    with pm.Model() as m:
        scales = np.array([priors["Intercept"]] + [priors["b"]] * (X.shape[1] - 1))
        beta = pm.Normal("beta", 0.0, scales, shape=X.shape[1])
        eta = pm.math.dot(X, beta)
        for name, index, Z, levels in d["groups"]:
            q = Z.shape[1]
            z = pm.Normal(f"z_{name}", 0.0, 1.0, shape=(levels, q))
            if q > 1:
                chol, corr, tau = pm.LKJCholeskyCov(f"L_{name}", n=q, eta=priors["lkj"],
                                                   sd_dist=pm.HalfNormal.dist(priors["sd"], shape=q))
                pm.Deterministic(f"sd_{name}", tau)
                pm.Deterministic(f"cor_{name}", corr[1, 0])
                u = pm.math.dot(z, chol.T)
            else:
                tau = pm.HalfNormal(f"sd_{name}", priors["sd"], shape=q)
                u = z * tau
            u = pm.Deterministic(f"b_{name}", u)
            eta = eta + (Z * u[index]).sum(axis=1)
        if d["family"] == "gaussian":
            sigma = pm.HalfNormal("sigma", priors["sigma"])
            pm.Normal("y", eta, sigma, observed=d["y"])
        elif d["family"] == "binomial":
            pm.Binomial("y", n=d["trials"], logit_p=eta, observed=d["y"])
        else:
            pm.Poisson("y", mu=pm.math.exp(eta), observed=d["y"])
    return m


def main():
    args = arguments(__doc__)
    import numpy as np
    import pymc as pm

    d = design(args.model, load(args.model))
    with Clock() as clock:
        with build(d):
            trace = pm.sample(draws=args.draws, tune=args.warmup, chains=args.chains, cores=os.cpu_count(),
                              random_seed=args.seed, progressbar=False, compute_convergence_checks=False)
        posterior = trace.posterior
        draws = {k: posterior[k].values for k in posterior.data_vars if not (k.startswith("z_") or k.startswith("L_"))}
    write(args.out, draws, clock.seconds, int(np.asarray(trace.sample_stats["diverging"]).sum()),
          {"pymc": pm.__version__}, note="default sampler, target_accept 0.8")


if __name__ == "__main__":
    main()
