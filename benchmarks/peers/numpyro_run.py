"""A hand-written NumPyro model (non-centred group effects, LKJ-Cholesky), NumPyro's NUTS at its
defaults (target_accept 0.8, float32), chains in parallel over one CPU device per chain."""

import os

os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"

from common import Clock, arguments, write  # noqa: E402

from models import design, load  # noqa: E402


def model(X, groups, trials, family, priors, y=None):
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    scales = jnp.array([priors["Intercept"]] + [priors["b"]] * (X.shape[1] - 1))
    beta = numpyro.sample("beta", dist.Normal(0.0, scales).to_event(1))
    eta = X @ beta
    for name, index, Z, levels in groups:
        q = Z.shape[1]
        tau = numpyro.sample(f"sd_{name}", dist.HalfNormal(priors["sd"]).expand([q]).to_event(1))
        z = numpyro.sample(f"z_{name}", dist.Normal(0.0, 1.0).expand([levels, q]).to_event(2))
        if q > 1:
            L = numpyro.sample(f"L_{name}", dist.LKJCholesky(q, concentration=priors["lkj"]))
            numpyro.deterministic(f"cor_{name}", L[1, 0])
            u = (z @ L.T) * tau
        else:
            u = z * tau
        u = numpyro.deterministic(f"b_{name}", u)
        eta = eta + jnp.sum(Z * u[index], axis=1)
    if family == "gaussian":
        sigma = numpyro.sample("sigma", dist.HalfNormal(priors["sigma"]))
        numpyro.sample("y", dist.Normal(eta, sigma), obs=y)
    elif family == "binomial":
        numpyro.sample("y", dist.Binomial(total_count=trials, logits=eta), obs=y)
    else:
        numpyro.sample("y", dist.Poisson(rate=jnp.exp(eta)), obs=y)


def main():
    args = arguments(__doc__)
    import jax
    import jax.numpy as jnp
    import numpy as np
    import numpyro
    from numpyro.infer import MCMC, NUTS

    d = design(args.model, load(args.model))
    with Clock() as clock:
        groups = [(n, jnp.asarray(i), jnp.asarray(Z), levels) for n, i, Z, levels in d["groups"]]
        trials = None if d["trials"] is None else jnp.asarray(d["trials"])
        mcmc = MCMC(NUTS(model), num_warmup=args.warmup, num_samples=args.draws, num_chains=args.chains,
                    chain_method="parallel", progress_bar=False)
        mcmc.run(jax.random.PRNGKey(args.seed), jnp.asarray(d["X"]), groups, trials, d["family"], d["priors"],
                 y=jnp.asarray(d["y"]), extra_fields=("diverging",))
        samples = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
    keep = {k: v for k, v in samples.items() if not (k.startswith("z_") or k.startswith("L_"))}
    write(args.out, keep, clock.seconds, int(np.asarray(mcmc.get_extra_fields()["diverging"]).sum()),
          {"numpyro": numpyro.__version__, "jax": jax.__version__}, note="target_accept 0.8, float32")


if __name__ == "__main__":
    main()
