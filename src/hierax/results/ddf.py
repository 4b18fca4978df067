"""Small-sample inference for the fixed effects of a linear mixed model fitted by REML or ML:
Satterthwaite's denominator degrees of freedom, as R's lmerTest computes them, with JAX's exact
derivatives where lmerTest takes numerical ones.

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
F statistic's denominator df from their mean, 2 E / (E - q) with E = sum nu_m / (nu_m - 2).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from hierax.errors import ModelError

_LOG_2PI = float(np.log(2.0 * np.pi))
METHODS = ("satterthwaite",)


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
        import jax
        import jax.numpy as jnp

        from hierax.linalg.pls import factorise, prepare

        out, spec = fit.output, fit.spec
        if fit.method not in ("reml", "ml") or out.sigma is None or spec.se is not None:
            raise ModelError(f"Satterthwaite's df are for linear mixed models fitted by method='reml' or 'ml'; this "
                             f"fit is {fit.method!r}" + (" with known sds (se())" if spec.se is not None else ""))
        y = np.asarray(spec.y, float) - (0.0 if spec.offset is None else np.asarray(spec.offset, float))
        shape, data = prepare(np.asarray(spec.X, float), y, list(spec.blocks))
        n, p, reml = shape.n, shape.p, bool(out.reml)

        def parts(varpar):
            f = factorise(varpar[:-1], data, shape)
            sigma2 = varpar[-1] ** 2
            RX_inv = jax.scipy.linalg.solve_triangular(f.RX, jnp.eye(p), lower=True)
            deviance = f.log_det_L + f.r2 / sigma2 + (n - p if reml else n) * (_LOG_2PI + jnp.log(sigma2))
            return deviance + (f.log_det_RX if reml else 0.0), sigma2 * RX_inv.T @ RX_inv

        varpar = jnp.asarray(np.append(np.asarray(out.theta, float), out.sigma))
        hessian = np.asarray(jax.jit(jax.hessian(lambda v: parts(v)[0]))(varpar))
        self.vcov = np.asarray(parts(varpar)[1])
        self.jacobian = np.asarray(jax.jit(jax.jacfwd(lambda v: parts(v)[1]))(varpar))
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
        nu = np.array([self.df(row) for row in rotated])
        E = float(np.sum(np.where(nu > 2.0, nu / (nu - 2.0), 0.0)))
        den_df = 2.0 * E / (E - q) if E > q else np.nan
        return {"num_df": q, "den_df": den_df, "F": F, "p": float(stats.f.sf(F, q, den_df))}


def fixef_table(fit, df: str, level: float = 0.95) -> pd.DataFrame:
    """The fixed effects with df, t, p and t intervals by ``df``'s method."""
    method = check_method(df)
    pieces = Satterthwaite(fit)
    rows = [pieces.t_test(row) for row in np.eye(len(pieces.beta))]
    table = pd.DataFrame(rows, index=pd.Index(list(fit.spec.fixed_names), name="term"))
    half = stats.t.ppf(0.5 + level / 2.0, table["df"]) * table["se"]
    table = table.assign(lower=table["estimate"] - half, upper=table["estimate"] + half)
    table.attrs["df"] = method
    return table[["estimate", "se", "df", "t", "p", "lower", "upper"]]
