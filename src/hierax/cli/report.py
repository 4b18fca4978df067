"""Plain-text rendering of a fit for the terminal. It formats; it computes nothing new."""

from __future__ import annotations

import pandas as pd


def format_table(table: pd.DataFrame) -> str:
    shown = table.copy()
    for column in ("ess_bulk", "ess_tail"):
        if column in shown:
            shown[column] = shown[column].round(0).astype("Int64")
    for column in shown.select_dtypes(exclude="number").columns:
        shown[column] = shown[column].fillna("")            # lme4's blank var2 for an sd row
    with pd.option_context("display.width", 120, "display.max_columns", 20):
        return shown.to_string(float_format=lambda v: f"{v:.3f}")


def print_fit(fit) -> None:
    spec = fit.spec
    print(f"Model: {fit.formula}")
    print(f"Family: {fit.family} (link: {fit.link});  {spec.num_obs} observations")
    for block in spec.blocks:
        kind = "correlated" if block.has_cor else "independent"
        print(f"  group {block.group}: {block.num_levels} levels, effects {', '.join(block.terms)} ({kind}; "
              f"{_centering_text(fit.parameterisation.get(block.name))})")
    cfg = fit.config
    print(f"NUTS: {cfg.chains} chains x {_draws_text(fit)} after {cfg.warmup} warmup, seed {fit.seed}, "
          f"{fit.timing.get('sampling', 0):.1f} s sampling, target_accept {_target_text(fit)}")
    print("\nPriors:")
    print(fit.priors)
    print("\nPosterior summary (estimate = posterior mean):")
    print(format_table(fit.summary()))
    _print_diagnostics(fit.warnings, "no divergences, no saturated trees, E-BFMI, R-hat and ESS fine.")


def _draws_text(fit) -> str:
    """The draws kept per chain; of how many asked, where Ctrl-C stopped sampling early."""
    kept = fit.idata.posterior.sizes["draw"]
    return f"{kept} draws" if kept == fit.config.draws else f"{kept} draws (of {fit.config.draws} asked: interrupted)"


def _print_diagnostics(warnings, all_clear: str | None = None) -> None:
    if warnings:
        print("\nDiagnostics:")
        for message in warnings:
            print(f"  - {message}")
    elif all_clear:
        print(f"\nDiagnostics: {all_clear}")


def _centering_text(choice: dict | None) -> str:
    if not choice:
        return "parameterisation unknown"
    if choice["choice"] == "collapsed":
        return "collapsed: effects integrated out exactly, then drawn from their conditional"
    if choice["choice"] == "laplace":
        k = choice.get("pareto_k")
        checked = "" if k is None else f" (Pareto k {k:.2f} of the draws' importance ratios)"
        return f"laplace: effects integrated out by the Laplace approximation, then drawn from it{checked}"
    counts = f"{choice['centered']} levels centred, {choice['noncentered']} non-centred"
    return f"{counts}, chosen during warmup" if choice["choice"] == "auto" else f"{choice['choice']}: {counts}"


def _target_text(fit) -> str:
    used = fit.adaptation.get("target_accept", fit.config.target_accept)
    raised = fit.adaptation.get("raised", [])
    if not raised:
        return f"{used:g}"
    steps = "; ".join(f"{r['divergent']} divergent transitions in {r['phase']} at {r['target_accept']:g}"
                      + (", draws discarded" if r["phase"] == "sampling" else "") for r in raised)
    return f"{used:g} (raised after {steps})"


def print_mixed_fit(fit) -> None:
    """A REML/ML/Laplace fit as lme4's ``summary()`` prints it, then the optimiser's record."""
    print(fit)
    record = fit.optimisation
    print(f"\nOptimiser: {record.optimiser}, {record.evaluations} evaluations, "
          f"{'converged' if record.converged else 'NOT converged'};  -2 logLik {fit.deviance:.4f}"
          f"{' (REML)' if fit.method == 'reml' else ''}, logLik {fit.loglik:.4f}, df {fit.df}")


def print_map_fit(fit) -> None:
    """A posterior mode: the estimates and, where it misleads, why."""
    print(f"Model: {fit.formula}")
    print(f"Posterior mode (MAP), {fit.family} family, {fit.link} link;  {fit.spec.num_obs} observations")
    print("\nPriors:")
    print(fit.priors)
    print("\nEstimates (the mode; no uncertainty: use --method nuts for posterior means and intervals):")
    print(format_table(fit.summary()[["estimate"]]))
    _print_diagnostics(fit.warnings, "no group sd at the boundary.")


def print_small_sample(fit, ddf: str) -> None:
    """The fixed effects with small-sample df and the type III anova table (lmerTest's)."""
    print(f"\nFixed effects, {ddf} df:")
    print(format_table(fit.fixef(df=ddf)))
    print(f"\nType III anova, {ddf} df:")
    print(format_table(fit.anova(df=ddf)))


def print_variance(fit) -> None:
    """Variance components, ICC and R² on the latent scale (Nakagawa et al. 2017)."""
    print("\nVariance components (latent scale):")
    print(format_table(fit.variance_components()))
    print("\nICC:")
    print(format_table(fit.icc()))
    print("\nR²:")
    print(format_table(fit.r2()))
