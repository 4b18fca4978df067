"""Predictions for existing and new groups, from NUTS and REML/ML/Laplace fits alike.

The code lives in :mod:`hierax.results.predict`: a fit's own ``predict()`` and
``posterior_predictive()`` need it, and ``results`` never imports ``workflow`` (the import rules of
``shared/DESIGN.md``). Its names stay importable from here, where scripts and the workflow's
pooling comparison have always found them.
"""

from hierax.results.predict import (KINDS, NEW_GROUPS, ROWS_PER_CHUNK_DRAWS, ParameterDraws, linear_predictor_draws,
                                    observed_design, parameter_draws, plug_in, posterior_predictive, predict,
                                    summarise)

__all__ = ["KINDS", "NEW_GROUPS", "ROWS_PER_CHUNK_DRAWS", "ParameterDraws", "linear_predictor_draws",
           "observed_design", "parameter_draws", "plug_in", "posterior_predictive", "predict", "summarise"]
