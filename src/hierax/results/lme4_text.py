"""REML, ML and Laplace fits printed as lme4's ``summary()`` prints them.

An lme4 user reads a fit in a fixed layout: the criterion, the random effects as ``VarCorr``
prints them (one row per effect, variance and sd side by side, correlations as a lower triangle
to the right), the line "Number of obs: 180, groups:  Subject, 18", and the fixed effects with
their standard errors and t (or z) values. The tidy tables (``fit.varcorr()``, ``fit.fixef()``)
hold the same numbers for computing; this module only lays them out.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from hierax.model.layout import RESIDUAL_SD

HEADERS = {
    "reml": "Linear mixed model fit by REML",
    "ml": "Linear mixed model fit by maximum likelihood",
    "laplace": "Generalized linear mixed model fit by maximum likelihood (Laplace Approximation)",
}


def summary_text(fit) -> str:
    """The whole summary of a :class:`~hierax.MixedFit`, as lme4 prints ``summary(fit)``."""
    nagq = getattr(fit.output, "nagq", 1)
    lines = [HEADERS[fit.method] if nagq == 1 else
             f"Generalized linear mixed model fit by maximum likelihood (Adaptive Gauss-Hermite Quadrature, nAGQ = {nagq})"]
    if fit.method == "laplace":
        lines.append(f" Family: {fit.family}  ( {fit.link} )")
    lines += [f"Formula: {fit.formula}", ""]
    if fit.method == "reml":
        lines.append(f"REML criterion at convergence: {fit.deviance:.1f}")
    else:
        lines += [_table([["AIC", "BIC", "logLik", "deviance"],
                          [f"{fit.aic:.1f}", f"{fit.bic:.1f}", f"{fit.loglik:.1f}", f"{fit.deviance:.1f}"]],
                         right=range(4))]
    if len(fit.varcorr()):
        lines += ["", "Random effects:", varcorr_text(fit), groups_line(fit.spec)]
    else:                               # known sds alone (a common-effect meta-analysis): nothing random
        lines += ["", groups_line(fit.spec)]
    family = family_params_text(fit)
    if family:
        lines += ["", "Family parameters:", family]
    lines += ["", "Fixed effects:", fixed_effects_text(fit)]
    correlation = fixed_correlation_text(fit)
    if correlation:
        lines += ["", "Correlation of Fixed Effects:", correlation]
    if fit.warnings:
        lines += [""] + [f"warning: {w}" for w in fit.warnings]
    return "\n".join(lines)


def varcorr_text(fit) -> str:
    """The random effects as lme4 prints ``VarCorr(fit)``: Groups, Name, Variance, Std.Dev., Corr."""
    sigma2 = 1.0 if fit.output.sigma is None else fit.output.sigma ** 2
    rows, variances, sds = [], [], []
    width = max((b.num_terms for b in fit.spec.blocks if b.has_cor), default=1)
    for block, T in zip(fit.spec.blocks, fit.output.factors):
        cov = sigma2 * T @ T.T
        sd = np.sqrt(np.diag(cov))
        for k, term in enumerate(block.terms):
            cors = [_correlation(cov, sd, k, j) for j in range(k)] if block.has_cor else []
            rows.append([block.group if k == 0 else "", term] + cors)
            variances.append(cov[k, k])
            sds.append(sd[k])
    residual = fit.sigma          # an LMM's, or a student or lognormal family's scale (Laplace)
    if residual is not None:
        rows.append(["Residual", ""])
        variances.append(residual ** 2)
        sds.append(residual)
    rows = [row[:2] + [v, s] + row[2:] for row, v, s in zip(rows, format_column(variances), format_column(sds))]
    corr_columns = max(width - 1, 0)
    header = ["Groups", "Name", "Variance", "Std.Dev."] + (["Corr"] + [""] * (corr_columns - 1) if corr_columns else [])
    rows = [row + [""] * (len(header) - len(row)) for row in rows]
    return _table([header] + rows, right=range(2, len(header)), indent=1)


def family_params_text(fit) -> str:
    """The family's parameters besides the mean and a residual sd (shape, phi, nu, zi, hu), as
    glmmTMB reports its dispersion and zero-inflation: estimate and delta-method Std. Error on the
    natural scale ('' when there are none)."""
    table = fit.family_params()
    table = table.drop(index=[name for name in table.index if name == RESIDUAL_SD])
    if table.empty:
        return ""
    numbers = format_column(np.concatenate([table["estimate"].to_numpy(), table["se"].to_numpy()]))
    rows = [["", "Estimate", "Std. Error", "Link"]]
    for k, (name, row) in enumerate(table.iterrows()):
        rows.append([name, numbers[k], numbers[len(table) + k], row["link"]])
    return _table(rows, right=range(1, 3))


def groups_line(spec) -> str:
    """``Number of obs: 180, groups:  Subject, 18`` (finest grouping first, as lme4 orders them)."""
    blocks = sorted(spec.blocks, key=lambda b: -b.num_levels)
    seen, parts = set(), []
    for block in blocks:
        if block.group not in seen:
            seen.add(block.group)
            parts.append(f"{block.group}, {block.num_levels}")
    return f"Number of obs: {spec.num_obs}" + (f", groups:  {'; '.join(parts)}" if parts else "")


def fixed_effects_text(fit) -> str:
    """Estimate, Std. Error and t value (z value and Pr(>|z|) for a GLMM), as lme4 prints them."""
    table = fit.fixef()
    gaussian = fit.method != "laplace"
    header = ["", "Estimate", "Std. Error", "t value" if gaussian else "z value"] + ([] if gaussian else ["Pr(>|z|)"])
    rows = [header]
    numbers = format_column(np.concatenate([table["estimate"].to_numpy(), table["se"].to_numpy()]))
    estimates, ses = numbers[:len(table)], numbers[len(table):]
    for (name, row), estimate, se in zip(table.iterrows(), estimates, ses):
        cells = [name, estimate, se, f"{row['statistic']:.3f}"]
        if not gaussian:
            cells.append(_p_value(2 * special.ndtr(-abs(row["statistic"]))))
        rows.append(cells)
    return _table(rows, right=range(1, len(header)))


def fixed_correlation_text(fit) -> str:
    """The lower triangle of the fixed effects' correlation, names shortened as lme4 does ('' if p < 2)."""
    names = list(fit.spec.fixed_names)
    if len(names) < 2:
        return ""
    cov = np.asarray(fit.output.vcov_beta)
    sd = np.sqrt(np.diag(cov))
    cor = cov / np.outer(sd, sd)
    short = _abbreviations(names)
    rows = [[""] + short[:-1]]
    for i in range(1, len(names)):
        rows.append([short[i]] + [f"{cor[i, j]:.3f}" for j in range(i)] + [""] * (len(names) - 1 - i))
    return _table(rows, right=range(1, len(names)))


def format_column(values, digits: int = 4) -> list[str]:
    """Numbers with common decimals, as R's ``format(x, digits=4)``: as many decimals as the value
    that needs the most to show ``digits`` significant digits (trailing zeros dropped), so
    24.741, 5.922, 25.592 and 612.10, 35.07, 654.94, as lme4 prints them."""
    values = np.asarray(values, float)
    finite = values[np.isfinite(values)]
    if finite.size and (np.abs(finite).max() >= 1e15 or np.abs(finite[finite != 0]).min(initial=1.0) < 1e-5):
        return [f"{v:.{digits}g}" for v in values]
    decimals = max((_decimals(f"{v:.{digits}g}") for v in finite), default=0)
    return [f"{v:.{decimals}f}" if np.isfinite(v) else "NaN" for v in values]


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def _correlation(cov, sd, i, j) -> str:
    if sd[i] <= 0 or sd[j] <= 0:
        return "NaN"
    return f"{cov[i, j] / (sd[i] * sd[j]):.2f}"


def _p_value(p: float) -> str:
    return "<2e-16" if p < 2e-16 else f"{p:.3g}"


def _abbreviate(name: str, width: int = 6) -> str:
    """lme4's column names of the correlation: '(Intercept)' -> '(Intr)'; others cut to six
    characters, or, where that would make two alike, with lower-case vowels dropped (as R's
    ``abbreviate``) and the start and end kept: 'factor(period)[2]' -> 'fctr2]'."""
    if name == "(Intercept)":
        return "(Intr)"
    return name[:width]


def _abbreviations(names) -> list[str]:
    short = [_abbreviate(n) for n in names]
    if len(set(short)) == len(short):
        return short
    out = []
    for name, cut in zip(names, short):
        if name == "(Intercept)":
            out.append(cut)
            continue
        dropped = name[0] + "".join(c for c in name[1:] if c not in "aeiou")
        out.append(dropped if len(dropped) <= 6 else dropped[:4] + dropped[-2:])
    return out


def _table(rows, right=(), indent: int = 0) -> str:
    """Rows of cells as aligned text: columns in ``right`` aligned right, the others left."""
    right = set(right)
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell.rjust(w) if c in right else cell.ljust(w) for c, (cell, w) in enumerate(zip(row, widths))]
        lines.append((" " * indent + " ".join(cells)).rstrip())
    return "\n".join(lines)
