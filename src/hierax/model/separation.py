"""Separation in binary and binomial models: when the maximum likelihood estimate does not exist.

If some combination of the fixed-effect columns splits the successes from the failures, the
likelihood keeps rising as that combination's coefficients grow: the optimiser of a Laplace (or
any maximum likelihood) fit runs off to infinity and returns NaN or huge estimates with
meaningless standard errors. Following Konis (2007, R's ``detectseparation``), a linear programme
finds such a direction: with s_i = +1 for rows that are all successes and -1 for rows that are all
failures, look for beta with s_i x_i' beta >= 0 for those rows, x_i' beta = 0 for rows with both
(a binomial row is a success row and a failure row at once), and sum_i s_i x_i' beta > 0. Box bounds keep the programme bounded; a positive optimum means separation.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

from hierax.errors import ModelError

SEPARATION_TOLERANCE = 1e-7


def separating_direction(X: np.ndarray, y: np.ndarray, trials: np.ndarray | None) -> np.ndarray | None:
    """A direction beta along which the likelihood rises without bound, or None if there is none."""
    trials = np.ones_like(y) if trials is None else trials
    sign = np.where(y >= trials, 1.0, 0.0) - np.where(y <= 0, 1.0, 0.0)
    rows = sign != 0
    if not rows.any() or X.shape[1] == 0:
        return None
    scale = np.sqrt(np.mean(np.square(X), axis=0))
    scaled = X / np.where(scale > 0, scale, 1.0)
    A = sign[rows, None] * scaled[rows]
    mixed = scaled[~rows] if (~rows).any() else None
    result = linprog(-A.sum(axis=0), A_ub=-A, b_ub=np.zeros(len(A)), A_eq=mixed,
                     b_eq=None if mixed is None else np.zeros(len(mixed)), bounds=[(-1.0, 1.0)] * X.shape[1],
                     method="highs")
    if result.status != 0 or -result.fun <= SEPARATION_TOLERANCE * len(A):
        return None
    return np.asarray(result.x)


def check_separation(spec) -> None:
    """Refuse a maximum likelihood fit of a bernoulli/binomial model whose fixed effects separate the data.

    Raises
    ------
    ModelError
        Naming the columns of the separating direction and the fixes.
    """
    if not spec.family.separable:
        return
    direction = separating_direction(spec.X, spec.y, spec.trials)
    if direction is None:
        return
    involved = [name for name, value in zip(spec.fixed_names, direction) if abs(value) > 1e-6]
    raise ModelError(
        f"the fixed effects {', '.join(repr(n) for n in involved)} separate the outcomes perfectly (every row on one "
        "side is a success, every row on the other a failure), so the maximum likelihood estimate is infinite and "
        "method='laplace' cannot give one. Fit with method='nuts', whose priors keep the estimates finite "
        "(brms and rstanarm do the same), or merge the categories that hold only one outcome")
