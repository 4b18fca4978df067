"""From a formula (text or ``hx.bf``) and data to the model: designs, then the specification.

Every entry point that starts from a formula (fitting, restoring a saved fit, simulating,
sampling the prior) builds its model here, so a distributional formula means the same to all.
"""

from __future__ import annotations

from hierax.design import Design, build_design
from hierax.formula import as_bf
from hierax.model.spec import ModelSpec, specify


def build_model(formula, data, family: str = "gaussian", link: str | None = None, priors: dict | None = None,
                parameterisation=None, bayesian: bool = True) -> tuple[Design, ModelSpec]:
    """The mean's design and the model's specification for ``formula`` on ``data``.

    ``formula`` is text (``"y ~ x + (1 | g)"``, or ``"y ~ x; sigma ~ x"``) or ``hx.bf(...)``;
    each parameter's formula is built on the same rows, with the mean's response. The other
    arguments are :func:`hierax.model.specify`'s.
    """
    bf = as_bf(formula)
    design = build_design(bf.mean, data)
    dpar_designs = {name: build_design(bf.dpar_formula(name), data) for name, _ in bf.dpars}
    return design, specify(design, family, link, priors, parameterisation, bayesian, dpar_designs)
