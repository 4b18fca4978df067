"""Column scales of a design matrix, shared by the Laplace engine (which optimises on unit-scale
columns) and the sampler's model (``hierax.model.scaling``)."""

from __future__ import annotations

import numpy as np


def column_scales(X: np.ndarray) -> np.ndarray:
    """Root mean square of each column of ``X`` (1 for an all-zero column): the intercept's is 1."""
    rms = np.sqrt(np.mean(np.square(X), axis=0)) if X.shape[0] else np.ones(X.shape[1])
    return np.where(np.isfinite(rms) & (rms > 0), rms, 1.0)
