"""Checks of a model as a whole, before anything is fitted: what the data cannot identify.

A model that the data cannot identify still "fits": REML splits a variance between two
parameters that only their sum informs, NUTS returns the prior. Both are silent wrong answers,
so the model is refused here with the reason and the fix, as lme4 refuses it.
"""

from __future__ import annotations

import warnings

import numpy as np

from hierax.errors import DataError, ModelError


def check_identifiable(design, family) -> None:
    """Refuse a model whose parameters the data cannot tell apart; warn on a likely wrong family.

    Raises
    ------
    DataError
        se() values that are not positive and finite.
    ModelError
        A residual sd beside a grouping factor with as many effects as observations.
    """
    if design.se is not None:
        _check_se(design.se)
    if design.weights is not None:
        _check_weights(design.weights)
    if family.location and design.se is None:          # a residual scale beside the group effects
        for block in design.random:
            check_block_against_residual(block, design.num_obs)
    if family.location:
        _check_response_varies(design)
        _warn_two_valued(design)


def _check_response_varies(design) -> None:
    """A constant response has no variance to split: REML meets log(0), NUTS wanders at tree depth."""
    y = design.y if design.offset is None else design.y - design.offset
    if len(y):
        refuse_constant_response(float(np.min(y)), float(np.max(y)), design.response_name, design.offset is not None)


def refuse_constant_response(low: float, high: float, name: str, has_offset: bool) -> None:
    """The check of :func:`_check_response_varies` from the response's least and greatest values
    (less the offset), as out-of-core data give them (``hierax.model.summarised``)."""
    if high - low <= 1e-12 * max(abs(low), abs(high)):
        what = "the response less the offset" if has_offset else "the response"
        raise DataError(f"{what} is constant ({name!r}: every value is {low:.6g}): there is no "
                        "variation to model; check that the formula names the right response column")


def _check_se(se: np.ndarray) -> None:
    _refuse_rows(~np.isfinite(se) | (se <= 0), se, "se() must give a positive, finite standard error for every row",
                 "Fix or drop those rows: a zero or negative standard error is no measurement error model")


def _check_weights(weights: np.ndarray) -> None:
    _refuse_rows(~np.isfinite(weights) | (weights < 0), weights, "weights() must be finite and >= 0 in every row",
                 "Fix or drop those rows (a weight of 0 leaves a row out)")
    if not weights.any():
        raise DataError("every weight in weights() is 0, which leaves no data to fit; check the weights column")


def _refuse_rows(bad: np.ndarray, values: np.ndarray, rule: str, fix: str) -> None:
    """A DataError stating ``rule``, the rows that break it (up to five, with their values) and ``fix``."""
    if bad.any():
        rows = np.flatnonzero(bad)
        raise DataError(f"{rule}; {bad.sum()} row(s) do not (rows {rows[:5].tolist()}{'...' if len(rows) > 5 else ''}, "
                        f"values {values[rows[:5]].tolist()}). {fix}")


def check_block_against_residual(block, num_obs: int) -> None:
    """lme4's checks nobs.vs.nlev and nobs.vs.nRE: with one observation per effect, a group's
    variance and the residual variance enter the likelihood only through their sum."""
    effects = block.num_levels * block.num_terms
    if block.num_levels < num_obs and effects < num_obs:
        return
    raise ModelError(
        f"the group term for {block.name!r} has {effects} varying effects ({block.num_levels} levels) for "
        f"{num_obs} observations, so its sd cannot be told apart from the residual sd sigma: only their "
        "sum of squares is identified (lme4 refuses this model too). Drop the term, group by a coarser factor, "
        "or, where the residual variance is known, give it with 'y | se(s) ~ ...'; in a poisson or binomial "
        "model such an observation-level effect is valid (it models overdispersion)")


def _warn_two_valued(design) -> None:
    warn_two_valued(np.unique(design.y), design.response_name)


def warn_two_valued(values, name: str) -> None:
    """Warn where the response's distinct ``values`` (all, or the first three) are two."""
    if values.size == 2:
        warnings.warn(
            f"the response {name!r} takes only two values ({values[0]:g} and {values[1]:g}); "
            "a gaussian model treats them as numbers on a line. For a binary outcome use family='bernoulli'",
            UserWarning, stacklevel=4)
