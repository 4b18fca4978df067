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

import hashlib
import pickle
from concurrent.futures import as_completed
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from hierax.errors import HieraxError


@dataclass(frozen=True)
class LogoResult:
    """``table``: one row per left-out level (``n`` rows, ``elpd``, ``divergent``); ``elpd`` and
    ``se`` the sum over levels and its standard error (sqrt(G) sd of the per-level terms)."""

    table: pd.DataFrame
    elpd: float
    se: float
    group: str


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
    payload = _Payload(model.formula, model.data, model.family, model.link, model.spec_priors(), block.name,
                       chains, warmup, draws)
    rng = np.random.default_rng(seed)
    seeds = rng.integers(0, 2**31 - 1, size=len(chosen))
    from hierax.workflow.sbc import _progress

    if executor is None:
        results = [run_fold(payload, level, int(s)) for level, s in _progress(list(zip(chosen, seeds)), progress)]
    else:
        futures = [executor.submit(run_fold, payload, level, int(s)) for level, s in zip(chosen, seeds)]
        for _ in _progress(as_completed(futures), progress, total=len(futures)):
            pass
        results = [f.result() for f in futures]
    table = pd.DataFrame(results, columns=["level", "n", "elpd", "divergent"]).set_index("level")
    return LogoResult(table, float(table["elpd"].sum()), float(np.sqrt(len(table)) * table["elpd"].std(ddof=1)),
                      block.group)


@dataclass(frozen=True)
class _Payload:
    formula: str
    data: pd.DataFrame
    family: str
    link: str | None
    priors: dict
    block: str
    chains: int
    warmup: int
    draws: int

    def key(self) -> str:
        return hashlib.sha256(pickle.dumps(self)).hexdigest()


_REFITTERS: dict = {}


def run_fold(payload: _Payload, level: str, seed: int):
    """One fold: (level, rows, elpd of its rows, divergent transitions). Runs in a worker."""
    key = payload.key()
    if key not in _REFITTERS:
        _REFITTERS.clear()
        _REFITTERS[key] = _Refitter(payload)
    return _REFITTERS[key].run(level, seed)


class _Refitter:
    """The compiled sampler with per-row weights as runtime data, and the pointwise log-likelihood."""

    def __init__(self, payload: _Payload):
        import jax

        from hierax.config import nuts_config
        from hierax.density import initial_position, make_constrain, make_logdensity, make_pointwise_loglik
        from hierax.density.centering import make_retune
        from hierax.density.logdensity import default_centering
        from hierax.workflow.sbc import _retune_with_data
        from hierax.workflow.simulate import model as make_model

        spec = make_model(payload.formula, payload.data, payload.family, payload.link, payload.priors).spec
        self.spec = spec
        self.block = next(b for b in spec.blocks if b.name == payload.block)
        self.config = nuts_config(payload.chains, payload.warmup, payload.draws, None, 10)
        density = make_logdensity(spec)
        self.logdensity = lambda position, aux: density(position, aux["centring"], aux["data"])
        retune = make_retune(spec)
        self.retune = None if retune is None else _retune_with_data(retune)
        self.centring = default_centering(spec)
        self.initial = jax.jit(jax.vmap(lambda k: initial_position(k, spec)))
        constrain, loglik = make_constrain(spec), make_pointwise_loglik(spec)
        self.loglik = jax.jit(jax.vmap(jax.vmap(lambda p, c: loglik(constrain(p, c)[0]), in_axes=(0, None)),
                                       in_axes=(0, None)))

    def run(self, level: str, seed: int):
        import jax
        import jax.numpy as jnp

        from hierax.engines import sample_nuts

        held_out = self.block.group_index == self.block.levels.index(level)
        weight = jnp.asarray((~held_out).astype(float))
        init_key, run_key = jax.random.split(jax.random.PRNGKey(seed))
        aux = {"centring": self.centring, "data": {"weight": weight}}
        output = sample_nuts(run_key, self.logdensity, self.initial(jax.random.split(init_key, self.config.chains)),
                             self.config, None, aux=aux, retune=self.retune)
        pointwise = np.asarray(jax.device_get(self.loglik(output.positions, output.aux["centring"])))
        per_draw = pointwise[..., held_out].sum(axis=-1).ravel()
        elpd = float(logsumexp(per_draw) - np.log(per_draw.size))
        return level, int(held_out.sum()), elpd, int(np.sum(output.diverging))
