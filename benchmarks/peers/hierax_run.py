"""hierax at its defaults (the collapsed sampler where it applies) on one suite model."""

from common import Clock, arguments, import_hierax_for_nuts, write

from models import MODELS, load

hx = import_hierax_for_nuts()  # imports before the clock, as every peer's runner


def priors(p: dict, formula: str) -> dict:
    """The suite's priors as hierax keys; the LKJ only where the model has correlated effects (hierax
    refuses a prior that matches no parameter, as brms does)."""
    out = {"Intercept": hx.Normal(0, p["Intercept"]), "b": hx.Normal(0, p["b"]), "sd": hx.HalfNormal(p["sd"])}
    if any(term.correlated and term.intercept + len(term.terms) > 1 for term in hx.parse_formula(formula).random):
        out["cor"] = hx.LKJ(p["lkj"])
    if p["sigma"] is not None:
        out["sigma"] = hx.HalfNormal(p["sigma"])
    return out


def main():
    args = arguments(__doc__)
    model = MODELS[args.model]
    data = load(args.model)
    with Clock() as clock:
        fit = hx.fit(model["formula"], data, family=model["family"], priors=priors(model["priors"], model["formula"]),
                     seed=args.seed, chains=args.chains, warmup=args.warmup, draws=args.draws)
    posterior = fit.idata.posterior
    draws = {name: posterior[name].values for name in posterior.data_vars}
    choice = {k: v["choice"] for k, v in fit.parameterisation.items()}
    write(args.out, draws, clock.seconds, int(fit.idata.sample_stats["diverging"].sum()), fit.versions,
          note=f"parameterisation {choice}, target_accept {fit.adaptation['target_accept']}",
          timing=fit.timing)


if __name__ == "__main__":
    main()
