"""A design learned a chunk at a time equals the design of the whole frame (hierax.design.summary)."""

from functools import reduce

import numpy as np
import pandas as pd
import pytest

from hierax.design import build_design
from hierax.design.summary import Moments, Scan, encode_rows, scan_rows, summarised_design
from hierax.errors import DataError, ModelError
from hierax.formula import parse_formula


@pytest.fixture
def frame():
    rng = np.random.default_rng(3)
    n = 300
    return pd.DataFrame({
        "y": rng.normal(50.0, 5.0, n),
        "x": rng.normal(1e3, 2.0, n),
        "f": rng.choice(["lo", "mid", "hi"], n),
        "k": rng.choice([2, 10, 9], n),              # numbers used as a factor: sorted numerically (9 before 10)
        "g": rng.choice([f"s{i}" for i in range(12)], n),
        "h": rng.choice([1, 2, 3], n),
        "c": pd.Categorical(rng.choice(["z", "y"], n), categories=["z", "y"]),
    })


def chunked(formula, frame, sizes):
    """The chunked design: scan every chunk, merge the scans in reverse order, encode each chunk."""
    edges = np.cumsum([0, *sizes])
    chunks = [frame.iloc[a:b] for a, b in zip(edges[:-1], edges[1:])]
    scan = reduce(Scan.merge, reversed([scan_rows(formula, chunk) for chunk in chunks]))
    design = summarised_design(formula, scan)
    return design, [encode_rows(design, chunk) for chunk in chunks if len(chunk)]


@pytest.mark.parametrize("text", [
    "y ~ scale(x) + f + (1 + scale(x) | g)",
    "y ~ center(x) * f + c + factor(k) + (1 | g) + (1 | g:h)",
    "scale(y) ~ log(x) + (0 + f || g) + offset(x / 1000)",
])
def test_chunks_encode_as_the_whole_frame(frame, text):
    formula = parse_formula(text)
    whole = build_design(formula, frame)
    design, rows = chunked(formula, frame, [0, 7, 120, 1, 172])
    assert design.fixed_names == whole.fixed_names
    assert design.num_obs == len(frame)
    assert design.info.categorical_levels == whole.info.categorical_levels
    for key, (mean, sd) in whole.info.transform_state.items():
        np.testing.assert_allclose(design.info.transform_state[key], (mean, sd), rtol=1e-13)
    np.testing.assert_allclose(np.concatenate([r.y for r in rows]), whole.y, rtol=1e-12)
    np.testing.assert_allclose(np.concatenate([r.X for r in rows]), whole.X, rtol=1e-12, atol=1e-12)
    if whole.offset is not None:
        np.testing.assert_allclose(np.concatenate([r.offset for r in rows]), whole.offset, rtol=1e-14)
    for k, block in enumerate(whole.random):
        assert design.random[k].levels == block.levels and design.random[k].terms == block.terms
        np.testing.assert_array_equal(np.concatenate([r.blocks[k].group_index for r in rows]), block.group_index)
        np.testing.assert_allclose(np.concatenate([r.blocks[k].Z for r in rows]), block.Z, rtol=1e-12, atol=1e-12)


def test_moments_merge_without_cancellation():
    import statistics                                       # exact (rational) sums: the reference

    rng = np.random.default_rng(0)
    values = 1e8 + rng.normal(0.0, 1.0, 10_000)
    merged = reduce(Moments.merge, [Moments.of(part) for part in np.array_split(values, 37)])
    assert merged.n == len(values)
    exact = statistics.stdev(values.tolist())
    np.testing.assert_allclose(merged.sd, exact, rtol=1e-8)
    np.testing.assert_allclose(merged.mean, statistics.fmean(values.tolist()), rtol=1e-15)
    naive = np.sqrt(max(np.sum(values**2) - len(values) * np.mean(values) ** 2, 0.0) / (len(values) - 1))
    assert abs(naive - exact) > 1e-3 * exact                # what merging sums of squares would give


def test_column_of_two_kinds_across_chunks_is_refused(frame):
    formula = parse_formula("y ~ x + (1 | g)")
    other = frame.iloc[150:].assign(x=frame["x"].iloc[150:].map(lambda v: f"v{v:.0f}"))
    with pytest.raises(DataError, match="holds numbers in some chunks"):
        scan_rows(formula, frame.iloc[:150]).merge(scan_rows(formula, other))


def test_constant_scaled_column_over_chunks_is_refused(frame):
    formula = parse_formula("y ~ scale(x) + (1 | g)")
    flat = frame.assign(x=0.1)
    scan = reduce(Scan.merge, [scan_rows(formula, flat.iloc[:100]), scan_rows(formula, flat.iloc[100:])])
    with pytest.raises(DataError, match="constant"):
        summarised_design(formula, scan)


@pytest.mark.parametrize("text, match", [
    ("y | weights(x) ~ 1 + (1 | g)", "weights"),
    ("y | se(x) ~ 1 + (1 | g)", "se"),
    ("y ~ scale(log(scale(x))) + (1 | g)", "scale"),
])
def test_what_chunks_cannot_encode_is_refused(text, match):
    from hierax.design.summary import check_summarisable

    with pytest.raises(ModelError, match=match):
        check_summarisable(parse_formula(text))
