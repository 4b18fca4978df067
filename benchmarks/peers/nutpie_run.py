"""nutpie (Rust NUTS with its own mass-matrix adaptation) driving the JAX log density of the PyMC
twin model (``pymc_run.build``): ``compile_pymc_model(backend="jax", gradient_backend="jax")``,
nutpie's defaults otherwise (target 0.8, diagonal mass matrix from gradients and draws), chains
in threads."""

from common import Clock, arguments, write

from models import design, load
from pymc_run import build


def main():
    args = arguments(__doc__)
    import numpy as np
    import nutpie
    # what building and compiling the model imports, before the clock as for every tool
    import jax  # noqa: F401
    import pymc  # noqa: F401
    import pytensor.link.jax  # noqa: F401

    d = design(args.model, load(args.model))
    with Clock() as clock:
        compiled = nutpie.compile_pymc_model(build(d), backend="jax", gradient_backend="jax")
        trace = nutpie.sample(compiled, draws=args.draws, tune=args.warmup, chains=args.chains, seed=args.seed,
                              progress_bar=False)
        posterior = trace.posterior
        draws = {k: posterior[k].values for k in posterior.data_vars
                 if not (k.startswith("z_") or k.startswith("L_") or k.endswith("__"))}   # x_log__: unconstrained
    write(args.out, draws, clock.seconds, int(np.asarray(trace.sample_stats["diverging"]).sum()),
          {"nutpie": nutpie.__version__}, note="JAX log density, target_accept 0.8")


if __name__ == "__main__":
    main()
