"""Leave-one-group-out cross-validation by exact refits: how well the model predicts a new group.

PSIS-LOO answers "a new observation of a known group"; a question about new groups (a new
county, a new school) needs each group left out in turn. For each level g, the model is refitted
with the rows of g given weight 0 (the same compiled sampler serves every fold: the weights are a
runtime argument of the log density), and the held-out rows are scored by

    elpd_g = log (1/S) sum_s prod_{i in g} p(y_i | theta_s),

where theta_s includes draws of g's own effects, which without its data are draws from the fitted
population distribution: exactly a new group's prediction. The sum over groups is elpd_logo.
Folds fan out over any ``concurrent.futures.Executor``, as :func:`hierax.sbc` does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from hierax.errors import HieraxError
from hierax.engines.keys import seed_key, split_keys
from hierax.workflow.refit import RefitSpec, compiled_sampler, fan_out, worker_cached


@dataclass(frozen=True)
class LogoResult:
    """``table``: one row per left-out level (``n`` rows, ``elpd``, ``divergent``); ``elpd`` and
    ``se`` the sum over levels and its standard error (sqrt(G) sd of the per-level terms)."""

    table: pd.DataFrame
    elpd: float
    se: float
    group: str

    def __repr__(self) -> str:
        return (f"LogoResult(leave-one-{self.group}-out over {len(self.table)} levels: elpd {self.elpd:.1f} "
                f"(se {self.se:.1f}); per level in .table)")


class FoldsFailed(HieraxError):
    """Some folds of :func:`logo` failed: ``finished`` holds the table of those that did not."""

    def __init__(self, message: str, finished: pd.DataFrame):
        super().__init__(message)
        self.finished = finished


def logo(model, group: str | None = None, levels=None, chains: int = 2, warmup: int = 500, draws: int = 500,
         seed: int = 0, executor=None, progress: bool = True) -> LogoResult:
    """Leave each level of ``group`` (default: the first group term's) out in turn, refit, score it.

    ``model`` comes from :func:`hierax.model`; ``levels`` limits the folds to some levels.
    """
    spec = model.spec
    block = spec.find_block(group)
    chosen = list(block.levels) if levels is None else [str(v) for v in levels]
    unknown = [v for v in chosen if v not in block.levels]
    if unknown:
        raise HieraxError(f"levels {unknown[:5]} are not levels of {block.group!r}")
    refit = RefitSpec(model.formula, model.data, model.family, model.link, model.spec_priors(), chains, warmup, draws)
    seeds = np.random.default_rng(seed).integers(0, 2**31 - 1, size=len(chosen))
    arguments = [(refit, block.name, level, int(s)) for level, s in zip(chosen, seeds)]
    fanned = fan_out(run_fold, arguments, executor, progress, "leave one group out")
    table = pd.DataFrame(fanned.results, columns=["level", "n", "elpd", "divergent"]).set_index("level")
    if fanned.failed:      # a sum over some of the folds is not the elpd: refuse it, keep what finished
        failed = "; ".join(f"{chosen[k]!r}: {error}" for k, error in fanned.failed[:3])
        raise FoldsFailed(f"leave one group out: {len(fanned.failed)} of {len(chosen)} folds failed ({failed}), so "
                          "there is no total elpd; the folds that finished are in this error's .finished table; "
                          "fix the cause and rerun those levels (levels=...)", table)
    return LogoResult(table, float(table["elpd"].sum()), float(np.sqrt(len(table)) * table["elpd"].std(ddof=1)),
                      block.group)


def run_fold(refit: RefitSpec, block: str, level: str, seed: int):
    """One fold: (level, rows, elpd of its rows, divergent transitions). Runs in a worker, which
    keeps the compiled sampler for the next fold."""
    return worker_cached(lambda: _Refitter(refit, block), "logo", refit.key(), block).run(level, seed)


class _Refitter:
    """The sampler, with the held-out rows weighted 0, and the pointwise log-likelihood."""

    def __init__(self, refit: RefitSpec, block: str):
        import jax

        from hierax.density import make_pointwise_loglik

        spec = refit.model().spec
        self.sampler = compiled_sampler(spec, refit.chains, refit.warmup, refit.draws)
        self.block = spec.find_block(block)
        self.loglik = jax.jit(jax.vmap(jax.vmap(make_pointwise_loglik(spec))))

    def run(self, level: str, seed: int):
        import jax
        import jax.numpy as jnp

        held_out = self.block.group_index == self.block.levels.index(level)
        sample_key, effects_key = split_keys(seed_key(seed), 2)
        output = self.sampler.sample(sample_key, {"weight": jnp.asarray((~held_out).astype(float))})
        pointwise = np.asarray(jax.device_get(self.loglik(self.sampler.params(output, effects_key))))
        per_draw = pointwise[..., held_out].sum(axis=-1).ravel()
        elpd = float(logsumexp(per_draw) - np.log(per_draw.size))
        return level, int(held_out.sum()), elpd, int(np.sum(output.diverging))
