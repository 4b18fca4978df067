"""A missing response inside the model: ``y | mi() ~ x + (1 | g)`` (brms's ``mi()``).

A row whose response is missing (NaN) adds a parameter, its value y_mis, with the model's own
distribution given the row's predictors and group. Its likelihood term integrates to one over
y_mis, so the joint posterior factorises,

    p(theta, y_mis | y_obs) = p(theta | y_obs) p(y_mis | theta),

and it is sampled exactly in two steps: NUTS on the observed rows, then at every posterior draw
a response drawn at the missing rows from that draw's parameters (a level of a grouping factor
seen only in missing rows gets effects drawn from the fitted population, as for a new group).
The draws join the posterior as ``Ymi`` (brms's name), one column per missing row, labelled by
the data's index; :meth:`FitResult.imputed` summarises them (``hierax.results.imputed``).

This is the missing *response*. A missing predictor (``mi(x)``) changes the posterior of the other
parameters and needs a model for x inside the fit; it is not this.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from hierax.design import as_pandas
from hierax.errors import DataError, ModelError
from hierax.formula import as_bf
from hierax.formula.nodes import to_text
from hierax.results.imputed import IMPUTED, IMPUTED_DIM



def split_missing_response(formula, data):
    """(rows with the response observed, rows with it missing) for a formula with ``y | mi()``,
    or None for any other formula.

    Warns where no response is missing (mi() then changes nothing); refuses a response that is
    an expression (mi() imputes a column) and a formula with a missing value elsewhere in the
    rows being imputed, which have nothing to be imputed from.
    """
    bf = as_bf(formula)
    response = bf.mean.response
    if not response.mi:
        return None
    if response.trunc_lb is not None or response.trunc_ub is not None:
        raise ModelError("y | mi() with trunc() is not available yet: the imputed values would have to respect the "
                         "bounds, which the family's draws do not")
    frame = labelled(data)
    name = to_text(response.value)
    if name not in frame.columns:
        raise DataError(f"mi() imputes a column, and the response {name!r} is not one of the data's columns; "
                        "compute it as a column first")
    values = pd.to_numeric(frame[name], errors="coerce") if frame[name].dtype == object else frame[name]
    missing = np.asarray(pd.isna(values))
    if not missing.any():
        warnings.warn(f"mi() on {name!r}, which has no missing values: there is nothing to impute, and the fit is "
                      f"the same as without mi()", UserWarning, stacklevel=4)
    if missing.all():
        raise DataError(f"every value of {name!r} is missing: there is no observed response to fit")
    others = [column for column in bf.variables if column != name and column in frame.columns]
    incomplete = frame.loc[missing, others].isna().any(axis=1).to_numpy()
    if incomplete.any():
        rows = list(frame.index[missing][incomplete][:5])
        raise DataError(f"rows {rows} miss the response and a predictor too; mi() imputes the response from the "
                        "predictors, so those must be present (drop such rows, or impute the predictor outside)")
    return frame.loc[~missing], frame.loc[missing]


def labelled(data) -> pd.DataFrame:
    """``data`` as pandas with its own row labels (``as_pandas`` numbers the rows from 0), so that
    imputed values are labelled by the rows they belong to."""
    frame = as_pandas(data)
    if isinstance(data, pd.DataFrame):
        frame.index = data.index
    return frame


def refuse_other_methods(formula, method: str) -> None:
    """``y | mi()`` by NUTS only: a REML or Laplace fit has no draws to carry the imputations."""
    if as_bf(formula).mean.response.mi and method != "nuts":
        raise ModelError(f"y | mi() (a missing response imputed inside the fit) needs posterior draws; fit it with "
                         f"method='nuts', not {method!r} (or drop the rows with a missing response)")


def with_imputations(fit, missing: pd.DataFrame, seed: int):
    """``fit`` with the missing rows' responses drawn at every posterior draw (module docstring),
    as the posterior variable :data:`IMPUTED`."""
    import dataclasses

    import xarray as xr

    from hierax.results import _arviz
    from hierax.results.predict import response_draws

    post = _arviz.group(fit.idata, "posterior")      # a Dataset under either ArviZ
    chains, draws = post.sizes["chain"], post.sizes["draw"]
    values = response_draws(fit, missing, seed).reshape(chains, draws, len(missing))
    labels = np.asarray(missing.index)
    variable = xr.DataArray(values, dims=("chain", "draw", IMPUTED_DIM),
                            coords={"chain": post["chain"], "draw": post["draw"], IMPUTED_DIM: labels})
    idata = _arviz.with_groups(fit.idata, posterior=post.assign({IMPUTED: variable}))
    return dataclasses.replace(fit, idata=idata)
