"""The profiled REML/ML deviance of a linear mixed model and its gradient, both written out.

The objective of ``hierax.linalg.pls`` is reached here through one symmetric matrix. Order the
columns of [Z X y] as (first block, other blocks, X, y) and eliminate the first block, whose part
of Lambda'Z'Z Lambda + I is block diagonal (A11, one q1 x q1 block per level). What is left is
the Schur complement over the tail (other blocks, X, y), of size m = Q2 + p + 1:

    S = Lambda~' B Lambda~ + diag(I_Q2, 0),   B = C_TT - C_T1 blockdiag(M_l) C_1T,

with Lambda~ = diag(Lambda_2, I_{p+1}), C the cross-products of [Z X y] and M_l = T1 A11_l^-1 T1'.
Its Cholesky factor L holds everything the deviance needs (Bates et al. 2015, section 3.4): the
diagonal over the other blocks completes log|L_theta|^2, over X it is R_X, and its last entry
is r, the square root of the penalised residual sum of squares. So

    D(theta) = sum_l log|A11_l| + sum_i w_i log L_ii^2 + constant,

with w_i = 1 over the other blocks, 1 (REML) or 0 (ML) over X, and n - p (REML) or n (ML) at y.

Its gradient follows from one identity: for w constant over the leading block,
d/dS sum_i w_i log L_ii^2 = L^-T diag(w) L^-1, which is (S_22)^-1 (S's leading Q2 x Q2 block,
from LAPACK's potri on the host: a third of the cost of the triangular solves that automatic
differentiation of the Cholesky factor would run) plus p + 1 outer products, one triangular solve
each. The chain back to theta is written out too: through Lambda~ (elementwise, or small blocks),
through B (a gather at the first-block products, the transpose of the scatter that built them),
and through the per-level M_l and log|A11_l| (automatic differentiation, on q1 x q1 blocks).
Automatic differentiation of the whole cost four times the value on InstEval; this costs about
twice.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

from hierax.linalg.pls import PLSData, Shape, _lambda, _lambda_t, factors, schur_middle

_LOG_2PI = float(np.log(2.0 * np.pi))


@partial(jax.jit, static_argnames=("shape", "reml", "known_scale"))
def deviance_and_gradient(theta, data: PLSData, shape: Shape, reml: bool, known_scale: bool = False):
    """The REML criterion (or -2 log likelihood for ML) at theta and its exact gradient.

    ``known_scale``: the residual variance is 1, not profiled out (rows already divided by their
    known sds, ``hierax.engines.known_variance``), so theta is absolute and the y term of the
    deviance is the penalised residual sum of squares r2 = L_mm^2 itself, plus (n - p or n)
    log(2 pi); its cotangent is that of log L_mm^2 weighted by r2 (d r2 = r2 d log r2).
    """
    Ts, factors_vjp = jax.vjp(lambda t: factors(t, shape), theta)
    (log_det_11, M), first_vjp = jax.vjp(lambda T1: first_block(T1, data.D11), Ts[0])
    R1 = data.ZtR[:shape.levels[0] * shape.terms[0]].reshape(shape.levels[0], shape.terms[0], shape.p + 1)
    B = tail_matrix(M, R1, data, shape)
    lam = _Lambda(Ts, shape)
    Q2, m = shape.rest_width, B.shape[0]
    S = lam.both(B, transpose=True) + jnp.diag((jnp.arange(m) < Q2).astype(B.dtype))
    L = jax.lax.linalg.cholesky(S, symmetrize_input=False)
    w = _weights(shape, reml)
    dof = w[-1]
    if known_scale:
        r2 = L[-1, -1] ** 2
        value = log_det_11 + jnp.sum(w[:-1] * 2.0 * jnp.log(jnp.diagonal(L)[:-1])) + r2 + dof * _LOG_2PI
        w = jnp.asarray(w).at[-1].set(r2)
    else:
        value = log_det_11 + jnp.sum(w * 2.0 * jnp.log(jnp.diagonal(L))) + dof * (1.0 + _LOG_2PI - np.log(dof))

    G_S = _log_diagonal_cotangent(L, w, Q2)                               # dD/dS
    Y = lam.right(G_S, transpose=True)                                    # G_S Lambda~'
    G_B = lam.left(Y, transpose=False)                                    # dD/dB = Lambda~ G_S Lambda~'
    T_rest_bar = lam.factor_gradients(Y, B)
    (T1_bar,) = first_vjp((jnp.ones(()), -_middle_cotangent(G_B, R1, data, shape)))
    (theta_bar,) = factors_vjp([T1_bar] + T_rest_bar)
    return value, theta_bar


def first_block(T1, D11):
    """sum_l log|A11_l| and M_l = T1 A11_l^-1 T1', A11_l = T1' D11_l T1 + I."""
    q1 = T1.shape[0]
    A11 = jnp.einsum("ji,ljk,kc->lic", T1, D11, T1) + jnp.eye(q1)
    L11 = jnp.linalg.cholesky(A11)
    log_det = 2.0 * jnp.sum(jnp.log(jnp.diagonal(L11, axis1=1, axis2=2)))
    A11_inv = jax.scipy.linalg.cho_solve((L11, True), jnp.broadcast_to(jnp.eye(q1), A11.shape))
    return log_det, jnp.einsum("ij,ljk,ck->lic", T1, A11_inv, T1)


def tail_matrix(M, R1, data: PLSData, shape: Shape):
    """B = C_TT - C_T1 blockdiag(M_l) C_1T over the tail (other blocks, X, y)."""
    Q2, p = shape.rest_width, shape.p
    MR1 = jnp.einsum("lij,ljp->lip", M, R1)
    B = data.tail.at[Q2:, Q2:].add(-jnp.einsum("lip,liq->pq", R1, MR1))
    if Q2:
        rows, cols = data.C21.indices[:, 0], data.C21.indices[:, 1]
        cross = jax.ops.segment_sum(data.C21.data[:, None] * MR1.reshape(-1, p + 1)[cols], rows, num_segments=Q2)
        B = B.at[:Q2, :Q2].add(-schur_middle(M, data.schur, Q2))
        B = B.at[:Q2, Q2:].add(-cross).at[Q2:, :Q2].add(-cross.T)
    return B


def _weights(shape: Shape, reml: bool) -> np.ndarray:
    """w_i of the deviance over the tail: other blocks, X, y."""
    n, p = shape.n, shape.p
    return np.concatenate([np.ones(shape.rest_width), np.full(p, 1.0 if reml else 0.0),
                           [float(n - p if reml else n)]])


def _log_diagonal_cotangent(L, w, Q2: int):
    """d/dS sum_i w_i log L_ii^2 = L^-T diag(w) L^-1, w = 1 over the first Q2 rows."""
    m = L.shape[0]
    E = jnp.eye(m)[:, Q2:]
    Y = jax.scipy.linalg.solve_triangular(L, E, lower=True, trans=1)     # rows Q2.. of L^-1, transposed
    G = (Y * w[Q2:]) @ Y.T
    if Q2:
        G = G.at[:Q2, :Q2].add(inverse_from_cholesky(L[:Q2, :Q2]))
    return G


# Above this size the inverse runs on the host by LAPACK's dpotri (JAX has no potri, and its
# triangular solves take about twice as long: InstEval's 1,142 x 1,142 block). Below it, in JAX:
# a program with a host callback is never written to the persistent compilation cache, so every
# new process compiled such a model's objective again (VerbAgg's Laplace: 1.8 s of a 5 s first fit).
HOST_INVERSE_ABOVE = 256


def inverse_from_cholesky(L):
    """(L L')^-1 from the lower Cholesky factor L: in JAX for small L, else by LAPACK's dpotri on
    the host (see ``HOST_INVERSE_ABOVE``)."""
    if L.shape[-1] <= HOST_INVERSE_ABOVE:
        L_inv = jax.scipy.linalg.solve_triangular(L, jnp.eye(L.shape[-1], dtype=L.dtype), lower=True)
        return L_inv.T @ L_inv

    def host(L):
        inverse, info = scipy.linalg.lapack.dpotri(np.asarray(L), lower=1)
        if info:
            inverse = np.full_like(inverse, np.nan)
        return inverse

    lower = jax.pure_callback(host, jax.ShapeDtypeStruct(L.shape, L.dtype), L)
    lower = jnp.tril(lower)
    return lower + jnp.tril(lower, -1).T


def _middle_cotangent(G_B, R1, data: PLSData, shape: Shape):
    """dD/dM_l with the sign of C_T1 M C_1T (D depends on M through -that)."""
    Q2, p = shape.rest_width, shape.p
    L1, q1 = shape.levels[0], shape.terms[0]
    bar = jnp.einsum("lip,pq,ljq->lij", R1, G_B[Q2:, Q2:], R1)
    if Q2:
        terms = data.schur
        num_classes = terms.class_level.shape[0]
        gathered = terms.mirror * terms.value * G_B[:Q2, :Q2].reshape(-1)[terms.target]
        per_class = jax.ops.segment_sum(gathered, terms.effect, num_segments=num_classes * q1 * q1)
        bar = bar.at[terms.class_level].add(per_class.reshape(num_classes, q1, q1))
        rows, cols = data.C21.indices[:, 0], data.C21.indices[:, 1]
        cross_bar = 2.0 * G_B[:Q2, Q2:]
        MR1_bar = jax.ops.segment_sum(data.C21.data[:, None] * cross_bar[rows], cols, num_segments=L1 * q1)
        bar = bar + jnp.einsum("lip,ljp->lij", MR1_bar.reshape(L1, q1, p + 1), R1)
    return bar


class _Lambda:
    """Lambda~ = diag(Lambda_2, I_{p+1}) acting on m x m matrices, and its factor gradients.

    When every other block is scalar, Lambda~ is a diagonal, held as a vector; otherwise the
    first Q2 rows (or columns) go through ``pls``'s Lambda_2 products and the rest are kept.
    """

    def __init__(self, Ts, shape: Shape):
        self.Ts, self.shape = Ts, shape
        self.sizes = [(shape.levels[k], shape.terms[k]) for k in range(1, len(shape.levels))]
        self.scalar = all(q == 1 for _, q in self.sizes)
        if self.scalar:
            parts = [jnp.full(L, T[0, 0]) for (L, _), T in zip(self.sizes, Ts[1:])]
            self.diagonal = jnp.concatenate(parts + [jnp.ones(shape.p + 1)])

    def left(self, A, transpose: bool):
        """Lambda~' A (transpose) or Lambda~ A."""
        if self.scalar:
            return self.diagonal[:, None] * A
        Q2 = self.shape.rest_width
        rest = (_lambda_t(A[:Q2], self.Ts, self.shape, rest_only=True) if transpose
                else _lambda(A[:Q2], self.Ts, self.shape))
        return jnp.concatenate([rest, A[Q2:]], axis=0)

    def right(self, A, transpose: bool):
        """A Lambda~' (transpose) or A Lambda~."""
        if self.scalar:
            return A * self.diagonal[None, :]
        return self.left(A.T, not transpose).T

    def both(self, A, transpose: bool):
        """Lambda~' A Lambda~ (transpose) or Lambda~ A Lambda~'."""
        if self.scalar:
            return self.diagonal[:, None] * A * self.diagonal[None, :]
        return self.right(self.left(A, transpose), not transpose)

    def factor_gradients(self, Y, B) -> list:
        """dD/dT_k = 2 sum_l [Y B']_(k,l), the (k, l) diagonal blocks, Y = G_S Lambda~'.

        From dS = dLambda~' B Lambda~ + Lambda~' B dLambda~ and the symmetry of G_S and B.
        """
        out, start = [], 0
        if self.scalar:
            per_row = 2.0 * jnp.sum(Y[:self.shape.rest_width] * B[:self.shape.rest_width], axis=1)
        for L, q in self.sizes:
            if self.scalar:
                out.append(jnp.sum(per_row[start:start + L]).reshape(1, 1))
            else:
                y = Y[start:start + L * q].reshape(L, q, -1)
                b = B[start:start + L * q].reshape(L, q, -1)
                out.append(2.0 * jnp.einsum("ljs,lis->ij", y, b))
            start += L * q
        return out
