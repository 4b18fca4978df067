"""Results print short in a REPL: counts and pointers to the attributes, never arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hierax as hx
from hierax.workflow.sbc import SBCResult

RNG = np.random.default_rng(2)
DATA = pd.DataFrame({"y": RNG.normal(size=60), "x": RNG.normal(size=60), "g": np.repeat(np.arange(12), 5)})


def _short(text: str, limit: int = 600) -> None:
    assert len(text) < limit, text
    assert "array(" not in text and "[[" not in text, text


def test_simulated_repr_names_truth_not_arrays():
    model = hx.model("y ~ x + (1 | g)", DATA)
    text = repr(hx.simulate(model, seed=3))
    _short(text)
    assert "60 rows in .data" in text and "sigma = " in text and "g: 12 levels" in text


@pytest.mark.sampling
def test_loo_repr_counts_pareto_k():
    fit = hx.fit("y ~ x + (1 | g)", DATA, chains=2, warmup=150, draws=150, seed=4)
    text = repr(hx.loo(fit))
    _short(text)
    assert "Pareto k:" in text and "of 60 below" in text and ".pareto_k" in text


def test_sbc_repr_says_whether_ranks_are_uniform():
    ranks = pd.DataFrame({"a": np.arange(40) % 11, "b": (np.arange(40) * 7) % 11})
    text = repr(SBCResult(ranks, 10, np.zeros(40, int), 1.5))
    _short(text)
    assert "40 simulations, 2 parameters" in text and "uniformity passed" in text
