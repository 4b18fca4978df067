"""Gaussian models with the group effects integrated out exactly (the collapsed posterior).

(Several grouping factors: ``hierax.density.collapsed_blocked``; this module dispatches to it.)
For a gaussian response with the identity link and one grouping factor, the group effects can be
integrated out of the likelihood in closed form, level by level. With b_j = L u_j, u_j ~ N(0, I),
L = diag(sd) L_cor, residuals r_j = y_j - X_j beta and row weights W (1, or 0 to leave a row out):

    y_j | beta, L, sigma ~ N(X_j beta, sigma^2 W^-1 + Z_j L L' Z_j')

and by Woodbury and the matrix determinant lemma, with M_j = L' Z_j' W Z_j L + sigma^2 I (q x q)
and c_j = L' Z_j' W r_j,

    log p(y | beta, L, sigma) = -n/2 log(2 pi sigma^2) - 1/2 sum_j (log|M_j| - q log sigma^2)
                                - (r' W r - sum_j c_j' M_j^-1 c_j) / (2 sigma^2).

Everything here is a sum of per-level products Z_j'WZ_j, Z_j'WX_j, Z_j'Wy_j and the totals X'WX,
X'Wy, y'Wy, computed once (O(n)); each evaluation then costs O(levels q^3), whatever the number
of rows. The sampler moves in the few dimensions of (beta, sigma, sds, correlations), where NUTS
meets neither funnel nor thousands of coordinates; the effects are drawn afterwards from their
exact conditional for every draw,

    u_j | y, beta, L, sigma ~ N(M_j^-1 c_j, sigma^2 M_j^-1),   b_j = L u_j,

so the result is a draw from the same joint posterior as the non-collapsed sampler's (the test
``tests/density/test_collapsed.py`` checks both on radon and sleepstudy). M_j stays positive
definite when an sd is near zero, so nothing is inverted that can be singular.

The cross-products are taken around a reference beta_0 (least squares), so that r' W r is not
the difference of two large numbers when the response sits far from zero.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from hierax._programs import program_cache
from hierax.density.collapsed_sums import statistics
from hierax.density.collapsed_blocked import blocked_loglik, blocked_shape, blocked_stats, draw_blocked_effects
from hierax.linalg.small import backward_solve, forward_solve, small_cholesky
from hierax.density.logdensity import (
    combined_weights, constrain_hyper, hyper_layout, hyper_priors, log_prior_hyper, scalar_links,
)
from hierax.errors import ModelError
from hierax.model.spec import ModelSpec
from hierax.model.layout import RESIDUAL_SD, PARAMS

_LOG_2PI = float(np.log(2.0 * np.pi))


class GroupStats(NamedTuple):
    """The sufficient statistics of a gaussian model with one grouping factor, around ``beta_ref``.

    ZtZ (q, q, levels), ZtX (q, p, levels), Zty (q, levels), XtX (p, p), Xty (p,), yty () and n
    (the sum of the row weights); ``y`` here is y - offset - X beta_ref. The levels come last, so
    that every per-level operation below runs along contiguous vectors of length ``levels`` (with
    levels first, a 2 x 2 block per level, the vector units would see runs of two).
    """

    ZtZ: np.ndarray
    ZtX: np.ndarray
    Zty: np.ndarray
    XtX: np.ndarray
    Xty: np.ndarray
    yty: np.ndarray
    n: np.ndarray
    beta_ref: np.ndarray


def why_not_collapsible(spec: ModelSpec) -> str | None:
    """None when the collapsed sampler applies to ``spec``, else the reason in words."""
    if not (spec.family.collapsible and spec.link.name == "identity"):
        return f"the {spec.family.name} family with the {spec.link.name} link has no closed-form marginal"
    if spec.dpar_predictors:
        names = ", ".join(p.dpar for p in spec.dpar_predictors)
        return f"{names} has a formula, so the residual sd differs by row and the marginal is not the collapsed one"
    if spec.se is not None or not spec.has_sigma:
        return "a known measurement sd (se()) is sampled with the group effects in the model"
    if spec.incomplete:
        return "censored or truncated rows have no closed-form marginal"
    if not spec.blocks:
        return "there are no group terms"
    return None


def group_stats(spec: ModelSpec, y: np.ndarray | None = None, weight: np.ndarray | None = None) -> GroupStats:
    """The per-level cross-products of ``spec`` (or of response ``y`` and row weights ``weight``
    with its design), in NumPy: O(n (q + p)^2) once per data set."""
    return collapsed_statistics(spec, y, weight)[0]


def collapsed_statistics(spec: ModelSpec, y: np.ndarray | None = None, weight: np.ndarray | None = None):
    """(GroupStats, the start's crude fit) of ``spec``, by exact sums (``collapsed_sums``): the
    same bits for rows in memory as for out-of-core data (``spec.rows_elsewhere``), whose sums
    over chunks come with it, for their own response and no row weights."""
    if spec.rows_elsewhere is not None:
        if y is not None or weight is not None:
            raise ModelError("a model of out-of-core data samples its own response with every row: another response "
                             "or row weights need the rows in memory")
        return spec.rows_elsewhere.sums.group
    block = spec.blocks[0]
    y = spec.y if y is None else np.asarray(y, dtype=float)
    if spec.offset is not None:
        y = y - spec.offset
    w = np.ones(len(y)) if weight is None else np.asarray(weight, dtype=float)
    return statistics(spec.X, block.Z, block.group_index, block.num_levels, y, w)


def least_squares(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The weighted least-squares coefficients: the statistics' reference point."""
    sw = np.sqrt(w)
    return np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)[0] if X.shape[1] else np.zeros(0)


def level_stats(X, Z, index, levels: int, y, w, beta_ref) -> GroupStats:
    """:class:`GroupStats` of design ``X``, the block's ``Z`` and level ``index``, response ``y``
    and row weights ``w``, around ``beta_ref``."""
    y = y - X @ beta_ref
    Zw = Z * w[:, None]

    def by_level(a, b):                                # sum over each level's rows of a[:, i] b[:, k]
        out = np.zeros((a.shape[1], b.shape[1], levels))    # b may have no columns: X of y ~ 0 + (1 | g)
        for i in range(a.shape[1]):
            for k in range(b.shape[1]):
                out[i, k] = np.bincount(index, a[:, i] * b[:, k], minlength=levels)
        return out

    ZtZ, ZtX, Zty = by_level(Zw, Z), by_level(Zw, X), by_level(Zw, y[:, None])[:, 0]
    Xw = X * w[:, None]
    return GroupStats(ZtZ, ZtX, Zty, Xw.T @ X, Xw.T @ y, np.asarray(w @ y**2), np.asarray(w.sum()), beta_ref)


class Collapsed(NamedTuple):
    """What the collapsed density depends on besides its runtime data: hashable, so that every
    model with this structure shares one compiled sampler (``make_collapsed_logdensity``).

    One grouping factor: the per-level algebra here (``shape`` None). Several: the blocked
    factorisation of ``hierax.density.collapsed_blocked``, whose static ``shape`` it holds, with
    the blocks' ``names`` in the user's order.
    """

    layout: tuple          # hyper_layout: ((name, q, has_cor),), coarse to fine
    scalars: tuple         # scalar_links: the residual sd and its link
    shape: object = None   # pls.Shape, several grouping factors only
    names: tuple = ()


def collapsed_structure(spec: ModelSpec) -> Collapsed:
    if len(spec.blocks) == 1:
        return Collapsed(hyper_layout(spec), scalar_links(spec))
    return Collapsed(hyper_layout(spec), scalar_links(spec), blocked_shape(spec), tuple(b.name for b in spec.blocks))


def padded_levels(levels: int) -> int:
    """The number of levels the statistics are padded to: the next of 8, 10, 12, 14, 16, 20, ...
    (2^k times 1, 1.25, 1.5 or 1.75), at most a quarter more than ``levels``.

    A padded level has no rows (zero statistics), so it adds nothing to the density (M = sigma^2 I,
    c = 0), and its drawn effects are cut off. The compiled sampler then depends on the number of
    levels only through this bucket, so data sets of similar size share it (in this process and,
    through the compilation cache, in later ones)."""
    if levels <= 8:
        return 8
    power = 1 << ((levels - 1).bit_length() - 1)          # the largest power of two below levels
    return next(power * k // 4 for k in (5, 6, 7, 8) if power * k // 4 >= levels)


def runtime_data(spec: ModelSpec, y=None, weight=None, stats: GroupStats | None = None) -> dict:
    """The density's runtime argument: the data's statistics (levels padded, for one grouping
    factor) and the priors. Out-of-core data (``spec.rows_elsewhere``) bring their statistics
    summed over chunks (``hierax.outofcore``)."""
    if spec.rows_elsewhere is None:
        weight = combined_weights(spec, weight)
    if len(spec.blocks) > 1:
        return {"stats": blocked_stats(spec, y, weight), "priors": hyper_priors(spec)}
    stats = padded(group_stats(spec, y, weight) if stats is None else stats)
    return {"stats": jax.tree_util.tree_map(jnp.asarray, stats), "priors": hyper_priors(spec)}


def padded(stats: GroupStats) -> GroupStats:
    """The statistics with empty levels added up to :func:`padded_levels`."""
    extra = padded_levels(stats.ZtZ.shape[-1]) - stats.ZtZ.shape[-1]

    def pad(x):
        return np.concatenate([x, np.zeros(x.shape[:-1] + (extra,))], axis=-1)

    return stats._replace(ZtZ=pad(stats.ZtZ), ZtX=pad(stats.ZtX), Zty=pad(stats.Zty))


def _marginal_terms(params: dict, stats: GroupStats, name: str):
    """Per level, as nested lists of vectors over the levels: M (q x q), c (q), and L (q x q
    scalars), sigma^2 and beta - beta_ref.

    Every entry is a vector of length ``levels`` and the q x q algebra is written out, so each
    operation runs once along all levels and XLA fuses them into a few loops: 0.3 ms per
    gradient for 16,384 levels of 2 x 2 blocks, against 1.5 ms with stacked arrays and tensordot.
    """
    L = params[PARAMS.sd][name][:, None] * params[PARAMS.cor_chol][name]
    sigma2 = params[RESIDUAL_SD] ** 2
    delta = params[PARAMS.fixed] - stats.beta_ref
    q, p = L.shape[0], delta.shape[0]
    M = [[sum(L[a, i] * L[b, k] * stats.ZtZ[a, b] for a in range(q) for b in range(q)) + (sigma2 if i == k else 0.0)
          for k in range(q)] for i in range(q)]
    r = [stats.Zty[b] - sum((stats.ZtX[b, j] * delta[j] for j in range(p)), 0.0) for b in range(q)]
    c = [sum(L[b, i] * r[b] for b in range(q)) for i in range(q)]
    return M, c, L, delta, sigma2


def _log_det_and_quadratic(M, c):
    """sum over levels of log|M_j| and of c_j' M_j^-1 c_j: closed forms for q = 1 and 2 (one log
    and one division per level), the written-out Cholesky factor beyond."""
    q = len(c)
    if q == 1:
        return jnp.sum(jnp.log(M[0][0])), jnp.sum(c[0] ** 2 / M[0][0])
    if q == 2:
        det = M[0][0] * M[1][1] - M[0][1] ** 2
        quadratic = (M[1][1] * c[0] ** 2 - 2.0 * M[0][1] * c[0] * c[1] + M[0][0] * c[1] ** 2) / det
        return jnp.sum(jnp.log(det)), jnp.sum(quadratic)
    R = small_cholesky(M)
    h = forward_solve(R, c)
    return 2.0 * sum(jnp.sum(jnp.log(R[i][i])) for i in range(q)), sum(jnp.sum(x**2) for x in h)


def collapsed_loglik(params: dict, stats: GroupStats, name: str):
    """log p(y | beta, sd, cor, sigma) with the group effects integrated out (module docstring)."""
    M, c, _, delta, sigma2 = _marginal_terms(params, stats, name)
    q, levels = len(c), stats.Zty.shape[-1]
    log_det, quadratic = _log_det_and_quadratic(M, c)
    log_det = log_det - levels * q * jnp.log(sigma2)
    rss = stats.yty - 2.0 * delta @ stats.Xty + delta @ stats.XtX @ delta
    return -0.5 * stats.n * (_LOG_2PI + jnp.log(sigma2)) - 0.5 * log_det - 0.5 * (rss - quadratic) / sigma2


@program_cache(maxsize=16)
def make_collapsed_logdensity(structure: Collapsed):
    """``logdensity(position, aux) -> scalar``, aux from :func:`runtime_data`.

    Cached by structure: models of the same structure get the same function, and the NUTS
    engine keeps its compiled steps per function, so a refit to new data (new statistics, new
    default priors) compiles nothing.
    """
    def loglik(params, stats):
        if structure.shape is not None:
            return blocked_loglik(params, stats, structure.shape, structure.names)
        return collapsed_loglik(params, stats, structure.layout[0][0])

    def logdensity(position, aux):
        params, log_jac = constrain_hyper(position, structure.scalars, structure.layout)
        return loglik(params, aux["stats"]) + log_prior_hyper(aux["priors"], params) + log_jac

    return logdensity


def draw_all_effects(rng_key, params: dict, stats, structure: Collapsed) -> dict:
    """One draw of every block's effects {name: (levels, q)} from their exact conditional (for
    one grouping factor, with the padded levels still in)."""
    if structure.shape is not None:
        return draw_blocked_effects(rng_key, params, stats, structure.shape, structure.names)
    name = structure.layout[0][0]
    return {name: draw_effects(rng_key, params, stats, name)}


def draw_effects(rng_key, params: dict, stats: GroupStats, name: str):
    """One draw of b (levels, q) from its exact conditional given the hyperparameters."""
    M, c, L, _, sigma2 = _marginal_terms(params, stats, name)
    R = small_cholesky(M)
    h = forward_solve(R, c)
    noise = jax.random.normal(rng_key, (len(c),) + c[0].shape)
    u = backward_solve(R, [h[i] + jnp.sqrt(sigma2) * noise[i] for i in range(len(c))])  # mean M^-1 c, var sigma^2 M^-1
    return jnp.stack([sum(L[i, k] * u[k] for k in range(len(c))) for i in range(len(c))], axis=-1)
