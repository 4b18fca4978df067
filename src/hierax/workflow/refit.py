"""Many fits of one model, one compilation: the machinery under SBC and leave-one-group-out.

A :class:`RefitSpec` is all a worker process needs to rebuild a model (picklable: formula, data,
family, priors, NUTS settings). :class:`CompiledSampler` builds the model's log density with the
response and per-row weights as runtime arguments, so the sampler compiled for the first fit
serves every later one (the engine keeps its compiled steps per density function). Workers keep
one of each per model in :func:`worker_cached`.
"""

from __future__ import annotations

import hashlib
import pickle
from concurrent.futures import as_completed
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class RefitSpec:
    formula: str
    data: pd.DataFrame
    family: str
    link: str | None
    priors: dict
    chains: int
    warmup: int
    draws: int

    def key(self) -> str:
        return hashlib.sha256(pickle.dumps(self)).hexdigest()

    def model(self, priors: dict | None = None):
        """The model, with ``priors`` (if given) replacing some of its priors."""
        from hierax.workflow.simulate import model

        return model(self.formula, self.data, self.family, self.link, {**self.priors, **(priors or {})})


class CompiledSampler:
    """NUTS for one ModelSpec; ``sample(rng_key, data)`` with ``data`` holding ``y`` and/or
    ``weight`` (see :func:`hierax.density.make_logdensity`)."""

    def __init__(self, spec, chains: int, warmup: int, draws: int):
        import jax

        from hierax.config import nuts_config
        from hierax.density import initial_position, make_constrain, make_logdensity
        from hierax.density.centering import make_retune
        from hierax.density.logdensity import default_centering

        self.spec = spec
        self.config = nuts_config(chains, warmup, draws, None, 10)
        density = make_logdensity(spec)
        self.logdensity = lambda position, aux: density(position, aux["centring"], aux["data"])
        retune = make_retune(spec)
        self.retune = None if retune is None else _retune_with_data(retune)
        self.centring = default_centering(spec)
        self.initial = jax.jit(jax.vmap(lambda k: initial_position(k, spec)))
        constrain = make_constrain(spec)
        self.constrain = jax.jit(jax.vmap(jax.vmap(lambda p, c: constrain(p, c)[0], in_axes=(0, None)),
                                          in_axes=(0, None)))

    def sample(self, rng_key, data: dict):
        """The engine's output (positions with a chain and a draw axis; ``aux["centring"]`` the
        weights the draws were made under)."""
        import jax

        from hierax.engines import sample_nuts

        init_key, run_key = jax.random.split(rng_key)
        aux = {"centring": self.centring, "data": data}
        return sample_nuts(run_key, self.logdensity, self.initial(jax.random.split(init_key, self.config.chains)),
                           self.config, None, aux=aux, retune=self.retune)

    def params(self, output):
        """Constrained parameters of every draw, as numpy arrays (chain, draw, ...)."""
        import jax

        return jax.device_get(self.constrain(output.positions, output.aux["centring"]))


def _retune_with_data(retune):
    def wrapped(positions, inverse_mass_matrix, aux):
        positions, inverse_mass_matrix, centring = retune(positions, inverse_mass_matrix, aux["centring"])
        return positions, inverse_mass_matrix, {"centring": centring, "data": aux["data"]}

    return wrapped


_CACHE: dict = {}


def worker_cached(build, *key):
    """``build()``'s result, kept in this process for later calls with the same ``key`` (the
    last one only: a worker serves one model at a time)."""
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = build()
    return _CACHE[key]


def fan_out(function, arguments: list, executor, progress: bool, label: str) -> list:
    """``function(*a)`` for each ``a`` here in turn, or over ``executor``; results in order."""
    from tqdm.auto import tqdm

    bar = dict(desc=label, unit="fit", disable=None if progress else True, leave=False)
    if executor is None:
        return [function(*a) for a in tqdm(arguments, **bar)]
    futures = [executor.submit(function, *a) for a in arguments]
    for _ in tqdm(as_completed(futures), total=len(futures), **bar):
        pass
    return [f.result() for f in futures]
