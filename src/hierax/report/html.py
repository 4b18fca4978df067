"""Assemble the report's sections (see the package docstring)."""

from __future__ import annotations

import base64
import datetime
import html
import io
from pathlib import Path

import numpy as np

from hierax.errors import HieraxError
from hierax.results.io import check_target, write_atomic

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; border-bottom: 1px solid #ccc; padding-bottom: .2rem; }
code { background: #f3f3f3; padding: 0 .2rem; }
table { border-collapse: collapse; font-size: .85rem; margin: .5rem 0 1rem; }
th, td { border: 1px solid #ddd; padding: .2rem .5rem; text-align: right; }
th { background: #f6f6f6; } td:first-child, th:first-child { text-align: left; }
.ok { color: #1a7f37; } .problem { color: #b42318; }
.wide { overflow-x: auto; } figure { margin: 1rem 0; } figure img { max-width: 100%; } figcaption { font-size: .85rem; color: #555; }
"""


def write_report(fit, path, pooling=None, overwrite: bool = False, progress: bool = False) -> Path:
    """Write the report of ``fit`` (a NUTS FitResult or a REML/ML/Laplace MixedFit) to ``path``.

    ``pooling`` (from :func:`hierax.compare_pooling`) adds the pooling comparison. An existing
    file is kept unless ``overwrite``. ``progress`` shows a bar by section: the checks (posterior
    predictive draws, PSIS-LOO) take seconds on a large fit.
    """
    path = Path(path)
    if fit.method == "map":
        raise HieraxError("a report needs posterior draws or a frequentist fit; a posterior mode (method='map') "
                          "has neither: fit with method='nuts' (or 'reml' / 'laplace')")
    check_target(path, overwrite, "report.html")          # before the report's plots are drawn
    parts = [("header", _header), ("model", _model), ("diagnostics", _diagnostics), ("estimates", _estimates),
             ("group effects", _group_effects)]
    if fit.has_draws:
        parts += [("imputed values", _imputed), ("predictive checks", _checks), ("PSIS-LOO", _comparison)]
    if pooling is not None:
        parts.append(("pooling", lambda _: _pooling(pooling)))
    sections = _build(parts, fit, progress)
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>hierax report: "
            f"{html.escape(fit.formula)}</title><style>{STYLE}</style></head><body>"
            + "".join(sections) + "</body></html>")
    _write(path, page)
    return path


def _build(parts, fit, progress: bool) -> list:
    """Each section's HTML, with a bar that names the section being drawn."""
    from tqdm.auto import tqdm

    sections = []
    with tqdm(total=len(parts), desc="report", unit="section", leave=False, disable=None if progress else True) as bar:
        for name, build in parts:
            bar.set_description(f"report: {name}")
            sections.append(build(fit))
            bar.update(1)
    return sections


def _write(path: Path, page: str) -> None:
    """Write through ``NAME.partial``: a failed or interrupted write leaves no half page, keeps the old."""
    write_atomic(path, lambda partial: partial.write_text(page, encoding="utf-8"))


def _header(fit) -> str:
    method = {"nuts": "Bayesian, NUTS", "reml": "REML", "ml": "maximum likelihood",
              "laplace": "maximum likelihood, Laplace approximation"}[fit.method]
    versions = ", ".join(f"{k} {v}" for k, v in fit.versions.items())
    return (f"<h1>hierax report: <code>{html.escape(fit.formula)}</code></h1>"
            f"<p>{fit.family} family, {fit.link} link; {fit.spec.num_obs} observations; {method}. "
            f"Written {datetime.date.today().isoformat()} with {html.escape(versions)}.</p>")


def _model(fit) -> str:
    from hierax.plots import model_graph

    parts = ["<h2>Model</h2>", _figure(model_graph(fit), "The model as a graph of its levels: data, groups, "
                                       "their population distributions and the hyperpriors.")]
    groups = "".join(f"<li>{html.escape(b.group)}: {b.num_levels} levels, effects {html.escape(', '.join(b.terms))}"
                     f" ({'correlated' if b.has_cor else 'independent'})</li>" for b in fit.spec.blocks)
    parts.append(f"<ul>{groups}</ul>")
    if fit.has_draws:
        parts.append("<h3>Priors</h3>" + _table(fit.priors.to_frame(), index=False))
        cfg = fit.config
        kept = fit.idata.posterior.sizes["draw"]
        draws = f"{kept} draws" if kept == cfg.draws else f"{kept} draws (of {cfg.draws} asked: interrupted)"
        parts.append(f"<p>NUTS: {cfg.chains} chains of {draws} after {cfg.warmup} warmup; seed "
                     f"{fit.seed}; target acceptance {fit.adaptation.get('target_accept', cfg.target_accept)}.</p>")
    return "".join(parts)


def _diagnostics(fit) -> str:
    if fit.warnings:
        items = "".join(f"<li class='problem'>{html.escape(w)}</li>" for w in fit.warnings)
        return f"<h2>Diagnostics</h2><ul>{items}</ul>"
    text = ("No divergences, no saturated trees; E-BFMI, R-hat and ESS fine." if fit.has_draws
            else "Converged (exact gradient at the optimum); no variance component at the boundary.")
    return f"<h2>Diagnostics</h2><p class='ok'>{text}</p>"


def _estimates(fit) -> str:
    title = "Posterior summary (estimate = posterior mean)" if fit.has_draws else "Estimates"
    parts = [f"<h2>{title}</h2>", _table(fit.summary())]
    if fit.has_draws:
        from hierax.plots import trace_plot

        parts.append(_figure(trace_plot(fit), "Posterior densities by chain (left) and rank histograms (right): "
                                               "chains that mix give flat, overlapping rank histograms."))
    return "".join(parts)


def _group_effects(fit) -> str:
    from hierax.plots import forest_plot, funnel_plot

    parts = ["<h2>Group effects</h2>"]
    for block in fit.spec.blocks:
        for term in block.terms:
            parts.append(_figure(forest_plot(fit, block.name, term),
                                 f"Each {html.escape(block.group)} level's {html.escape(term)}, with intervals."))
    if fit.has_draws and fit.spec.blocks:
        block = fit.spec.blocks[0]
        counts = np.bincount(block.group_index, minlength=block.num_levels)
        smallest = block.levels[int(np.argmin(counts))]
        parts.append(_figure(funnel_plot(fit, block.name, smallest, block.terms[0]),
                             f"The funnel: the effect of {html.escape(block.group)} {html.escape(smallest)} (its "
                             "fewest rows) against the log of the group sd. Divergent draws, if any, are red."))
    return "".join(parts)


SHOWN_IMPUTED = 40      # rows of each imputed variable's table in the report


def _imputed(fit) -> str:
    """Each variable's imputed values (y | mi(), mi(x)) or estimated true values (me(x, sdx)):
    posterior mean, sd and 90% interval by data row; empty where the fit imputed nothing."""
    from hierax.results import _arviz
    from hierax.results.imputed import IMPUTED

    names = [sub.name for sub in getattr(fit, "submodels", ())]
    tables = {}
    if IMPUTED in _arviz.group(fit.idata, "posterior"):
        response = fit.design_info.formula.response.label
        tables[response] = fit.imputed(response) if names else fit.imputed()
    tables.update({name: fit.imputed(name) for name in names})
    if not tables:
        return ""
    parts = ["<h2>Imputed values</h2><p>Values the data did not record (missing, or measured with error), "
             "drawn with the parameters: each one's posterior mean, sd and 90% interval, by data row.</p>"]
    for name, table in tables.items():
        more = len(table) - SHOWN_IMPUTED
        parts.append(f"<h3>{html.escape(name)}: {len(table)} values</h3>" + _table(table.head(SHOWN_IMPUTED))
                     + (f"<p>{more} more in fit.imputed().</p>" if more > 0 else ""))
    return "".join(parts)


def _checks(fit) -> str:
    from hierax.plots import group_ppc_plot, ppc_plot

    try:
        replicated = fit.posterior_predictive(seed=fit.seed)
    except HieraxError as error:            # models whose replicated data are not available yet say why
        return f"<h2>Posterior predictive checks</h2><p class='problem'>{html.escape(str(error))}</p>"
    parts = ["<h2>Posterior predictive checks</h2>",
             _figure(ppc_plot(fit, replicated), "The observed response against data sets drawn from the fitted model.")]
    for block in fit.spec.blocks[:2]:
        parts.append(_figure(group_ppc_plot(fit, replicated, block.name),
                             f"Observed mean of each {html.escape(block.group)} level against the range the "
                             "model predicts for it."))
    return "".join(parts)


def _comparison(fit) -> str:
    from hierax.workflow.compare import loo

    result = loo(fit)
    items = "".join(f"<li class='problem'>{html.escape(w)}</li>" for w in result.warnings)
    return (f"<h2>Predictive accuracy (PSIS-LOO)</h2><p>{html.escape(str(result).splitlines()[0])}</p>"
            + (f"<ul>{items}</ul>" if items else "<p class='ok'>All Pareto k values are fine.</p>"))


def _pooling(pooling) -> str:
    table = pooling.table.sort_values("n")
    shown = table.head(8) if len(table) <= 12 else table.iloc[list(range(6)) + list(range(len(table) - 4, len(table)))]
    return ("<h2>Pooling, side by side</h2>"
            f"<p>Partial pooling here is the fit of <code>{html.escape(pooling.partial.formula)}</code>. "
            f"Each {html.escape(pooling.group)} level's intercept with complete, no and partial pooling; "
            f"partial pooling pulls levels toward the population mean {pooling.population_mean:.3g}, the more "
            "the fewer their rows (smallest and largest levels shown).</p>"
            + _table(shown.set_index("level")[["n", "no_pooling", "partial_pooling", "partial_pooling_lower",
                                                 "partial_pooling_upper", "complete_pooling", "shrinkage"]])
            + _figure(pooling.plot(), "No-pooling against partial-pooling estimates, sized by rows."))


def _table(frame, index: bool = True) -> str:
    shown = frame.copy()
    for column in ("ess_bulk", "ess_tail"):
        if column in shown:
            shown[column] = shown[column].round(0).astype("Int64")
    table = shown.to_html(index=index, float_format=lambda v: f"{v:.3f}", na_rep="", border=0)
    return f"<div class='wide'>{table}</div>"


def _figure(fig, caption: str) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"
            f"<figcaption>{caption}</figcaption></figure>")
