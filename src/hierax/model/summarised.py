"""The model of out-of-core data: a :class:`~hierax.model.spec.ModelSpec` from sums, not rows.

``specify`` reads a design's rows for its checks (a constant response, a two-valued one, as many
effects as rows, collinear columns) and for the default priors' scales. Out-of-core data
(``hierax.outofcore``) give the same facts as numbers merged over chunks: the response's least
and greatest values and first distinct values, the moments of the response and of each column,
and the R factor of [X y], whose leading block has X's singular values. The spec holds no rows:
its arrays are empty and ``rows_elsewhere`` holds the number of rows and the sums the engines
fit from.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from hierax.design.build import check_full_rank
from hierax.errors import ModelError
from hierax.model.checks import check_block_against_residual, refuse_constant_response, warn_two_valued
from hierax.model.families import get_family
from hierax.model.prior_rules import DataScales, resolve_priors
from hierax.model.prior_scale import location_and_scale
from hierax.model.spec import ModelSpec, RowsElsewhere, _parameterisations


def specify_summarised(design, family: str, link: str | None, sums, priors: dict | None = None,
                       parameterisation=None, bayesian: bool = False) -> ModelSpec:
    """The spec of a gaussian model of out-of-core data (``specify``'s counterpart).

    Parameters
    ----------
    design : ``hierax.design.summary.SummarisedDesign``.
    sums : ``hierax.outofcore.statistics.Statistics`` over every row; read here are ``R`` (of
        [X y]), ``response`` (moments of y less the offset), ``outcome`` (of y), ``distinct``
        (its first distinct values) and ``columns`` (moments of each column of X).
    priors, parameterisation, bayesian : as :func:`~hierax.model.specify`'s.
    """
    fam, lnk = get_family(family, link)
    if not (fam.collapsible and lnk.name == "identity"):
        raise ModelError(f"out-of-core data are fitted with family='gaussian' and the identity link (their sums are "
                         f"the model's sufficient statistics), not {fam.name!r} with link {lnk.name!r}; fit other "
                         "families to a data frame in memory")
    p = len(design.fixed_names)
    has_offset = design.info.formula.offset is not None
    check_full_rank(np.asarray(sums.R)[:p, :p], list(design.fixed_names))
    for block in design.random:
        check_block_against_residual(block, design.num_obs)
    refuse_constant_response(sums.response.low, sums.response.high, design.response_name, has_offset)
    warn_two_valued(np.array(sorted(sums.distinct)), design.response_name)
    blocks, table = design.random, None
    if bayesian:
        table = resolve_priors(design, fam, fam.dpars, priors or {}, scales=_scales(sums))
        choice = _parameterisations(design, parameterisation)
        blocks = tuple(dataclasses.replace(b, sd_priors=table.sd_priors[b.name], cor_prior=table.cor_priors.get(b.name),
                                           parameterisation=choice[b.name]) for b in blocks)
    return ModelSpec(fam, lnk, np.zeros(0), np.zeros((0, p)), design.fixed_names, table.fixed_priors if table else (),
                     blocks, dict(table.dpar_priors) if table else {}, None, None, None, table,
                     rows_elsewhere=RowsElsewhere(design.num_obs, sums))


def _scales(sums) -> DataScales:
    """The default rule's scales (``prior_rules.data_scales``) from moments: a gaussian response
    is not transformed."""
    y = sums.outcome
    location, scale = location_and_scale(y.mean, y.sd) if y.n >= 2 else (0.0, 1.0)
    return DataScales(location, scale, tuple(column.sd if column.n > 1 else 0.0 for column in sums.columns))
