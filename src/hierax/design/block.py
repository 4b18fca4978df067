"""The random-effects block: the one block type of hierax.

A group term ``(1 + x | county)`` becomes a :class:`Block`: the per-row effect design ``Z``
(n, q), the integer ``group_index`` (n,) of each row's level, and the level names; the full
random-effects matrix (n x levels*q) is never formed. Every stage reads this one type:

* the design builds it from the formula and the data (``hierax.design.build``);
* the model stage fills in what a Bayesian model adds, its priors, its parameterisation and what
  each level's effects vary around (``hierax.model.spec.specify``, by :func:`dataclasses.replace`);
* the engines (REML, Laplace, the collapsed and the full NUTS densities) read ``Z``,
  ``group_index``, ``num_levels``, ``num_terms``, ``correlated`` and ``width``; compiled code
  depends on its :attr:`Block.shape` alone, the hashable part that a jit cache can key on;
* new data (prediction) give the same block on other rows (:meth:`Block.on_rows`), where an
  unseen level has index -1 and its label in ``new_labels``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np


class BlockShape(NamedTuple):
    """What compiled code depends on in a block (no arrays): hashable, so engines and densities
    key their compiled programs on it. ``parents`` is ((parent block name, ((here, there), ...)),
    ...): which of this block's effects vary around which of a nesting block's."""

    name: str
    num_levels: int
    num_terms: int
    has_cor: bool
    parameterisation: str
    parents: tuple
    dpar: str

    @property
    def width(self) -> int:
        """levels x q: the block's columns of the random-effects design."""
        return self.num_levels * self.num_terms


@dataclass(frozen=True)
class Block:
    """One group term: effects ``terms`` that vary over ``levels`` of ``group``.

    Attributes
    ----------
    name : unique name of the block (the group label, with ``.2`` etc. if a group repeats; a
        distributional parameter's blocks end in ``__<dpar>``).
    group : the grouping factor's label, e.g. ``county`` or ``batch:cask``.
    terms : coefficient names of the varying effects, e.g. ``("(Intercept)", "floor")``.
    levels : level names, in the order of the effects' rows.
    Z : (n, q) float array, the value multiplying each effect in each row.
    group_index : (n,) int array, the level of each row (-1: a level the fit has not seen).
    correlated : False for ``||`` (independent effects).
    sd_priors : one prior per effect (empty until the model stage, and for frequentist fits).
    cor_prior : an LKJ prior when the effects are correlated and q > 1, else None.
    parameterisation : "noncentered" or "centered" for every level, or "auto": each level chosen
        by the sampler from how strongly the data inform it (``hierax.density.centering``).
    mean_design : (levels, q, p) or None: the fixed part of each level's mean is
        ``mean_design @ beta`` (``hierax.model.hierarchy``).
    parents : the coarser blocks that nest this one (``hierax.model.hierarchy.Parent``).
    dpar : the distributional parameter whose linear predictor the block enters.
    new_labels : on new data, (n,) the label of each row's unseen level (None where seen).
    """

    name: str
    group: str
    terms: tuple
    levels: tuple
    Z: np.ndarray
    group_index: np.ndarray
    correlated: bool
    sd_priors: tuple = ()
    cor_prior: object = None
    parameterisation: str = "auto"
    mean_design: np.ndarray | None = None
    parents: tuple = ()
    dpar: str = "mu"
    new_labels: np.ndarray | None = None

    @classmethod
    def from_index(cls, Z, group_index, num_levels: int, correlated: bool = True, name: str = "g") -> Block:
        """A block from its arrays alone, for callers of an engine without a model (tests,
        benchmarks): levels are named 0 .. num_levels - 1 and terms z0, z1, ..."""
        Z = np.asarray(Z, float)
        return cls(name, name, tuple(f"z{k}" for k in range(Z.shape[1])), tuple(range(num_levels)), Z,
                   np.asarray(group_index), correlated)

    def on_rows(self, Z, group_index, new_labels=None) -> Block:
        """The same block on other rows (new data): ``group_index`` -1 marks an unseen level,
        whose label is in ``new_labels``."""
        group_index = np.asarray(group_index, np.int64)
        labels = np.full(len(group_index), None) if new_labels is None else np.asarray(new_labels, dtype=object)
        return replace(self, Z=Z, group_index=group_index, new_labels=labels)

    @property
    def label(self) -> str:
        """The block as labels name it (``sd[label][term]``): its name for the mean's blocks, its
        grouping factor's for a formula's (whose terms carry the parameter: ``sigma_(Intercept)``)."""
        return self.name if self.dpar == "mu" else self.group

    @property
    def num_levels(self) -> int:
        return len(self.levels)

    @property
    def num_terms(self) -> int:
        return len(self.terms)

    @property
    def width(self) -> int:
        """levels x q: the block's columns of the random-effects design, as the engines count them."""
        return self.num_levels * self.num_terms

    @property
    def has_cor(self) -> bool:
        """Whether the block's effects are correlated (an LKJ prior in a Bayesian model)."""
        return self.correlated and self.num_terms > 1

    @property
    def shape(self) -> BlockShape:
        """The block's static part (:class:`BlockShape`)."""
        parents = tuple((p.block, tuple(p.terms)) for p in self.parents)
        return BlockShape(self.name, self.num_levels, self.num_terms, self.has_cor, self.parameterisation, parents,
                          self.dpar)
