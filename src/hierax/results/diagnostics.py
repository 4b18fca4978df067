"""Sampler diagnostics in plain words: what went wrong and what to try."""

from __future__ import annotations

import numpy as np

from hierax.results import _arviz
from hierax.model.layout import PARAMS


GOOD_K = 0.7    # PSIS's threshold on the Pareto k of importance ratios (Vehtari et al. 2024)
# the embedded Laplace's largest tolerated shift of a fixed effect or sd under the quadrature's weights,
# in posterior sds: about 4 Monte Carlo standard errors of a mean at an ESS of 1,600
SHIFT_TOLERANCE = 0.1
# log ratios spread over less than this (max - min) give weights within 5% of one another: they can
# move no mean by more than a few hundredths of its sd whatever their tail's shape, so Pareto k,
# which only measures that shape, says nothing there (cbpp: ratios spread over 0.014 to 0.03 had k
# of 0.43 to 0.75 by the seed alone, their PSIS effective sample size 0.99999 N)
NEGLIGIBLE_SPREAD = 0.05


def pareto_k(log_weights) -> float:
    """The Pareto k of importance ratios given on the log scale (PSIS, by ArviZ); NaN ratios
    (a draw where the approximation is undefined) make it infinite."""
    flat = np.asarray(log_weights, dtype=float).ravel()
    if not np.all(np.isfinite(flat)):
        return float("inf")
    return _arviz.pareto_k(flat)


def pareto_smoothed(log_weights) -> tuple[float, np.ndarray]:
    """The Pareto k and the PSIS-smoothed log weights (ArviZ's ``psislw``) of finite log ratios."""
    return _arviz.psis(np.asarray(log_weights, dtype=float).ravel())


def laplace_check(inputs: dict) -> dict:
    """The embedded Laplace's check from what its target recorded (``LaplaceTarget.params``):
    the Pareto k of the log ratios, what was checked, and with one grouping factor ``shift``,
    how far the PSIS-weighted draws move each fixed effect and sd in posterior sds, and
    ``shift_se``, its standard error over the checked draws."""
    log_ratios = np.asarray(inputs["log_ratios"], dtype=float)
    if inputs["checked"] == "joint":
        return {"pareto_k": pareto_k(log_ratios), "checked": "joint"}
    if not np.all(np.isfinite(log_ratios)):
        return {"pareto_k": float("inf"), "checked": "hyperparameters", "shift": {}, "shift_se": {}}
    k, smoothed = pareto_smoothed(log_ratios)
    ratio_spread = float(np.max(log_ratios) - np.min(log_ratios)) if len(log_ratios) else 0.0
    weights = np.exp(smoothed - np.max(smoothed))
    weights /= weights.sum()
    shifts, errors = {}, {}
    for name, v in inputs["values"].items():
        v = np.asarray(v, dtype=float)
        spread = np.std(v)
        if spread == 0:
            shifts[name], errors[name] = 0.0, 0.0
            continue
        # the difference of the weighted and the plain mean, and its standard error over the
        # checked draws (as if independent: the embedded Laplace's draws nearly are)
        shifts[name] = float((weights @ v - np.mean(v)) / spread)
        errors[name] = float(np.sqrt(np.sum((weights - 1.0 / len(v)) ** 2 * (v - np.mean(v)) ** 2)) / spread)
    return {"pareto_k": k, "checked": "hyperparameters", "shift": shifts, "shift_se": errors,
            "log_ratio_spread": ratio_spread}


def laplace_warnings(parameterisation: dict) -> tuple[str, ...]:
    """A message where the embedded Laplace approximation (``collapse="laplace"``) failed its
    check: the Pareto k of the draws' importance ratios above :data:`GOOD_K` (with one grouping
    factor, unless the ratios hardly vary: :data:`NEGLIGIBLE_SPREAD`), or a shift of a fixed
    effect or sd beyond :data:`SHIFT_TOLERANCE`."""
    checks = [c for c in parameterisation.values() if c.get("choice") == "laplace"]
    check = checks[0] if checks else {}
    k = check.get("pareto_k")
    if k is None:
        return ()
    if check.get("checked") == "hyperparameters":
        if k > GOOD_K and check.get("log_ratio_spread", np.inf) > NEGLIGIBLE_SPREAD:
            return (f"collapse='laplace': the corrected Laplace approximation misstates the likelihood of the sds "
                    f"and fixed effects (adaptive quadrature over each group's effects gives importance ratios with Pareto k "
                    f"{k:.2f}, above {GOOD_K}), so their posterior may be biased. Fit with collapse=False, which "
                    "samples every effect exactly.",)
        errors = check.get("shift_se", {})
        shifts = {name: v for name, v in check.get("shift", {}).items()
                  if abs(v) > max(SHIFT_TOLERANCE, 2.0 * errors.get(name, 0.0))}
        if not shifts:
            return ()
        moved = ", ".join(f"{name} by {v:+.2f}" for name, v in sorted(shifts.items(), key=lambda kv: -abs(kv[1])))
        return (f"collapse='laplace': the corrected Laplace approximation biases this posterior: weighting the draws by "
                f"adaptive quadrature over each group's effects moves {moved} posterior sds (more than "
                f"{SHIFT_TOLERANCE} and than twice its Monte Carlo error). Fit with collapse=False, which samples "
                "every effect exactly, for these estimates.",)
    if k <= GOOD_K:
        return ()
    return (f"collapse='laplace': the draws of the group effects from the Laplace approximation are not close "
            f"enough to the exact joint posterior for PSIS to vouch for them (Pareto k of their importance ratios "
            f"{k:.2f}, above {GOOD_K}; with several grouping factors hierax can only check all the effects "
            "jointly, which is strict). Check the sds and fixed effects with collapse=False, which samples every "
            "effect exactly.",)


def nuts_warnings(idata, max_tree_depth: int, summary_table=None, parameterisation: dict | None = None
                  ) -> tuple[str, ...]:
    """Messages about divergences, saturated trees, low E-BFMI, R-hat and ESS (empty if all fine).

    ``parameterisation`` (``fit.parameterisation``) lets the divergence message name the group
    term where the divergent draws concentrate and the remedy for how that group was sampled."""
    stats = idata.sample_stats
    messages = []
    diverging = stats["diverging"].values
    total = diverging.size
    if diverging.sum():
        messages.append(
            f"{int(diverging.sum())} of {total} draws after warmup were divergent: the sampler met curvature it "
            "could not follow, so the posterior may be biased. " + divergence_remedy(idata, parameterisation or {})
        )
    saturated = (stats["tree_depth"].values >= max_tree_depth).mean()
    if saturated > 0.01:
        messages.append(
            f"{saturated:.0%} of draws hit the maximum tree depth ({max_tree_depth}): sampling is inefficient, "
            "usually from strongly correlated or badly scaled parameters. Consider rescaling predictors "
            "(scale(x)) or raising max_tree_depth."
        )
    if stats["energy"].shape[1] > 2:
        bfmi = _arviz.bfmi(idata)
        low = [i for i, v in enumerate(bfmi) if v < 0.3]
        if low:
            messages.append(
                f"E-BFMI below 0.3 in chain(s) {low} ({', '.join(f'{bfmi[i]:.2f}' for i in low)}): the momentum "
                "resampling explores the energy poorly, typical of heavy tails or funnels; a different "
                "parameterisation or more informative priors on the sds usually help."
            )
    if summary_table is not None and len(summary_table):
        rhat = summary_table["r_hat"].max()
        if np.isfinite(rhat) and rhat > 1.01:
            worst = summary_table["r_hat"].idxmax()
            messages.append(f"R-hat up to {rhat:.3f} ({worst}): chains disagree; run longer or check the model.")
        ess = summary_table["ess_bulk"].min()
        chains = stats.sizes["chain"]
        if np.isfinite(ess) and ess < 100 * chains:
            worst = summary_table["ess_bulk"].idxmin()
            messages.append(
                f"bulk ESS as low as {ess:.0f} ({worst}), below 100 per chain: estimates of means and "
                "intervals are noisy; draw more."
            )
    return tuple(messages) + laplace_warnings(parameterisation or {})


def divergence_remedy(idata, parameterisation: dict) -> str:
    """Name the group sd where divergent draws concentrate, and what to do about it.

    Divergences in hierarchical models come from the neck of a funnel: they sit where a group sd
    is small. For each sd, the mean percentile of its divergent draws among all draws says how
    low they sit (50 if unrelated); the lowest, if below 25, is named."""
    diverging = idata.sample_stats["diverging"].values.ravel()
    worst, where = 25.0, None
    for name, values in idata.posterior.data_vars.items():
        if not name.startswith("sd_"):
            continue
        flat = values.values.reshape(len(diverging), -1)
        for k in range(flat.shape[1]):
            percentile = 100.0 * (np.argsort(np.argsort(flat[:, k])) + 0.5) / len(flat)
            level = float(percentile[diverging].mean())
            if level < worst:
                term = values.coords[values.dims[-1]].values[k] if values.ndim > 2 else ""
                worst, where = level, (name.removeprefix("sd_"), str(term))
    if where is None:
        return ("They are not concentrated at small group sds. Try target_accept=0.99 or more warmup, or "
                "tighter priors on the sds.")
    block, term = where
    choice = parameterisation.get(block, {})
    located = (f"They concentrate where sd[{block}][{term}] is small (divergent draws sit at its "
               f"{worst:.0f}th percentile on average): the funnel of group {block!r}. ")
    if choice.get("choice") in ("collapsed", "laplace"):
        return located + ("Its effects were integrated out, so the funnel is in the sd itself: give it a "
                          "tighter prior (e.g. HalfNormal with a smaller scale), or use target_accept=0.99.")
    if choice.get("centered", 0) > choice.get("noncentered", 0):
        return located + (f"Most of its levels were sampled centred; try parameterisation={{{block!r}: "
                          "'noncentered'}, or target_accept=0.99.")
    return located + (f"Its levels were sampled non-centred; if they have many observations each, try "
                      f"parameterisation={{{block!r}: 'centered'}}; else a tighter prior on that sd or "
                      "target_accept=0.99.")


def mixed_warnings(output, spec) -> tuple[str, ...]:
    """Messages for a REML/ML fit: each component at the boundary, by name, and convergence."""
    messages = []
    for t in output.singular:
        k, i, _ = output.theta_entries[t]
        block = spec.blocks[k]
        term = block.terms[i]
        if i == 0 or not block.has_cor:
            what = f"the sd of {term} across {block.group} is estimated as 0"
        else:
            what = (f"the covariance of {', '.join(block.terms)} across {block.group} is degenerate: {term} adds "
                    "no variation beyond the effects before it (a correlation of +-1 or a zero sd)")
        simpler = [x for x in block.terms if x != term]
        reduced = (f"(0 + {' + '.join(simpler)} | {block.group})" if simpler and "(Intercept)" not in simpler
                   else f"({' + '.join(['1'] + [x for x in simpler if x != '(Intercept)'])} | {block.group})"
                   if simpler else f"no {block.group} term")
        messages.append(
            f"singular fit: {what}. The data do not support this variation; the estimate is at the boundary "
            f"and its standard errors are unreliable. Consider the reduced model with {reduced}, or a Bayesian "
            "fit (method='nuts') whose prior on the sd gives a posterior that is not piled at zero."
        )
    record = output.optimisation
    if not record.converged:
        names = ([_theta_name(spec, entry) for entry in output.theta_entries]
                 + [f"beta[{name}]" for name in spec.fixed_names]
                 + [f"{dpar.name} (on its {dpar.link} scale)" for dpar in spec.scalar_dpars])
        worst = int(np.argmax(np.abs(record.gradient)))
        messages.append(
            f"the optimiser did not converge ({record.message}): the exact gradient of the objective is "
            f"{record.gradient[worst]:.2g} in {names[worst]} after {record.evaluations} evaluations. Try "
            "rescaling predictors (scale(x)) or a simpler random-effects structure."
        )
    return tuple(messages)


def _theta_name(spec, entry) -> str:
    k, i, j = entry
    block = spec.blocks[k]
    if i == j:
        return f"theta[{block.group}: {block.terms[i]}]"
    return f"theta[{block.group}: {block.terms[i]}, {block.terms[j]}]"


NEAR_ZERO = 0.05      # a mode's sd below this share of the marginal estimate is "at or near zero"


def map_warnings(spec, params, marginal, mode) -> tuple[str, ...]:
    """Where a posterior mode misleads: a group sd at or near zero that the marginal estimate
    (``marginal``, a MixedFit, or None) puts well away from it; and an optimiser that stopped."""
    messages = []
    if not mode.converged:
        messages.append(f"the optimiser stopped before converging ({mode.message}); the mode may be inaccurate")
    estimates = {}
    if marginal is not None:
        table = marginal.varcorr()
        rows = table[(table["var2"] == "") & (table["group"] != "Residual")]
        estimates = {(g, t): float(e) for g, t, e in zip(rows["group"], rows["var1"], rows["estimate"])}
    for block in spec.blocks:
        for k, term in enumerate(block.terms):
            sd = float(np.asarray(params[PARAMS.sd][block.name]).reshape(-1, block.num_terms)[0, k])
            other = estimates.get((block.group, term))
            label = f"sd[{block.name}][{term}]"
            if other is not None and other > 0 and sd < NEAR_ZERO * other:
                messages.append(
                    f"{label}: the mode is {sd:.2g}, at or near zero, while the marginal estimate ({marginal.method}, "
                    f"the effects integrated out) is {other:.3g}. The joint mode of a group sd collapses toward "
                    "zero in hierarchical models although its posterior mean does not: use method='nuts' for "
                    "posterior means (the default), or the marginal estimate.")
            elif other is None and sd < 1e-4:
                messages.append(f"{label}: the mode is {sd:.2g}, at zero; the posterior mean of a group sd is "
                                "usually well away from its mode: use method='nuts'.")
    return tuple(messages)
