"""Small-sample inference for the fixed effects of a linear mixed model fitted by REML or ML:
Satterthwaite's denominator degrees of freedom, as R's lmerTest computes them, with JAX's exact
derivatives where lmerTest takes numerical ones; and Kenward and Roger's adjusted covariance and
df, as R's pbkrtest computes them (:class:`KenwardRoger`).

With few groups a Wald z test of a fixed effect is too optimistic: its variance is estimated
from a handful of groups. Satterthwaite matches the estimated variance of a contrast l' beta,
v(phi) = l' Phi(phi) l with Phi the covariance of beta-hat at the variance parameters
phi = (theta, sigma), to a scaled chi-square:

    df = 2 v^2 / (g' A g),   g = dv/dphi,   A = 2 H^-1,

H the Hessian of the deviance (-2 log likelihood, REML or ML, not profiled) in phi at the
estimates, so A the asymptotic covariance of phi-hat (Satterthwaite 1946; Kuznetsova, Brockhoff
and Christensen 2017, lmerTest). The deviance and Phi come from the blocked factorisation of the
REML engine (``hierax.linalg.pls``): D(phi) = log|L_theta|^2 + log|R_X|^2 [REML] + r^2(theta) /
sigma^2 + (n - p [REML]) log(2 pi sigma^2), Phi = sigma^2 (R_X R_X')^-1. The df do not depend on
how the variance parameters are written (a reparametrisation changes g and H alike).

A test of several contrasts at once (the rows of L, an F test) follows lmerTest's ``contestMD``:
the contrasts rotated to be independent (the eigenvectors of L Phi L'), a df for each, and the
F statistic's denominator df from their mean, 2 E / (E - q) with E = sum nu_m / (nu_m - 2)
(:func:`f_denominator_df`, with lmerTest's special cases).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from hierax._programs import program_cache
from hierax.errors import ModelError

_LOG_2PI = float(np.log(2.0 * np.pi))
METHODS = ("satterthwaite", "kenward-roger")


def check_method(df) -> str:
    """``df`` spelt as one of :data:`METHODS` (lmerTest's and pbkrtest's names, any case)."""
    name = str(df).lower().replace("_", "-") if isinstance(df, str) else None
    if name not in METHODS:
        raise ModelError(f"df={df!r} is not a method for the fixed effects' degrees of freedom; use one of "
                         f"{list(METHODS)}, or leave df=None for Wald z tests")
    return name


class Satterthwaite:
    """The pieces of Satterthwaite's df at a linear mixed model's estimates: the covariance of
    beta-hat (``vcov``), its derivative in the variance parameters (``jacobian``, p x p x m) and
    their asymptotic covariance (``A``)."""

    def __init__(self, fit):
        import jax.numpy as jnp

        from hierax.engines.lmm import LISTED_PRODUCTS_UP_TO
        from hierax.linalg.pls import listed, schur_products

        out, spec = fit.output, fit.spec
        if fit.method not in ("reml", "ml") or out.sigma is None or spec.se is not None:
            raise ModelError(f"Satterthwaite's df are for linear mixed models fitted by method='reml' or 'ml'; this "
                             f"fit is {fit.method!r}" + (" with known sds (se())" if spec.se is not None else ""))
        shape, cross = _cross_products(spec)
        products = schur_products(cross.C21, shape.terms[0]) if shape.rest_width else 0
        if products > LISTED_PRODUCTS_UP_TO:
            raise ModelError(f"Satterthwaite's and Kenward-Roger's df need the deviance's second derivatives through the "
                             f"listed Schur-complement products, and this model has {products:,} of them (a "
                             f"ratings-sized crossed model; hierax fits it without listing them): use df=None for Wald "
                             f"z tests, which its thousands of levels per grouping factor make accurate")
        data = listed(cross, shape)
        varpar = jnp.asarray(np.append(np.asarray(out.theta, float), out.sigma))
        hessian, vcov, jacobian = _derivatives(shape, bool(out.reml))(varpar, data)
        hessian, self.vcov, self.jacobian = np.asarray(hessian), np.asarray(vcov), np.asarray(jacobian)
        try:
            self.A = 2.0 * np.linalg.inv(hessian)
        except np.linalg.LinAlgError:
            raise ModelError("the deviance's curvature in the variance parameters is singular at the estimates (a "
                             "variance at zero, fit.singular): Satterthwaite's df are not defined there; simplify "
                             "the group terms") from None
        self.beta = np.asarray(out.beta, float)

    def df(self, l) -> float:
        """Satterthwaite's df of the contrast l' beta."""
        l = np.asarray(l, float)
        variance = l @ self.vcov @ l
        g = np.einsum("i,ijk,j->k", l, self.jacobian, l)
        return float(2.0 * variance ** 2 / (g @ self.A @ g))

    def t_test(self, l) -> dict:
        l = np.asarray(l, float)
        estimate, se = float(l @ self.beta), float(np.sqrt(l @ self.vcov @ l))
        df = self.df(l)
        t = estimate / se
        return {"estimate": estimate, "se": se, "df": df, "t": t, "p": float(2.0 * stats.t.sf(abs(t), df))}

    def f_test(self, L) -> dict:
        """The F test of L beta = 0 (q rows) with lmerTest's denominator df (module docstring)."""
        L = np.atleast_2d(np.asarray(L, float))
        q = np.linalg.matrix_rank(L)
        if q < L.shape[0]:
            raise ModelError(f"the contrast matrix has {L.shape[0]} rows but rank {q}: drop the dependent rows")
        values, vectors = np.linalg.eigh(L @ self.vcov @ L.T)
        rotated = vectors.T @ L                     # independent contrasts, variances ``values``
        F = float(np.sum((rotated @ self.beta) ** 2 / values) / q)
        den_df = f_denominator_df(np.array([self.df(row) for row in rotated]))
        return {"num_df": q, "den_df": den_df, "F": F, "p": float(stats.f.sf(F, q, den_df))}


def _cross_products(spec):
    """The model's cross-products of [Z X y] (y less any offset): formed from the rows, or for
    out-of-core data, the sums the fit was made from."""
    from hierax.linalg.pls import cross_products

    if spec.rows_elsewhere is not None:
        sums = spec.rows_elsewhere.sums
        return sums.shape, sums.cross
    y = np.asarray(spec.y, float) - (0.0 if spec.offset is None else np.asarray(spec.offset, float))
    return cross_products(np.asarray(spec.X, float), y, list(spec.blocks))


def f_denominator_df(nu) -> float:
    """The F statistic's denominator df from the df ``nu`` of its q independent contrasts, as
    lmerTest 3.1's ``get_Fstat_ddf``: nu itself for one contrast, their mean where they are equal
    (within 1e-8), 2 where any is at most 2 (E = sum nu / (nu - 2) is then not a mean of
    positive terms), else 2 E / (E - q)."""
    nu = np.asarray(nu, dtype=float)
    if len(nu) == 1:
        return float(nu[0])
    if np.all(np.abs(np.diff(nu)) < 1e-8):
        return float(np.mean(nu))
    if np.any(nu <= 2.0):
        return 2.0
    E = float(np.sum(nu / (nu - 2.0)))
    return 2.0 * E / (E - len(nu))


def tests_for(fit, df: str):
    """The test machinery of ``df``'s method at ``fit``'s estimates."""
    return {"satterthwaite": Satterthwaite, "kenward-roger": KenwardRoger}[check_method(df)](fit)


@program_cache(maxsize=16)
def _derivatives(shape, reml: bool):
    """(varpar, data) -> (the deviance's Hessian, Phi, dPhi/dvarpar), compiled once per model shape
    (a power simulation's refits reuse it)."""
    import jax
    import jax.numpy as jnp

    from hierax.linalg.pls import factorise

    n, p = shape.n, shape.p

    def parts(varpar, data):
        f = factorise(varpar[:-1], data, shape)
        sigma2 = varpar[-1] ** 2
        RX_inv = jax.scipy.linalg.solve_triangular(f.RX, jnp.eye(p), lower=True)
        deviance = f.log_det_L + f.r2 / sigma2 + (n - p if reml else n) * (_LOG_2PI + jnp.log(sigma2))
        return deviance + (f.log_det_RX if reml else 0.0), sigma2 * RX_inv.T @ RX_inv

    def derivatives(varpar, data):
        return (jax.hessian(lambda v: parts(v, data)[0])(varpar), parts(varpar, data)[1],
                jax.jacfwd(lambda v: parts(v, data)[1])(varpar))

    return jax.jit(derivatives)


def fixef_table(fit, df: str, level: float = 0.95) -> pd.DataFrame:
    """The fixed effects with df, t, p and t intervals by ``df``'s method (Kenward-Roger: the
    adjusted se)."""
    method = check_method(df)
    pieces = tests_for(fit, method)
    rows = [pieces.t_test(row) for row in np.eye(len(pieces.beta))]
    table = pd.DataFrame(rows, index=pd.Index(list(fit.spec.fixed_names), name="term"))
    half = stats.t.ppf(0.5 + level / 2.0, table["df"]) * table["se"]
    table = table.assign(lower=table["estimate"] - half, upper=table["estimate"] + half)
    table.attrs["df"] = method
    return table[["estimate", "se", "df", "t", "p", "lower", "upper"]]


class KenwardRoger:
    """Kenward and Roger's (1997) small-sample inference, as pbkrtest 0.5 computes it: the
    covariance of beta-hat adjusted for the estimated variance parameters (``vcov``, pbkrtest's
    ``vcovAdj``) and the F test's scaling and denominator df.

    The covariance of the data is V = sum_i gamma_i G_i: per grouping factor one G for each entry
    of its terms' covariance (Z_a Z_b' + Z_b Z_a' within levels, Z_a Z_a' on the diagonal) and
    sigma^2 I. With Phi = (X'V^-1 X)^-1, P_i = -X'V^-1 G_i V^-1 X, Q_ij = X'V^-1 G_i V^-1 G_j V^-1 X
    and W = 2 I_E^-1, I_E the expected REML information of gamma,

        Phi_A = Phi + 2 Phi (sum_ij W_ij (Q_ij - P_i Phi P_j)) Phi

    (the second-derivative terms vanish: V is linear in gamma). V is dense, n x n: pbkrtest's
    cost too, and the method is for small samples; refused beyond ``MAX_ROWS`` rows.
    """

    MAX_ROWS = 5_000

    def __init__(self, fit):
        out, spec = fit.output, fit.spec
        if fit.method != "reml" or out.sigma is None or spec.se is not None:
            raise ModelError(f"Kenward-Roger's adjustment is defined at REML estimates (pbkrtest refits an ML fit by "
                             f"REML); this fit is {fit.method!r}: refit with method='reml', or use "
                             "df='satterthwaite'")
        n = spec.num_obs
        spec.require_rows("Kenward-Roger's adjustment (the n x n covariance of the data)")
        if n > self.MAX_ROWS:
            raise ModelError(f"Kenward-Roger's adjustment forms the n x n covariance of the data ({n:,} rows, more "
                             f"than {self.MAX_ROWS:,}); use df='satterthwaite', which scales with the data")
        X = np.asarray(spec.X, float)
        G, gamma = [], []
        for block, T in zip(spec.blocks, out.factors):
            cov = out.sigma ** 2 * T @ T.T
            same = block.group_index[:, None] == block.group_index[None, :]
            Z = np.asarray(block.Z, float)
            for a in range(block.num_terms):
                for b in range(a + 1):
                    outer = np.outer(Z[:, a], Z[:, b])
                    G.append(same * (outer if a == b else outer + outer.T))
                    gamma.append(cov[a, b])
        G.append(np.eye(n))
        gamma.append(out.sigma ** 2)
        V = sum(g * Gi for g, Gi in zip(gamma, G))
        V_inv = np.linalg.inv(V)
        V_inv_X = V_inv @ X
        Phi = np.linalg.inv(X.T @ V_inv_X)
        H = [Gi @ V_inv for Gi in G]                        # G_i V^-1
        O = [Hi @ X for Hi in H]                            # G_i V^-1 X
        P = [-(Oi.T @ V_inv_X) for Oi in O]
        r = len(G)
        Q = {(i, j): O[i].T @ V_inv @ O[j] for i in range(r) for j in range(r)}
        information = np.array([[np.sum(H[i].T * H[j]) - 2.0 * np.sum(Phi * Q[i, j])
                                 + np.sum((Phi @ P[i]) * (P[j] @ Phi)) for j in range(r)] for i in range(r)])
        W = 2.0 * np.linalg.pinv(information)
        U = sum(W[i, j] * (Q[i, j] - P[i] @ Phi @ P[j]) for i in range(r) for j in range(r))
        self.unadjusted, self.P, self.W = Phi, P, W
        self.vcov = Phi + 2.0 * Phi @ U @ Phi
        self.beta = np.asarray(out.beta, float)

    def _scaling(self, L) -> tuple:
        """(q, the denominator df, the F statistic's scaling) of the hypothesis L beta = 0."""
        q = np.linalg.matrix_rank(L)
        if q < L.shape[0]:
            raise ModelError(f"the contrast matrix has {L.shape[0]} rows but rank {q}: drop the dependent rows")
        Phi = self.unadjusted
        Theta = L.T @ np.linalg.solve(L @ Phi @ L.T, L)
        u = [Theta @ Phi @ Pi @ Phi for Pi in self.P]
        r = len(u)
        A1 = sum(self.W[i, j] * np.trace(u[i]) * np.trace(u[j]) for i in range(r) for j in range(r))
        A2 = sum(self.W[i, j] * np.sum(u[i] * u[j].T) for i in range(r) for j in range(r))
        B = (A1 + 6.0 * A2) / (2.0 * q)
        g = ((q + 1.0) * A1 - (q + 4.0) * A2) / ((q + 2.0) * A2)
        c1, c2, c3 = (g, q - g, q + 2.0 - g) / (3.0 * q + 2.0 * (1.0 - g))
        rho = ((1.0 - A2 / q) / (1.0 - c2 * B)) ** 2 * (1.0 + c1 * B) / (1.0 - c3 * B) / q
        den_df = 4.0 + (q + 2.0) / (q * rho - 1.0)
        scaling = 1.0 if abs(den_df - 2.0) < 1e-2 else den_df * (1.0 - A2 / q) / (den_df - 2.0)
        return q, float(den_df), float(scaling)

    def t_test(self, l) -> dict:
        l = np.asarray(l, float)
        _, df, _ = self._scaling(l[None, :])
        estimate, se = float(l @ self.beta), float(np.sqrt(l @ self.vcov @ l))
        t = estimate / se
        return {"estimate": estimate, "se": se, "df": df, "t": t, "p": float(2.0 * stats.t.sf(abs(t), df))}

    def f_test(self, L) -> dict:
        L = np.atleast_2d(np.asarray(L, float))
        q, den_df, scaling = self._scaling(L)
        contrast = L @ self.beta
        F = scaling * float(contrast @ np.linalg.solve(L @ self.vcov @ L.T, contrast)) / q
        return {"num_df": q, "den_df": den_df, "F": F, "p": float(stats.f.sf(F, q, den_df))}
