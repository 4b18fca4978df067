"""The profiled REML/ML deviance and its exact gradient for ratings-sized crossed models, on the host.

The same objective as ``hierax.engines.profiled`` (read its docstring for the derivation), built
from ``hierax.linalg.wide``'s pieces: the first block eliminated per level, the tail matrix
B = C_TT - C_T1 blockdiag(M_l) C_1T with its middle term formed at each evaluation, and the
Cholesky factor L of S = Lambda~' B Lambda~ + diag(I_Q2, 0). Then

    D(theta) = sum_l log|A11_l| + sum_i w_i log L_ii^2 + constant,
    dD/dS   = L^-T diag(w) L^-1 = G_S   (dpotri over the Q2 x Q2 block, p + 1 solves for the rest).

What differs is the way back to the first block's theta. ``profiled`` gathers G_B = Lambda~ G_S
Lambda~' at the listed products; here there is no list, so for each first-block entry e of theta
the derivative of the middle term, C21 blockdiag(dM_l/d theta_e) C12, is formed the way the
middle term itself is (one more product of the same cost; one for a scalar first block) and
contracted with G_B:

    dD/d theta_e = sum_l [tr(A11_l^-1 dA11_l) + tr(Mbar_l dM_l)] - <G_B22, C21 blockdiag(dM_l) C12>,

where Mbar_l, the rest of dD/dM_l, comes from the first block's rows of [X y] (small). The
per-level derivatives are written out: with dT = E (the unit matrix at the entry),
dA = E' D T + T' D E and dM = E A^-1 T' + T A^-1 E' - T A^-1 dA A^-1 T'.

Where every block is scalar (ratings: users and items) neither the inverse nor the derivative's
middle term is formed: the gradient needs only K = L22^-1 (``_scalar_gradient``). On ml-1m's shape,
one thread, that replaces dpotri and a second middle term (0.62 + 0.26 s an evaluation) by dtrtri
and the levels' quadratic forms in K (0.35 + 0.22 s).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from hierax.engines.profiled import _weights
from hierax.linalg import triangular, wide
from hierax.linalg.pls import Shape

_LOG_2PI = float(np.log(2.0 * np.pi))
# (2 / t_k) (L_k - sum of G_S's diagonal) loses about eps L_k / |t_k| to cancellation: 1e-10
# relative at t_k = 1e-4 (900 x 500 levels), 1% at 1e-8; below this the general route serves
SCALAR_ROUTE_ABOVE = 1e-4


def deviance_and_gradient(theta, data: wide.WideData, shape: Shape, reml: bool, known_scale: bool = False):
    """The REML criterion (or -2 log likelihood) at theta and its exact gradient, as NumPy.

    ``known_scale`` as in ``hierax.engines.profiled.deviance_and_gradient``. Where the tail is not
    positive definite (theta far outside the data's support) the value is NaN, as there.
    """
    theta = np.asarray(theta, float)
    P = wide.pieces(theta, data, shape)
    if not P.ok:
        return float("nan"), np.full(len(theta), np.nan)
    Q2 = shape.rest_width
    value, w = _value(P, shape, reml, known_scale)
    if _all_scalar(P, shape):
        return value, _scalar_gradient(P, w, data, shape)
    G_S = _log_diagonal_cotangent(P.L, w, Q2)
    Y = wide.scale_left(G_S.T, P.scale, P.Ts, shape, transpose=False).T      # G_S Lambda~'
    G_B = wide.scale_left(Y, P.scale, P.Ts, shape, transpose=False)         # Lambda~ G_S Lambda~'
    T_bar = [None] + _rest_factor_gradients(Y, P.B, shape)
    grad = np.zeros(len(theta))
    first = shape.order[0]
    Mbar = _first_block_cotangent(G_B[:, Q2:], P, data, shape)
    for t, (k, i, j) in enumerate(shape.entries):
        if k == first:
            grad[t] = _first_entry_gradient(i, j, P, Mbar, G_B[:Q2, :Q2], data, shape)
        else:
            grad[t] = T_bar[shape.order.index(k)][i, j]
    return value, grad


def _all_scalar(P: wide.Pieces, shape: Shape) -> bool:
    """Every block scalar (ratings' users and items), none of the later ones' relative sds below
    ``SCALAR_ROUTE_ABOVE``: the case of ``_scalar_gradient``."""
    return (shape.terms[0] == 1 and P.scale is not None and shape.rest_width > 0
            and bool(np.all(np.abs(P.scale[:shape.rest_width]) >= SCALAR_ROUTE_ABOVE)))


def _scalar_gradient(P: wide.Pieces, w, data: wide.WideData, shape: Shape) -> np.ndarray:
    """The gradient where every block is scalar, from K = L22^-1 (no inverse of S22, no
    derivative's middle term).

    With G_S = L^-T diag(w) L^-1 and S = Lambda~' B Lambda~ + diag(I_Q2, 0) = L L':

    * a later block k with relative sd t_k: G_S S = L^-T diag(w) L' has diagonal w (1 over the
      first Q2 rows), and t_k B[a, s] Lambda~_s = (S - diag(I, 0))[a, s] on k's rows a, so
      ``_rest_factor_gradients``' 2 sum_a [G_S Lambda~ B']_aa is (2 / t_k) (L_k - sum_a G_S[a, a]);
    * the first block: <G_B22, C21 diag(dM) C12> = sum_l dM_l c~_l' G_S22 c~_l, c~_l = Lambda_2 c_l,
      and G_S22 = K'K + Y22 diag(w_T) Y22' (Y = L^-T [0; I], p + 1 columns), so each level's form
      is ||K c~_l||^2 (``hierax.linalg.triangular``) plus p + 1 squares.

    G_S's diagonal over the first Q2 rows is K's column sums of squares plus Y22's share.
    """
    Q2, m = shape.rest_width, P.L.shape[0]
    E = np.zeros((m, m - Q2))
    E[np.arange(Q2, m), np.arange(m - Q2)] = 1.0
    Y = scipy.linalg.solve_triangular(P.L, E, lower=True, trans=1)
    G_T = (Y * w[Q2:]) @ Y[Q2:].T                                    # G_S[:, Q2:]
    K, info = scipy.linalg.lapack.dtrtri(P.L[:Q2, :Q2], lower=1)
    if info != 0:                  # not after dpotrf succeeded (its diagonal is positive)
        raise np.linalg.LinAlgError("the Cholesky factor of the Schur complement is singular")
    Y2 = Y[:Q2] * P.scale[:Q2, None]                                 # Lambda_2 Y22
    diagonal = _lower_column_squares(K) + (Y[:Q2] ** 2) @ w[Q2:]
    Mbar = _first_block_cotangent(P.scale[:, None] * G_T, P, data, shape)
    forms = _level_forms(K, P.scale[:Q2], data) + (data.cross.C21.T @ Y2) ** 2 @ w[Q2:]
    grad, start = np.zeros(shape.num_theta), 0
    for t, (k, _, _) in enumerate(shape.entries):
        if k == shape.order[0]:
            local, dM = _first_entry_parts(0, 0, P, Mbar, data)
            grad[t] = local - float(dM[:, 0, 0] @ forms)
    for position in range(1, len(shape.order)):
        levels = shape.levels[position]
        t_k = P.scale[start]
        t = [t for t, (k, _, _) in enumerate(shape.entries) if k == shape.order[position]][0]
        grad[t] = 2.0 / t_k * (levels - float(np.sum(diagonal[start:start + levels])))
        start += levels
    return grad


def _lower_column_squares(K: np.ndarray, tile: int = 512) -> np.ndarray:
    """Column sums of squares of K's lower triangle (dtrtri leaves the upper as it found it),
    a tile of columns at a time (no full-size temporary)."""
    out = np.empty(K.shape[0])
    for j0 in range(0, K.shape[0], tile):
        j1 = min(j0 + tile, K.shape[0])
        corner, below = np.tril(K[j0:j1, j0:j1]), K[j1:, j0:j1]
        out[j0:j1] = np.einsum("ij,ij->j", corner, corner) + np.einsum("ij,ij->j", below, below)
    return out


def _level_forms(K: np.ndarray, scale2: np.ndarray, data: wide.WideData) -> np.ndarray:
    """||K Lambda_2 c_l||^2 for every first-block level l (column c_l of C21): the levels held
    dense by BLAS's triangular product, the others by ``triangular.sparse_norms``."""
    out = np.zeros(len(data.heavy) + len(data.light))
    out[data.heavy] = triangular.dense_norms(K, scale2[:, None] * data.C21_heavy)
    light = data.C21_light
    out[data.light] = triangular.sparse_norms(K, light, light.data * scale2[light.indices])
    return out


def deviance(theta, data: wide.WideData, shape: Shape, reml: bool, known_scale: bool = False) -> float:
    """The criterion of ``deviance_and_gradient`` alone: the middle term and the Cholesky factor,
    without the inverse and the derivative's middle term that the gradient needs (on ml-1m's
    shape about 0.9 s of an evaluation's 2.2 s, and 0.5 s where the middle term is reused).
    NaN where the tail is not positive definite."""
    P = wide.pieces(np.asarray(theta, float), data, shape)
    return _value(P, shape, reml, known_scale)[0] if P.ok else float("nan")


def _value(P: wide.Pieces, shape: Shape, reml: bool, known_scale: bool):
    """The criterion from the pieces, and the weights of log L_ii^2 in it (``_weights``; with a
    known scale the last is r^2, the share of the residual's square)."""
    w = _weights(shape, reml)
    log_diag = 2.0 * np.log(np.diagonal(P.L))
    dof = w[-1]
    if known_scale:
        r2 = P.L[-1, -1] ** 2
        value = P.log_det_11 + float(np.sum(w[:-1] * log_diag[:-1]) + r2 + dof * _LOG_2PI)
        w = w.copy()
        w[-1] = r2
        return value, w
    return P.log_det_11 + float(np.sum(w * log_diag) + dof * (1.0 + _LOG_2PI - np.log(dof))), w


def _log_diagonal_cotangent(L, w, Q2: int):
    """L^-T diag(w) L^-1 with w = 1 over the first Q2 rows (``profiled._log_diagonal_cotangent``).

    L's upper triangle is not read (``wide.pieces`` leaves it as it was)."""
    m = L.shape[0]
    E = np.zeros((m, m - Q2))
    E[np.arange(Q2, m), np.arange(m - Q2)] = 1.0
    Y = scipy.linalg.solve_triangular(L, E, lower=True, trans=1)
    G = (Y * w[Q2:]) @ Y.T
    if Q2:
        G[:Q2, :Q2] += wide._inverse(L[:Q2, :Q2])
    return G


def _rest_factor_gradients(Y, B, shape: Shape) -> list:
    """dD/dT_k for the blocks after the first: 2 sum_l [Y B']_(k,l) (``profiled._Lambda``)."""
    out, start = [], 0
    for L, q in zip(shape.levels[1:], shape.terms[1:]):
        y = Y[start:start + L * q].reshape(L, q, -1)
        b = B[start:start + L * q].reshape(L, q, -1)
        out.append(2.0 * np.einsum("ljs,lis->ij", y, b))
        start += L * q
    return out


def _first_block_cotangent(G_B_T, P: wide.Pieces, data: wide.WideData, shape: Shape):
    """dD/dM_l from the tail's [X y] rows and columns (the middle term's share is separate);
    ``G_B_T`` holds G_B's last p + 1 columns."""
    Q2, p, L1, q1 = shape.rest_width, shape.p, shape.levels[0], shape.terms[0]
    R1 = P.R1
    bar = np.einsum("lip,pq,ljq->lij", R1, G_B_T[Q2:], R1)
    if Q2:
        MR1_bar = data.cross.C21.T @ (2.0 * G_B_T[:Q2])
        bar = bar + np.einsum("lip,ljp->lij", MR1_bar.reshape(L1, q1, p + 1), R1)
    return -bar


def _first_entry_gradient(i: int, j: int, P: wide.Pieces, Mbar, G_B22, data: wide.WideData, shape: Shape):
    value, dM = _first_entry_parts(i, j, P, Mbar, data)
    q1 = dM.shape[1]
    if shape.rest_width:
        # a scalar first block's dM_l share theta's sign: the product is then +-F F' (dsyrk)
        sign = 1.0 if np.all(dM >= 0) else -1.0 if np.all(dM <= 0) else 0.0
        if q1 == 1 and sign:
            value -= sign * np.einsum("ij,ij->", G_B22, wide.middle(sign * dM, data, positive=True))
        else:
            value -= np.einsum("ij,ij->", G_B22, wide.middle(dM, data, positive=False))
    return float(value)


def _first_entry_parts(i: int, j: int, P: wide.Pieces, Mbar, data: wide.WideData):
    """The per-level share of dD/d theta_e for the first block's entry e = (i, j), and dM_l."""
    T1, D = P.Ts[0], data.cross.D11
    q1 = T1.shape[0]
    E = np.zeros((q1, q1))
    E[i, j] = 1.0
    DT = np.einsum("lij,jk->lik", D, T1)
    dA = np.einsum("ji,ljk->lik", E, DT)
    dA = dA + np.swapaxes(dA, 1, 2)                                      # E' D T + T' D E
    AT = np.einsum("lij,kj->lik", P.A11_inv, T1)                         # A^-1 T'
    TAdAAT = np.einsum("ij,ljk,lkm->lim", T1, np.einsum("lij,ljk->lik", P.A11_inv, dA), AT)
    dM = np.einsum("ij,ljk->lik", E, AT)
    dM = dM + np.swapaxes(dM, 1, 2) - TAdAAT
    return float(np.einsum("lij,lji->", P.A11_inv, dA) + np.einsum("lij,lji->", Mbar, dM)), dM
