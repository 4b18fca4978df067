"""The Laplace approximation for a model with one grouping factor, written out row by row.

The embedded Laplace (``hierax.density.embedded``) evaluates D(x) = g(u^) + log|A(u^)| and its
gradient at every leapfrog step. The blocked engine (``hierax.engines.laplace``) does that for any
set of grouping factors by automatic differentiation of the Laplace objective, a second pass for
the implicit function theorem and Newton steps through a blocked factor. With one grouping factor
A is block diagonal, one q x q block a level, and everything is a few per-row expressions and
per-level sums, written out here (the same numbers: ``tests/engines/test_laplace_one.py``).

Notation. Row i is in level l, z_i its q covariates of the group term, T the block's lower
triangular relative factor (b_l = T u_l), a_i = T' z_i, and

    eta_i = x_i' beta + o_i + a_i' u_l,   l_i = log p(y_i | eta_i, phi),
    d_i = dl_i/deta,  w_i = -d2l_i/deta2,  w3_i = dw_i/deta,
    g(u) = -2 sum_i l_i + |u|^2,   A_l = I + sum_{i in l} w_i a_i a_i',   D = g(u^) + sum_l log|A_l|.

The mode u^ is found by Newton steps, A_l du_l = sum_{i in l} d_i a_i - u_l (W clamped at zero
where A is not positive definite, as in the blocked engine), halved while they raise g unless
they are small (``TRUSTED_STEP``). Newton stops where the next step would be below ``STEP_STOP``
without taking it, so that the last step's sums serve D: from the embedded Laplace's predicted
start an evaluation takes two passes of the rows' derivatives, not three. The gradient in
x = (theta, beta, phi) by the implicit function theorem is that of

    Phi(x) = -2 sum_i l_i + 2 sum_i d_i s_i + sum_l log|A_l|,   s_i = a_i' v_l,

at fixed u^ and v_l = A_l^-1 c_l / 2, where c_l = dD/du_l = -2 sum d_i a_i + 2 u_l
+ sum w3_i h_i a_i and h_i = a_i' A_l^-1 a_i (the Laplace engine's module docstring: the term in v
takes out the mode's own dependence on x). Row by row,

    e_i = dPhi/deta_i = -2 d_i - 2 w_i s_i + w3_i h_i,
    f_i = dPhi/da_i  = e_i u_l + 2 d_i v_l + 2 w_i A_l^-1 a_i,

so dD/dbeta = X'e, dD/dT = sum_i z_i f_i' (read off at theta's entries), and dD/dphi is the
derivative of the per-row terms at fixed eta (automatic; none for bernoulli or poisson).

The rows are laid out level by level (:class:`OneFactorRows`): the levels in buckets of similar
size (``hierax.engines.quadrature.level_rows``), each level's rows contiguous and padded to its
bucket's width with copies of its first row, which a mask takes out of every sum. A per-level
value reaches its rows by a broadcast along the width and a per-level sum is a reduction along
it, both fused into the loops over the rows, where a gather and a scatter-add over the rows in
data order each made a pass of their own (XLA's CPU backend does not vectorise a loop that
fuses a gather with log1p or exp, so the gathered values had to be written out first). At
100,000 rows in 5,000 groups of 20: an evaluation 7.5 -> 6.2 ms on one core, and 20.7 -> 19.2 ms
for four chains on four devices of two cores (the embedded Laplace's NUTS step).
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from hierax.engines import quadrature
from hierax.linalg.small import backward_solve, forward_solve, small_cholesky


class OneFactorRows(NamedTuple):
    """The rows laid out for this kernel (module docstring): N rows, the data's n and the
    padding, level by level; each covariate a contiguous array."""

    Xt: jax.Array           # (p, N): the fixed effects' design transposed
    offset: jax.Array       # (N,)
    z: tuple                # q arrays (N,): the group term's covariates
    mask: jax.Array         # (N,) 1.0 on a row of the data, 0.0 on padding
    y: jax.Array
    trials: object          # the likelihood's row data, as the Laplace engine's
    layout: quadrature.LevelRows   # of these rows: bucket b's rows are the next (levels_b, width_b) block


def one_factor_rows(data) -> OneFactorRows:
    """This kernel's rows from the Laplace engine's data (``laplace.engine_data`` with
    ``by_level``) of a model with one grouping factor. A padding row copies its level's first row,
    so that its linear predictor is one the likelihood takes (it is masked out of every sum)."""
    if data.by_level is None:
        raise ValueError("one_factor_rows needs the rows by level: laplace.engine_data(..., by_level=True)")
    index, buckets, start = [], [], 0
    for bucket in data.by_level.buckets:
        rows, real = np.asarray(bucket.rows), np.asarray(bucket.real)
        index.append(np.where(real, rows, rows[:, :1]).reshape(-1))
        block = np.arange(start, start + rows.size, dtype=np.int32).reshape(rows.shape)
        buckets.append(quadrature.Bucket(jnp.asarray(block), bucket.real, bucket.levels))
        start += rows.size
    index = np.concatenate(index) if index else np.zeros(0, np.int64)
    mask = np.concatenate([np.asarray(b.real).reshape(-1) for b in data.by_level.buckets] + [np.zeros(0, bool)])

    def laid(a):                # NumPy first, then one transfer: a gather by jnp compiles a program
        return jnp.asarray(np.asarray(a)[index])

    vals = np.asarray(data.vals)
    return OneFactorRows(jnp.asarray(np.ascontiguousarray(np.asarray(data.X)[index].T)), laid(data.offset),
                         tuple(laid(vals[:, k]) for k in range(vals.shape[1])), jnp.asarray(mask.astype(float)),
                         laid(data.y), jax.tree_util.tree_map(laid, data.trials),
                         quadrature.LevelRows(tuple(buckets), data.by_level.order))


def applies(structure) -> bool:
    """Whether ``structure`` (the Laplace engine's) has one grouping factor and plain Laplace."""
    return len(structure.blocks) == 1 and structure.nagq == 1


def _at_rows(per_level, layout: quadrature.LevelRows):
    """Per-level vectors (levels,) at the rows (N,): each bucket's levels gathered (small arrays,
    kept in memory) and repeated along the bucket's width."""
    parts = jax.lax.optimization_barrier(tuple(tuple(v[b.levels] for b in layout.buckets) for v in per_level))
    return tuple(_joined([jnp.broadcast_to(p[:, None], b.rows.shape).reshape(-1) for p, b in zip(vp, layout.buckets)])
                 for vp in parts)


def _joined(parts, axis: int = 0):
    """The buckets' parts side by side (one bucket: as it is, no copy)."""
    return parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=axis)


def _level_sums(columns, layout: quadrature.LevelRows, levels: int):
    """Per-level sums of several row vectors (N,): bucket by bucket, along its width, then put
    in level order (a level without rows sums to 0)."""
    stacked = jnp.stack(columns, axis=0)
    m, sums, start = len(columns), [], 0
    for b in layout.buckets:
        count, width = b.rows.shape
        sums.append(jnp.sum(stacked[:, start:start + count * width].reshape(m, count, width), axis=-1))
        start += count * width
    placed = sum(b.rows.shape[0] for b in layout.buckets)
    if placed < levels:
        sums.append(jnp.zeros((m, levels - placed)))
    ordered = _joined(sums, axis=1)[:, layout.order]
    return [ordered[k] for k in range(m)]


def _split(x, rows: OneFactorRows, structure):
    t, p = structure.num_theta, rows.Xt.shape[0]
    return x[:t], x[t:t + p], x[t + p:]


def _factor(theta, structure):
    """T (q x q nested lists of scalars) from theta's entries."""
    q = structure.blocks[0].num_terms
    T = [[0.0] * q for _ in range(q)]
    for t, (_, i, j) in enumerate(structure.entries):
        T[i][j] = theta[t]
    return T


def _row_values(T, rows: OneFactorRows):
    """a_i = T' z_i, as q row vectors."""
    q = len(rows.z)
    return [sum(rows.z[j] * T[j][k] for j in range(q) if not isinstance(T[j][k], float)) for k in range(q)]


def _derivatives(eta, phi, rows: OneFactorRows, likelihood, third: bool = False):
    """d, w (and w3) per row at fixed phi, 0 on padding."""
    def d(e):
        return jax.grad(lambda v: jnp.sum(likelihood(rows.y, v, phi, rows.trials)))(e)

    def w(e):
        return -jax.grad(lambda v: jnp.sum(d(v)))(e)

    if not third:
        return d(eta) * rows.mask, w(eta) * rows.mask
    return d(eta) * rows.mask, w(eta) * rows.mask, jax.grad(lambda v: jnp.sum(w(v)))(eta) * rows.mask


def _entries(q: int):
    return [(i, j) for i in range(q) for j in range(i + 1)]


def _precision(w, a, rows: OneFactorRows, levels: int, extra=()):
    """A_l entry by entry (nested lists of per-level vectors), and the level sums of ``extra``."""
    q = len(a)
    pairs = _entries(q)
    sums = _level_sums([w * a[i] * a[j] for i, j in pairs] + list(extra), rows.layout, levels)
    A = [[None] * q for _ in range(q)]
    for (i, j), s in zip(pairs, sums):
        A[i][j] = A[j][i] = s + (1.0 if i == j else 0.0)
    return A, sums[len(pairs):]


def _solve(R, b):
    return backward_solve(R, forward_solve(R, b))


def _value(eta, u, phi, rows: OneFactorRows, likelihood):
    """g = -2 sum l_i + |u|^2 (padding masked out)."""
    return -2.0 * jnp.sum(rows.mask * likelihood(rows.y, eta, phi, rows.trials)) + jnp.sum(u * u)


# Newton stops at u when the exact step from u would move no coordinate by more than this
# (relative to 1 + |u|): the mode is within that, and the step's factor and sums serve D. From the
# embedded Laplace's predicted start (about 0.002 from the mode at 100,000 rows) the second step
# is under 1e-6 (quadratic convergence), so an evaluation takes two passes of derivatives and sums.
STEP_STOP = 1e-6
# an exact Newton step no larger than this (in the spherical effects u, whose prior sd is 1) is
# taken whole without judging g: near the mode g's quadratic model holds far beyond it
TRUSTED_STEP = 0.1


def _sums(u, eta, a, phi, rows: OneFactorRows, structure):
    """A's entries and r_l = sum d_i a_i at u (per level), from one pass of the rows."""
    q, levels = len(a), u.shape[0]
    d, w = _derivatives(eta, phi, rows, structure.likelihood)
    A, r = _precision(w, a, rows, levels, [d * a[k] for k in range(q)])
    return A, r, w


def _direction(u, A, r, w, a, rows: OneFactorRows):
    """The Newton direction A^-1 (r - u) (levels, q), and whether A was positive definite; where
    it is not, A with W clamped at zero (the Laplace engine's module docstring)."""
    q, levels = len(a), u.shape[0]
    R = small_cholesky(A)
    exact = jnp.all(jnp.stack([jnp.all(jnp.isfinite(R[k][k])) for k in range(q)]))

    def clamped():
        return small_cholesky(_precision(jnp.maximum(w, 0.0), a, rows, levels)[0])

    R = jax.lax.cond(exact, lambda: R, clamped)
    return jnp.stack(_solve(R, [r[k] - u[:, k] for k in range(q)]), axis=1), exact


def conditional_mode(x, u0, rows: OneFactorRows, structure):
    """u^ (levels, q), the linear predictor there and A's entries and r there: damped Newton steps
    from u0 (flat, as the Laplace engine's), stopping where the next exact step is below
    ``STEP_STOP`` (relative) without taking it."""
    from hierax.engines.laplace import MAX_NEWTON_STEPS, ROUNDING, SHORTEST_STEP

    theta, beta, phi = _split(x, rows, structure)
    a = _row_values(_factor(theta, structure), rows)
    q = len(a)
    u0 = u0.reshape(-1, q)
    fixed = beta @ rows.Xt + rows.offset

    def judged(u, eta, direction, change):
        """u + c direction for the first c in 1, 1/2, ..., 1/32 at which g is finite and no larger
        than at u (c = 0 if none is), as the Laplace engine's ``_damped``."""
        def value_at(c):
            return _value(eta + c * change, u + c * direction, phi, rows, structure.likelihood)

        before = value_at(0.0)
        allowed = before + ROUNDING * (1.0 + jnp.abs(before))

        def worse(trial):
            return ~(trial[1] <= allowed) & (trial[0] > SHORTEST_STEP)

        c, value = jax.lax.while_loop(worse, lambda trial: (trial[0] / 2.0, value_at(trial[0] / 2.0)),
                                      (jnp.asarray(1.0), value_at(1.0)))
        return jnp.where(value <= allowed, c, 0.0)

    def moving(state):
        return ~state[-1] & (state[2] < MAX_NEWTON_STEPS)

    def step(state):
        u, eta, count, _, _, _ = state
        A, r, w = _sums(u, eta, a, phi, rows, structure)
        direction, exact = _direction(u, A, r, w, a, rows)
        size = jnp.max(jnp.abs(direction))
        done = exact & (size <= STEP_STOP * (1.0 + jnp.max(jnp.abs(u))))
        change = sum(a[k] * g for k, g in enumerate(_at_rows([direction[:, k] for k in range(q)], rows.layout)))
        c = jax.lax.cond(exact & (size <= TRUSTED_STEP), lambda: jnp.asarray(1.0),
                         lambda: judged(u, eta, direction, change))
        c = jnp.where(done, 0.0, c)
        stuck = c == 0.0
        return u + c * direction, eta + c * change, count + 1, A, r, done | stuck

    eta0 = fixed + sum(a[k] * g for k, g in enumerate(_at_rows([u0[:, k] for k in range(q)], rows.layout)))
    levels = u0.shape[0]
    empty = ([[jnp.zeros(levels)] * q for _ in range(q)], [jnp.zeros(levels)] * q)
    u, eta, _, A, r, stopped = jax.lax.while_loop(moving, step, (u0, eta0, 0) + empty + (jnp.asarray(False),))
    # sums at u: those of the last step where it stopped there, else (out of steps) made afresh
    A, r = jax.lax.cond(stopped, lambda: (A, r), lambda: _sums(u, eta, a, phi, rows, structure)[:2])
    return u, eta, A, r


@partial(jax.jit, static_argnames=("structure",))
def evaluate(x, u0, rows: OneFactorRows, structure):
    """D(x), its exact gradient and the mode (flat), as ``laplace.evaluate`` for one factor."""
    u, eta, A, r = jax.lax.stop_gradient(conditional_mode(x, u0, rows, structure))
    theta, beta, phi = _split(x, rows, structure)
    a = _row_values(_factor(theta, structure), rows)
    q, levels = len(a), u.shape[0]
    d, w, w3 = _derivatives(eta, phi, rows, structure.likelihood, third=True)
    R = small_cholesky(A)
    log_det = 2.0 * sum(jnp.sum(jnp.log(R[k][k])) for k in range(q))
    value = _value(eta, u, phi, rows, structure.likelihood) + log_det
    # A_l^-1 column by column, then gathered to the rows with u^
    units = [[jnp.ones(levels) if i == k else jnp.zeros(levels) for i in range(q)] for k in range(q)]
    P = [_solve(R, e) for e in units]                       # P[k][i] = (A^-1)_ik
    pairs = _entries(q)
    gathered = _at_rows([P[j][i] for i, j in pairs] + [u[:, k] for k in range(q)], rows.layout)
    Pr = [[None] * q for _ in range(q)]
    for (i, j), g in zip(pairs, gathered):
        Pr[i][j] = Pr[j][i] = g
    ur = gathered[len(pairs):]
    Pa = [sum(Pr[i][k] * a[k] for k in range(q)) for i in range(q)]   # A_l^-1 a_i
    h = sum(a[i] * Pa[i] for i in range(q))
    c = _level_sums([w3 * h * a[k] for k in range(q)], rows.layout, levels)
    v = _solve(R, [0.5 * (c[k] - 2.0 * r[k] + 2.0 * u[:, k]) for k in range(q)])
    vr = _at_rows(v, rows.layout)
    s = sum(a[k] * vr[k] for k in range(q))
    e = -2.0 * d - 2.0 * w * s + w3 * h
    f = [e * ur[k] + 2.0 * d * vr[k] + 2.0 * w * Pa[k] for k in range(q)]
    grad_theta = jnp.stack([jnp.vdot(rows.z[i], f[j]) for _, i, j in structure.entries])
    grad_beta = rows.Xt @ e
    grad = [grad_theta, grad_beta]
    if phi.shape[0]:
        grad.append(jax.grad(lambda p: _phi_terms(eta, p, s, h, rows, structure.likelihood))(phi))
    return value, jnp.concatenate(grad), u.reshape(-1)


def level_log_ratios(x, u, eta, A, rows: OneFactorRows, structure, nodes: int):
    """Per level, log p_l / p_l^Laplace at x, as ``laplace.level_log_ratios``, from what
    :func:`conditional_mode` returns: its mode u (levels, q), linear predictor ``eta`` and A's
    entries there. Why: made afresh by the Laplace engine, the predictor, curvature and factor
    took a third of each of the embedded Laplace's check draws (the rows already level by level:
    ``rows.layout`` is the quadrature's layout of them)."""
    theta, _, phi = _split(x, rows, structure)
    a = _row_values(_factor(theta, structure), rows)
    R = small_cholesky(A)                            # lower: A_l = L_l L_l'
    L = jnp.stack([jnp.stack(row, axis=-1) for row in R], axis=-2)                    # (levels, q, q)
    V = jnp.stack([jnp.broadcast_to(column, eta.shape) for column in a], axis=1)    # (N, q)
    return quadrature.log_ratios(lambda row_data, e: structure.likelihood(row_data[0], e, phi, row_data[1]),
                                 (rows.y, rows.trials), eta, V, u, L, rows.layout, u.shape[0], nodes)


def _phi_terms(eta, phi, s, h, rows: OneFactorRows, likelihood):
    """The terms of Phi that depend on phi at fixed eta: -2 sum l_i + 2 sum d_i s_i + sum h_i w_i
    (log|A_l|'s derivative in w_i is h_i), with d and w of phi."""
    d_phi, w_phi = _derivatives(eta, phi, rows, likelihood)
    return (-2.0 * jnp.sum(rows.mask * likelihood(rows.y, eta, phi, rows.trials)) + 2.0 * jnp.vdot(d_phi, s)
            + jnp.vdot(h, w_phi))


def mode_and_slope(x, u0, rows: OneFactorRows, structure):
    """The mode u^ at x (flat) and its slope du^/dx = A^-1 dr/dx (width, len(x)), r_l = sum_{i in
    l} d_i a_i at fixed u (the implicit function theorem: g's gradient in u_l is 2 (u_l - r_l)
    and its Hessian 2 A_l), as ``hierax.density.embedded._settle`` makes them with the blocked
    engine. Why: the embedded Laplace's Newton start (``embedded.settled``) compiled the blocked
    engine's mode, factor and Jacobian, 4 s of a first fit's compiling at 100,000 rows."""
    u, _, A, _ = conditional_mode(x, u0, rows, structure)
    q, levels = u.shape[1], u.shape[0]

    def score(point):                        # r at u^, as a function of x: (levels, q)
        theta, beta, phi = _split(point, rows, structure)
        a = _row_values(_factor(theta, structure), rows)
        eta = beta @ rows.Xt + rows.offset + sum(a[k] * g for k, g in enumerate(
            _at_rows([u[:, k] for k in range(q)], rows.layout)))
        d = _derivatives(eta, phi, rows, structure.likelihood)[0]
        return jnp.stack(_level_sums([d * a[k] for k in range(q)], rows.layout, levels), axis=1)

    moves = jax.jacfwd(score)(x)                                   # (levels, q, len(x))
    R = small_cholesky(A)
    slope = jax.vmap(lambda column: jnp.stack(_solve(R, [column[:, k] for k in range(q)]), axis=1),
                     in_axes=2, out_axes=2)(moves)                  # (levels, q, len(x))
    return u.reshape(-1), slope.reshape(levels * q, x.shape[0])


def draw(x, u0, z, rows: OneFactorRows, structure, weigh: bool = True):
    """u ~ N(u^, A^-1) (flat) for standard normal ``z`` (levels, q), and its log importance ratio
    -(g(u) - g(u^) - z'z) / 2 against the exact joint density (``hierax.density.embedded``):
    u = u^ + L_l'^-1 z_l level by level, so that (u - u^)' A (u - u^) = z'z. Without ``weigh``
    the ratio (two passes of the likelihood) is not computed: NaN."""
    u_hat, eta, A, _ = conditional_mode(x, u0, rows, structure)
    theta, _, phi = _split(x, rows, structure)
    a = _row_values(_factor(theta, structure), rows)
    q = len(a)
    offset = jnp.stack(backward_solve(small_cholesky(A), [z[:, k] for k in range(q)]), axis=1)
    u = u_hat + offset
    if not weigh:
        return u.reshape(-1), jnp.asarray(jnp.nan)
    moved = eta + sum(a[k] * g for k, g in enumerate(_at_rows([offset[:, k] for k in range(q)], rows.layout)))
    log_weight = -0.5 * (_value(moved, u, phi, rows, structure.likelihood)
                         - _value(eta, u_hat, phi, rows, structure.likelihood) - jnp.sum(z * z))
    return u.reshape(-1), log_weight
