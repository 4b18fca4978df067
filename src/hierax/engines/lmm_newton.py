"""Few evaluations from a good start: Newton steps on the profiled deviance of a large model.

A ratings-sized crossed model costs seconds an evaluation (a dense Cholesky factorisation and an
inverse of its Schur complement), and its deviance is a sum over a million rows: around the
optimum its value carries rounding noise of about 1e-7 (1e-13 relative), while its exact gradient
is good to about 1e-6. A line search on values alone (L-BFGS-B's) cannot tell steps apart
there and spends a dozen evaluations on the last digits; its first step, of unit length, also
throws away a good start. So, from the start that ``hierax.engines.lmm_start`` gives:

1. the Hessian by forward differences of the exact gradient (one evaluation per theta), or, where
   a function of the value alone is given and theta has at most ``VALUE_HESSIAN_UP_TO`` entries,
   by forward differences of values beside the gradient at the start (n(n + 1) / 2 values: on
   ml-1m's shape, one thread, a value costs 0.3-0.55 s where a value and gradient cost 1.2 s);
2. Newton steps, the Hessian updated by BFGS from the gradients after each, a step halved while
   it raises the deviance beyond its rounding noise;
3. stop when the Newton decrement g' H^-1 g / 2, the predicted distance to the minimum, is below
   ``DECREMENT`` (1e-8 in deviance units), at least one Newton step after the start.

On the synthetic ml-1m this takes seven evaluations, three of them values alone, where L-BFGS-B
took twelve. Where the Hessian
is not positive definite or a step cannot be made, it returns None and the caller falls back to
L-BFGS-B. The deviance depends on each column of a factor T_k only through T_k T_k', so a step
that makes a diagonal entry negative is harmless; the answer is returned with the columns'
signs flipped to make the diagonals non-negative (lme4's convention).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

DECREMENT = 1e-8        # stop when the predicted decrease to the minimum is below this (deviance units)
NOISE = 1e-11           # a step may raise the deviance by this, relative, and still be taken (rounding)
MOST_STEPS = 30
MOST_HALVINGS = 12
VALUE_HESSIAN_UP_TO = 2  # thetas; beyond, n(n + 1) / 2 values cost about as much as n gradients
VALUE_STEP = 1e-3        # the relative step of the values' differences (``_hessian_from_values``)


class NewtonResult(NamedTuple):
    """The fields of ``scipy.optimize.OptimizeResult`` that the LMM fit reads."""

    x: np.ndarray
    fun: float
    jac: np.ndarray
    nfev: int
    nit: int
    message: str
    decrement: float


def minimise(fun, theta0: np.ndarray, entries, value=None, slow=()) -> NewtonResult | None:
    """Newton's method with a finite-difference start Hessian and BFGS updates; None on failure.

    ``fun(theta) -> (value, gradient)``; ``entries`` the (block, row, column) of each theta;
    ``value(theta) -> value``, optional: the value alone, cheaper than ``fun`` (see step 1);
    ``slow``: the thetas whose change costs ``value`` the most, stepped last (``_hessian_from_values``).
    """
    theta = np.asarray(theta0, float)
    start_value, grad = fun(theta)
    if not np.isfinite(start_value):
        return None
    H, evaluations = None, 1
    if value is not None and len(theta) <= VALUE_HESSIAN_UP_TO:
        H = _hessian_from_values(value, theta, start_value, grad, slow)
        evaluations += len(theta) * (len(theta) + 1) // 2
    if H is None:
        H = _hessian(fun, theta, grad)
        evaluations += len(theta)
    if H is None:
        return None
    value = start_value
    for step_number in range(1, MOST_STEPS + 1):
        step = -np.linalg.solve(H, grad)
        new_theta, new_value, new_grad, tries = _damped(fun, theta, value, step)
        evaluations += tries
        if new_theta is None:
            return None
        H = _bfgs(H, new_theta - theta, new_grad - grad)
        theta, value, grad = new_theta, new_value, new_grad
        decrement = 0.5 * float(grad @ np.linalg.solve(H, grad))
        if decrement < DECREMENT:
            return NewtonResult(_positive_diagonals(theta, entries), value, _signed(grad, theta, entries),
                                evaluations, step_number, "Newton decrement below tolerance", decrement)
    return None


def _hessian(fun, theta, grad):
    """Forward differences of the exact gradient, symmetrised; None unless positive definite."""
    n = len(theta)
    H = np.empty((n, n))
    for i in range(n):
        h = 1e-6 * max(abs(theta[i]), 0.1)
        shifted = theta.copy()
        shifted[i] += h
        H[:, i] = (fun(shifted)[1] - grad) / h
    H = 0.5 * (H + H.T)
    if not np.all(np.isfinite(H)) or np.min(np.linalg.eigvalsh(H)) <= 0.0:
        return None
    return H


def _hessian_from_values(value, theta, f, grad, slow=()):
    """The Hessian from values beside the exact gradient g at theta, steps h_i = ``VALUE_STEP``
    max(|theta_i|, 0.1):

        H_ii = 2 [f(theta + h_i e_i) - f - h_i g_i] / h_i^2,
        H_ij = [f(theta + h_i e_i + h_j e_j) - f - h_i g_i - h_j g_j - (H_ii h_i^2 + H_jj h_j^2) / 2] / (h_i h_j).

    Their error is about h times the third derivative (from the cubic terms; 1e-3 relative) and
    eps / h^2 from the values' rounding (eps about 1e-13 |f|, 3e-7 on ml-1m's 2.6e6: an error of
    0.3 to 30 in H for h from 1e-3 to 1e-4, against curvatures of 1e4 and more there). Newton's
    steps need no better, and BFGS refines H from the exact gradients after each. None unless finite and positive definite (the caller then
    differences gradients).

    The steps in the ``slow`` thetas come last, each followed by its cross terms: ``wide`` keeps the
    last middle terms, which depend on the first block's theta only, so the other steps reuse the
    start's and a cross term the step's before it (on ml-1m's shape 0.5 s a value, against 0.9).
    """
    n = len(theta)
    h = VALUE_STEP * np.maximum(np.abs(theta), 0.1)

    def rise(*axes):                                      # f(theta + sum h_i e_i) - f - sum h_i g_i
        shifted = theta.copy()
        for i in axes:
            shifted[i] += h[i]
        return value(shifted) - f - sum(h[i] * grad[i] for i in axes)

    H = np.empty((n, n))
    order = [i for i in range(n) if i not in slow] + [i for i in range(n) if i in slow]
    for position, i in enumerate(order):
        H[i, i] = 2.0 * rise(i) / h[i] ** 2
        for j in order[:position]:
            H[i, j] = H[j, i] = (rise(i, j) - 0.5 * (H[i, i] * h[i] ** 2 + H[j, j] * h[j] ** 2)) / (h[i] * h[j])
    if not np.all(np.isfinite(H)) or np.min(np.linalg.eigvalsh(H)) <= 0.0:
        return None
    return H


def _damped(fun, theta, value, step):
    """theta + step, halved while it raises the deviance beyond rounding noise."""
    for tries in range(1, MOST_HALVINGS + 1):
        new_theta = theta + step
        new_value, new_grad = fun(new_theta)
        if np.isfinite(new_value) and new_value <= value + NOISE * max(1.0, abs(value)):
            return new_theta, new_value, np.asarray(new_grad, float), tries
        step = 0.5 * step
    return None, None, None, MOST_HALVINGS


def _bfgs(H, s, y):
    """The BFGS update of the Hessian approximation (skipped unless the curvature s'y is positive)."""
    sy = float(s @ y)
    if sy <= 1e-12 * float(np.linalg.norm(s) * np.linalg.norm(y)):
        return H
    Hs = H @ s
    return H - np.outer(Hs, Hs) / float(s @ Hs) + np.outer(y, y) / sy


def _column_signs(theta, entries) -> np.ndarray:
    """-1 for every entry in a column of T_k whose diagonal entry is negative, else 1."""
    negative = {(k, j) for t, (k, i, j) in enumerate(entries) if i == j and theta[t] < 0}
    return np.array([-1.0 if (k, j) in negative else 1.0 for k, i, j in entries])


def _positive_diagonals(theta, entries) -> np.ndarray:
    return theta * _column_signs(theta, entries)


def _signed(grad, theta, entries) -> np.ndarray:
    """The gradient at the sign-flipped theta (flipping a column flips its entries' gradients)."""
    return np.asarray(grad, float) * _column_signs(theta, entries)
