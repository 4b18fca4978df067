"""The model of out-of-core data: a :class:`~hierax.model.spec.ModelSpec` from sums, not rows.

``specify`` reads a design's rows for its checks (a constant response, a two-valued one, as many
effects as rows, collinear columns). Out-of-core data (``hierax.outofcore``) give the same
facts as numbers merged over chunks: the response's least and greatest values and first
distinct values, and the R factor of [X y], whose leading block has X's singular values. The
spec holds no rows: its arrays are empty and ``rows_elsewhere`` holds the number of rows and the
sums the engine fits from.
"""

from __future__ import annotations

import numpy as np

from hierax.design.build import check_full_rank
from hierax.errors import ModelError
from hierax.model.checks import check_block_against_residual, refuse_constant_response, warn_two_valued
from hierax.model.families import get_family
from hierax.model.spec import ModelSpec, RowsElsewhere


def specify_summarised(design, family: str, link: str | None, low: float, high: float, distinct,
                       R: np.ndarray, has_offset: bool, sums) -> ModelSpec:
    """The frequentist spec of a gaussian model of out-of-core data.

    Parameters
    ----------
    design : ``hierax.design.summary.SummarisedDesign``.
    low, high, distinct : the least and greatest value of the response less the offset, and its
        first distinct values (at least three where there are three).
    R : the R factor of [X y] over every row.
    sums : what the engine fits from (``rows_elsewhere.sums``).
    """
    fam, lnk = get_family(family, link)
    if not (fam.collapsible and lnk.name == "identity"):
        raise ModelError(f"out-of-core data are fitted with family='gaussian' and the identity link (their sums are "
                         f"the model's sufficient statistics), not {fam.name!r} with link {lnk.name!r}; fit other "
                         "families to a data frame in memory")
    p = len(design.fixed_names)
    check_full_rank(np.asarray(R)[:p, :p], list(design.fixed_names))
    for block in design.blocks:
        check_block_against_residual(block, design.num_obs)
    refuse_constant_response(low, high, design.response_name, has_offset)
    warn_two_valued(np.array(sorted(distinct)), design.response_name)
    return ModelSpec(fam, lnk, np.zeros(0), np.zeros((0, p)), design.fixed_names, (), design.blocks, {}, None, None,
                     None, None, rows_elsewhere=RowsElsewhere(design.num_obs, sums))
