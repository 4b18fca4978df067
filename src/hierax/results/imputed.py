"""The imputed responses of ``y | mi() ~ ...`` (drawn by ``hierax.missing``) as a table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hierax.errors import ModelError
from hierax.results import _arviz
from hierax.model.layout import PARAMS

IMPUTED = "Ymi"                     # the posterior variable of the imputed responses (brms's name)
IMPUTED_DIM = "Ymi_row"             # its dimension: the data's row labels


def imputed_table(idata, level: float = 0.9) -> pd.DataFrame:
    """Each imputed response's posterior mean, sd and central interval (``q05``/``q95`` at the
    default level, as ``summary()``), indexed by the data's row labels."""
    if not 0.0 < level < 1.0:
        raise ModelError(f"level must be between 0 and 1, got {level!r}")
    post = _arviz.group(idata, "posterior")          # a Dataset under either ArviZ
    if IMPUTED not in post:
        raise ModelError("this fit imputed nothing: fit.imputed() is for a response with mi(), e.g. "
                         "hx.fit('y | mi() ~ x + (1 | g)', data), whose missing values are then drawn in the fit; a "
                         "latent predictor's values are fit.imputed('x') of a fit with mi(x) or me(x, sdx)")
    values = np.asarray(post[IMPUTED])
    flat = values.reshape(-1, values.shape[-1])
    low, high = (1.0 - level) / 2.0, (1.0 + level) / 2.0
    lower, upper = np.quantile(flat, [low, high], axis=0)
    names = [f"q{round(100 * low):02d}", f"q{round(100 * high):02d}"]
    return pd.DataFrame({"estimate": flat.mean(axis=0), PARAMS.sd: flat.std(axis=0, ddof=1), names[0]: lower,
                         names[1]: upper}, index=pd.Index(np.asarray(post[IMPUTED_DIM]), name="row"))


def latent_variable(name: str, measured: bool) -> tuple:
    """(posterior variable, its row dimension) of a latent predictor's values, brms's names:
    ``Ymi_x`` for an imputed x (mi()), ``Xme_x`` for the true values of a measured one (me())."""
    return (f"Xme_{name}", f"Xme_row_{name}") if measured else (f"{IMPUTED}_{name}", f"{IMPUTED_DIM}_{name}")
