"""hierax: hierarchical models from lme4/brms formulas, with NUTS in JAX.

>>> import hierax as hx
>>> fit = hx.fit("y ~ x + (1 + x | g)", data)     # doctest: +SKIP
"""

import warnings

warnings.filterwarnings("ignore", message="ArviZ is undergoing", category=FutureWarning)

from hierax import _jax_setup  # noqa: F401,E402  (must run before JAX starts)
from hierax.api import fit
from hierax.errors import DataError, FormulaError, HieraxError, ModelError, ModeWarning
from hierax.formula import parse_formula
from hierax.model.priors import LKJ, Exponential, HalfCauchy, HalfNormal, HalfStudentT, Normal, StudentT
from hierax.results import FitResult
from hierax.results.mixedfit import MixedFit, likelihood_ratio_test as lrt
from hierax.workflow import (
    compare, compare_pooling, logo, loo, model, recover, sample_prior, sample_prior_predictive, sbc, simulate, waic,
)

__version__ = "0.1.0"

__all__ = [
    "fit", "FitResult", "MixedFit", "lrt", "parse_formula",
    "sample_prior", "sample_prior_predictive", "compare_pooling", "loo", "waic", "compare", "logo",
    "model", "simulate", "recover", "sbc",
    "HieraxError", "FormulaError", "DataError", "ModelError", "ModeWarning",
    "Normal", "StudentT", "HalfNormal", "HalfStudentT", "HalfCauchy", "Exponential", "LKJ",
]
