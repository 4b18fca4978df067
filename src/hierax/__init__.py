"""hierax: hierarchical models from lme4/brms formulas, with NUTS in JAX.

>>> import hierax as hx
>>> fit = hx.fit("y ~ x + (1 + x | g)", data)     # doctest: +SKIP

The public names load on first use (PEP 562): ``import hierax`` imports neither JAX nor ArviZ,
so the command line answers ``hierax --help`` at once, and a script pays for JAX only when it
fits. ``_jax_setup`` still runs here, first, so that JAX is configured before any hierax module
imports it.
"""

import importlib
import importlib.util
import sys
import types
import warnings

warnings.filterwarnings("ignore", message="ArviZ is undergoing", category=FutureWarning)

from hierax import _jax_setup  # noqa: F401,E402  (must run before JAX starts)
from hierax.errors import DataError, FormulaError, HieraxError, ModelError, ModeWarning  # noqa: E402

__version__ = "0.1.0"

# public name -> (module, attribute): what ``hx.NAME`` loads on first use.
_LAZY = {
    "fit": ("hierax.api", "fit"),
    "parse_formula": ("hierax.formula", "parse_formula"),
    "bf": ("hierax.formula", "bf"),
    "FitResult": ("hierax.results", "FitResult"),
    "MixedFit": ("hierax.results.mixedfit", "MixedFit"),
    "lrt": ("hierax.results.mixedfit", "likelihood_ratio_test"),
    "anova": ("hierax.results.anova", "anova"),
    **{name: ("hierax.model.priors", name)
       for name in ("Normal", "StudentT", "HalfNormal", "HalfStudentT", "HalfCauchy", "Exponential", "Gamma",
                    "Beta", "LKJ")},
    **{name: ("hierax.workflow", name)
       for name in ("bootstrap", "compare", "compare_pooling", "conditional_effects", "deconvolve", "gee", "avg_comparisons", "avg_predictions", "avg_slopes", "hypothesis", "npmle", "logo", "loo", "model", "pool_fits", "population_averaged",
                    "recover", "sample_prior", "sample_prior_predictive", "sbc", "simulate", "waic")},
}

__all__ = [
    "fit", "FitResult", "MixedFit", "lrt", "anova", "parse_formula", "bf",
    "sample_prior", "sample_prior_predictive", "compare_pooling", "loo", "waic", "compare", "logo",
    "model", "simulate", "recover", "sbc", "pool_fits", "gee", "population_averaged", "npmle", "deconvolve", "hypothesis", "conditional_effects", "bootstrap", "avg_comparisons", "avg_slopes",
    "avg_predictions",
    "HieraxError", "FormulaError", "DataError", "ModelError", "ModeWarning",
    "Normal", "StudentT", "HalfNormal", "HalfStudentT", "HalfCauchy", "Exponential", "Gamma", "Beta", "LKJ",
]


def __getattr__(name: str):
    """Load a public name on first use and keep it; other names are subpackages (``hx.plots``)."""
    if name in _LAZY:
        module, attribute = _LAZY[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """The ``hierax`` module, keeping ``hx.model`` the function when the subpackage loads.

    Importing a submodule binds it on its package: the first ``import hierax.model.spec``
    (which ``hx.fit`` does) would set ``hierax.model`` to the subpackage and hide the public
    function ``hx.model`` of the same name. The eager ``__init__`` avoided this by binding the
    function last; a lazy one keeps the function by refusing that one rebinding.
    """

    def __setattr__(self, name: str, value) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
