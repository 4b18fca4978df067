"""The model specification: design arrays + family + priors + parameter layout.

``specify`` is where a model is checked as a whole: the family against the response, the
priors against the parameters they name. Everything after it trusts its input.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from hierax.design import Block, Design
from hierax.design.incomplete import INTERVAL, LEFT, NONE, RIGHT, Truncation, within_support  # noqa: F401 (codes: the density's)
from hierax.errors import ModelError
from hierax.model import layout
from hierax.model.families import LINKS, Family, Link, get_family
from hierax.model.families.cdf import COUNT_GRID_LIMIT, DISTRIBUTIONS
from hierax.model.families.ordinal import num_thresholds
from hierax.model.hierarchy import level_mean_design, nesting_parents
from hierax.model.checks import check_identifiable
from hierax.model.prior_rules import PriorTable, resolve_priors

PARAMETERISATIONS = ("auto", "noncentered", "centered")
SE_FIXES = layout.RESIDUAL_SD   # the dpar that se(s) replaces by known values (brms's se(s, sigma = FALSE))


@dataclass(frozen=True)
class Predictor:
    """The linear predictor of a distributional parameter (``sigma ~ x + (1 | g)``), on the
    parameter's link scale: eta = X beta + offset + its blocks' effects. The mean's is
    ``ModelSpec.predictors["mu"]``; the others are ``ModelSpec.dpar_predictors``.

    For a parameter other than the mean, names carry the parameter as a prefix, as brms's summaries do: fixed effects
    ``sigma_(Intercept)``, ``sigma_x``; each block's terms ``sigma_(Intercept)`` (its group is the
    grouping factor's, its name ``<block>__sigma``, unique in the model). Its group effects are
    sampled non-centred: a scale parameter's data inform each level's effect weakly.
    """

    dpar: str
    link: Link
    X: np.ndarray
    fixed_names: tuple
    fixed_priors: tuple
    blocks: tuple
    offset: np.ndarray | None
    info: object                        # the design's DesignInfo, to encode new data

    @property
    def num_fixed(self) -> int:
        return len(self.fixed_names)


@dataclass(frozen=True)
class RowsElsewhere:
    """Where a model's rows are when they never come into memory (``hierax.outofcore``: a Dask
    frame, Parquet files): their number and their sums (the fit's sufficient statistics,
    ``hierax.outofcore.statistics.Statistics``). The spec's row arrays then have no rows, and
    whatever needs the rows themselves asks :meth:`ModelSpec.require_rows` first."""

    num_obs: int
    sums: object


@dataclass(frozen=True)
class ModelSpec:
    """Everything the log density needs, and nothing about formulas or data frames."""

    family: Family
    link: Link
    y: np.ndarray
    X: np.ndarray
    fixed_names: tuple
    fixed_priors: tuple
    blocks: tuple
    dpar_priors: dict                   # {dpar name: Prior} for each scalar dpar (empty when not Bayesian)
    trials: np.ndarray | None
    se: np.ndarray | None
    offset: np.ndarray | None
    prior_table: PriorTable | None      # None for a frequentist model (REML, ML, Laplace)
    dpar_predictors: tuple = ()         # a Predictor for each parameter with a formula (sigma ~ x)
    thresholds: int = 0                 # ordinal families: K - 1 ordered thresholds (Intercept[k])
    threshold_priors: tuple = ()
    weights: np.ndarray | None = None   # weights(w): each row's log-likelihood multiplied by w (brms)
    se_sigma: bool = False              # se(s, sigma = TRUE): sigma estimated, added to se in quadrature
    censoring: object = None            # cens(): hierax.design.incomplete.Censoring, or None
    truncation: object = None           # trunc(): hierax.design.incomplete.Truncation, or None
    count_grid: int = 0                 # counts 0..count_grid-1 that a censored count's F sums over (cdf.py)
    rows_elsewhere: RowsElsewhere | None = None     # out-of-core data: y, X and the blocks' rows are empty

    @property
    def num_obs(self) -> int:
        return len(self.y) if self.rows_elsewhere is None else self.rows_elsewhere.num_obs

    def require_rows(self, what: str) -> None:
        """Refuse ``what`` (a sentence's subject) for a model of out-of-core data, whose rows the
        spec does not hold: computed from its empty arrays it would be silently wrong."""
        if self.rows_elsewhere is not None:
            raise ModelError(f"{what} needs the fit's rows, and this model was fitted to out-of-core data (a Dask "
                             "frame or Parquet files) whose rows stay out of memory; pass the rows wanted as "
                             "newdata= where the method takes it (e.g. fit.predict(newdata=frame)), or fit a sample "
                             "in memory")

    @property
    def scalar_dpars(self) -> tuple:
        """The family's parameters besides the mean that are estimated as one number each
        (:class:`~hierax.model.families.Dpar`): all of them, less a residual sd that se() fixes
        (not with ``se(s, sigma = TRUE)``, which estimates one beside it)."""
        predicted = {p.dpar for p in self.dpar_predictors}
        fixed = () if self.se_sigma else tuple(self.known_dpars())
        return tuple(d for d in self.family.dpars if d.name not in fixed and d.name not in predicted)

    def known_dpars(self) -> dict:
        """Parameters the data fix, in part or whole: {"sigma": se} for a response with se() (a
        known sd per row; :func:`with_known` combines it with an estimated sigma)."""
        return {} if self.se is None else {SE_FIXES: self.se}

    @property
    def has_sigma(self) -> bool:
        """A residual sd to estimate: the family has one and se() does not fix it."""
        return any(d.name == SE_FIXES for d in self.scalar_dpars)

    def family_aux(self) -> dict:
        """What the family's functions read besides the response and the parameters (trials; the
        grid of counts of a censored or truncated negative binomial's distribution function)."""
        aux = {} if self.trials is None else {"trials": self.trials}
        return aux if not self.count_grid else {**aux, "count_grid": np.arange(self.count_grid, dtype=float)}

    @property
    def incomplete(self) -> tuple:
        """Which of "censoring" and "truncation" the response has (``hierax.density.incomplete``)."""
        return tuple(name for name in ("censoring", "truncation") if getattr(self, name) is not None)

    def find_block(self, group: str | None = None) -> Block:
        """The block of grouping factor (or block name) ``group``; the first block when None."""
        if not self.blocks:
            raise ModelError("the model has no group terms such as (1 | g)")
        if group is None:
            return self.blocks[0]
        for block in self.blocks:
            if group in (block.group, block.name):
                return block
        raise ModelError(f"no group term for {group!r}; the model's are {[b.group for b in self.blocks]}")

    @property
    def predictors(self) -> dict:
        """{dpar: Predictor} for the mean and each parameter with a formula, the mean first: one
        predictor type for every linear predictor. The mean's fields are the spec's own (``X``,
        ``blocks``, ``offset``; its ``info`` is None: a fit holds the mean's design info)."""
        mean = Predictor("mu", self.link, self.X, self.fixed_names, self.fixed_priors, self.blocks, self.offset, None)
        return {"mu": mean, **{p.dpar: p for p in self.dpar_predictors}}

    @property
    def all_blocks(self) -> tuple:
        """The mean's blocks, then each predicted parameter's."""
        return tuple(b for predictor in self.predictors.values() for b in predictor.blocks)

    @property
    def blocks_coarse_to_fine(self) -> tuple:
        """Blocks by increasing number of levels, so that every parent comes before its children."""
        return tuple(sorted(self.blocks, key=lambda b: b.num_levels))


def specify(design: Design, family: str = "gaussian", link: str | None = None, priors: dict | None = None,
            parameterisation: dict | str | None = None, bayesian: bool = True,
            dpar_designs: dict | None = None) -> ModelSpec:
    """Combine a design with a family and priors into a :class:`ModelSpec`.

    Parameters
    ----------
    design : from :func:`hierax.design.build_design`.
    family, link : names from the registries (``hierax.model.families.FAMILIES``).
    priors : dict, optional
        Overrides of the default priors, keyed by class (``"Intercept"``, ``"b"``, ``"sd"``,
        ``"cor"``, ``"sigma"``) or by class and name (``"b[floor]"``, ``"sd[county]"``,
        ``"sd[county][floor]"``, ``"cor[county]"``).
    parameterisation : "auto" (default: chosen per level during warmup), "noncentered",
        "centered", or a dict of these keyed by group name (groups not named get "auto").
    bayesian : False for a frequentist model (REML, ML, Laplace): no priors are built, so
        nothing about them (their rule, their scale) can stop a fit that does not use them.
    dpar_designs : {parameter name: Design} for each of the family's parameters with a formula
        (``hx.bf(..., sigma="~ x")``), built on the same rows (``hierax.model.build``).

    Raises
    ------
    ModelError, DataError
        Unknown family or link, a response the family cannot model, unknown prior keys, a model
        that the data cannot identify.
    """
    fam, lnk = get_family(family, link)
    if fam.ordinal:
        design = _thresholds_for_intercept(design)
    if not fam.needs_trials and design.trials is not None:
        raise ModelError(f"cbind()/trials() describe binomial data; use family='binomial', not {fam.name!r}")
    fam.check(design.y, {} if design.trials is None else {"trials": design.trials})
    if design.se is not None and not fam.collapsible:
        raise ModelError("se() (a known measurement sd) is only available for the gaussian family")
    check_identifiable(design, fam)
    censoring, truncation, count_grid = incomplete_response(design, fam)
    predicted = _predicted(fam, design, dpar_designs or {})
    free = tuple(d for d in fam.dpars if not (design.se is not None and not design.se_sigma and d.name == SE_FIXES)
                 and d.name not in {dpar.name for dpar, _ in predicted})
    choice = _parameterisations(design, parameterisation)
    thresholds = num_thresholds(design.y) if fam.ordinal else 0
    table = resolve_priors(design, fam, free, priors or {}, predicted, thresholds) if bayesian else None
    blocks = tuple(
        dataclasses.replace(b, sd_priors=table.sd_priors[b.name] if table else (),
                            cor_prior=table.cor_priors.get(b.name) if table else None, parameterisation=choice[b.name],
                            mean_design=level_mean_design(b, design.X), parents=nesting_parents(b, design.random))
        for b in design.random
    )
    predictors = tuple(_predictor(dpar, dpar_design, table) for dpar, dpar_design in predicted)
    return ModelSpec(fam, lnk, design.y, design.X, design.fixed_names, table.fixed_priors if table else (), blocks,
                     dict(table.dpar_priors) if table else {}, design.trials, design.se, design.offset, table,
                     predictors, thresholds, table.threshold_priors if table else (), design.weights,
                     design.se is not None and design.se_sigma, censoring, truncation, count_grid)


def with_known(params: dict, known: dict) -> dict:
    """The family's parameters by name with those the data fix put in: a known sd replaces the
    parameter (``se(s)``), or, where the model also estimates it (``se(s, sigma = TRUE)``, brms's
    meta-analysis with residual heterogeneity), adds to it in quadrature: each row's sd is
    sqrt(se^2 + sigma^2), the known sampling error and the extra spread being independent."""
    out = dict(params)
    for name, value in known.items():
        # a square root, not ** 0.5: XLA's CPU pow costs 3x its sqrt (0.33 against 0.12 ms on 10,000 rows)
        out[name] = value if name not in params else jnp.sqrt(value ** 2 + params[name] ** 2)
    return out


def _thresholds_for_intercept(design: Design) -> Design:
    """An ordinal model's design without the mean's intercept, whose place the thresholds take
    (brms and clmm drop it the same way)."""
    if "(Intercept)" not in design.fixed_names:
        return design
    keep = [j for j, name in enumerate(design.fixed_names) if name != "(Intercept)"]
    return dataclasses.replace(design, X=design.X[:, keep], fixed_names=tuple(design.fixed_names[j] for j in keep))


def _predicted(family: Family, design: Design, dpar_designs: dict) -> tuple:
    """(Dpar, its design with blocks named for the model) for each parameter given a formula,
    checked against the family's parameters (with the nearest name for a misspelt one)."""
    out = []
    for name, dpar_design in dpar_designs.items():
        if name not in family.dpar_names:
            close = difflib.get_close_matches(name, family.dpar_names, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ModelError(f"the {family.name} family has no parameter {name!r} to give a formula; {hint}its "
                             f"parameters besides the mean: {', '.join(family.dpar_names) or 'none'}")
        if design.se is not None and name == SE_FIXES:
            raise ModelError(f"se() fixes {name}; it cannot also have a formula (nor with se(s, sigma = TRUE))")
        blocks = tuple(dataclasses.replace(b, name=f"{b.name}__{name}", terms=tuple(f"{name}_{t}" for t in b.terms))
                       for b in dpar_design.random)
        out.append((family.dpar(name), dataclasses.replace(dpar_design, random=blocks)))
    return tuple(out)


def _predictor(dpar, design: Design, table) -> Predictor:
    """The Predictor of ``dpar`` from its design (blocks already named) and the prior table.
    Its group effects are non-centred (see :class:`Predictor`)."""
    sd_priors = table.sd_priors if table else {}
    blocks = tuple(dataclasses.replace(b, sd_priors=sd_priors.get(b.name, ()),
                                       cor_prior=table.cor_priors.get(b.name) if table else None,
                                       parameterisation="noncentered", dpar=dpar.name)
                   for b in design.random)
    return Predictor(dpar.name, LINKS[dpar.link], design.X, tuple(f"{dpar.name}_{n}" for n in design.fixed_names),
                     table.formula_priors[f"b_{dpar.name}"] if table else (), blocks, design.offset, design.info)


def _parameterisations(design: Design, option) -> dict:
    names = [b.name for b in design.random]
    if option is None or isinstance(option, str):
        value = option or "auto"
        choice = {name: value for name in names}
    elif isinstance(option, dict):
        unknown = set(option) - set(names)
        if unknown:
            raise ModelError(f"parameterisation given for unknown group(s) {sorted(unknown)}; groups: {names}")
        choice = {name: option.get(name, "auto") for name in names}
    else:
        raise ModelError("parameterisation must be 'auto', 'noncentered', 'centered' or a dict by group")
    for name, value in choice.items():
        if value not in PARAMETERISATIONS:
            raise ModelError(f"unknown parameterisation {value!r} for {name!r}; use one of {PARAMETERISATIONS}")
    return choice


def incomplete_response(design: Design, family: Family) -> tuple:
    """(censoring, truncation, count grid) of a design for ``family``: refused where the family
    has no distribution function (``hierax.model.families.cdf``); a count family's bounds made
    whole counts (Y >= 0.5 is Y >= 1); bounds outside the support dropped; the grid of counts a
    negative binomial's distribution function sums over, up to the largest count it is read at."""
    censoring, truncation = design.censoring, design.truncation
    if censoring is None and truncation is None:
        return None, None, 0
    distribution = DISTRIBUTIONS.get(family.name)
    if distribution is None:
        what = "censored (cens())" if censoring is not None else "truncated (trunc())"
        raise ModelError(f"{what} responses are available for the families {', '.join(DISTRIBUTIONS)}, not "
                         f"{family.name!r}")
    if truncation is not None and distribution.discrete:
        truncation = Truncation(np.ceil(truncation.lower), np.floor(truncation.upper))
    truncation = within_support(truncation, distribution.lower)
    grid = 0
    if distribution.needs_grid:
        points = [np.zeros(1)]
        if censoring is not None:
            points += [design.y[censoring.code != NONE], censoring.y2[censoring.code == INTERVAL]]
        if truncation is not None:
            points += [truncation.lower[np.isfinite(truncation.lower)] - 1.0,
                       truncation.upper[np.isfinite(truncation.upper)]]
        grid = int(np.max(np.concatenate(points))) + 1
        if grid > COUNT_GRID_LIMIT:
            raise ModelError(f"a censored or truncated {family.name} response is read at counts up to {grid - 1}; "
                             f"hierax sums its probabilities over at most {COUNT_GRID_LIMIT} counts")
    return censoring, truncation, grid
