"""Results: the FitResult record, tidy tables, InferenceData building, diagnostics."""

from hierax.results.fitresult import FitResult

__all__ = ["FitResult"]
