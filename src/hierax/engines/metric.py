"""The first mass matrix of warmup, from the curvature of the log density at the chains' starts.

Why. Stan's warmup starts from the unit metric, which assumes every coordinate has a posterior
scale near 1. A coefficient of a covariate in raw units breaks that: grouseticks' height (in
metres, sd 50) has a posterior sd near 0.005, so the step size must be small enough for it while
the group effects, of scale 1, need a thousand such steps to cross: every tree of the first
warmup window hit the maximum depth (1023 steps), which was 40% of a fit's time. The curvature
-d^2 log p / dx_j^2 at the start says each coordinate's scale to within a factor of a few, for
the price of a few gradients, and the adaptation refines it from there.

How. The diagonal of the Hessian by central differences of the gradient, probing many coordinates
at once: the caller groups the coordinates so that no two of a group interact (their mixed second
derivative is zero), and moving a whole group then changes each member's own gradient by its
diagonal entry alone. In a hierarchical model the levels of one grouping factor never share an
observation, so each factor's effects (per term) form one group, and a model needs two gradients
per fixed effect, variance parameter and group term, not per group effect.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

RELATIVE_STEP = 1e-4            # the central difference's step, relative to max(1, |x|) (float64)
SMALLEST, LARGEST = 1e-8, 1e4   # the inverse mass matrix's entries are clipped to this range


def curvature_metric(gradient: Callable, starts: np.ndarray, probes: np.ndarray, fallback=1.0) -> np.ndarray:
    """The inverse mass matrix diagonal 1 / (-d^2 log p / dx_j^2) at each chain's start.

    Parameters
    ----------
    gradient : ``gradient(x)``, the log density's gradient at the rows of ``x`` (chains, dim).
    starts : (chains, dim) the chains' starting points.
    probes : (groups, dim) of 0/1: the coordinates moved together. Two coordinates of one group
        must not interact (zero mixed second derivative everywhere); a coordinate in no group
        keeps the unit metric.
    fallback : the entry (a number, or one per coordinate, (dim,)) where the curvature is not
        positive (the start lies where the density is not log-concave in that coordinate) or not
        finite: by default 1, as Stan starts.

    Returns
    -------
    (chains, dim) array.
    """
    starts = np.asarray(starts, dtype=float)
    probes = np.asarray(probes, dtype=float)
    step = RELATIVE_STEP * np.maximum(1.0, np.abs(starts))
    curvature = np.zeros_like(starts)
    for probe in probes:
        move = step * probe
        difference = np.asarray(gradient(starts + move)) - np.asarray(gradient(starts - move))
        curvature += probe * (-difference / (2.0 * step))
    probed = probes.sum(axis=0) > 0
    usable = probed & np.isfinite(curvature) & (curvature > 0)
    inverse = np.where(usable, 1.0 / np.where(usable, curvature, 1.0), np.broadcast_to(fallback, curvature.shape))
    return np.clip(inverse, SMALLEST, LARGEST)


def probes_from_labels(labels: np.ndarray) -> np.ndarray:
    """(groups, dim) 0/1 probes from one integer label per coordinate (coordinates sharing a label
    are moved together; label -1: in no group)."""
    labels = np.asarray(labels)
    groups = np.unique(labels[labels >= 0])
    return (labels[None, :] == groups[:, None]).astype(float)
