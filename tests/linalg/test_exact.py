"""Order-independent sums (hierax.linalg.exact): the same bits whatever the order and chunking."""

import numpy as np
import pytest

from hierax.linalg import exact


def test_sums_are_the_same_bits_in_any_order_and_chunking():
    rng = np.random.default_rng(4)
    values = rng.normal(0.0, 1.0, 100_000) * np.exp(rng.normal(0.0, 3.0, 100_000))
    index = rng.integers(0, 300, len(values))
    exponents = exact.grids(float(np.max(np.abs(values))), len(values))
    whole = exact.total(exact.exact_sums(values, exponents, index, 300), exponents)
    order = rng.permutation(len(values))
    chunks = np.array_split(order, 7)
    summed = sum(exact.exact_sums(values[c], exponents, index[c], 300) for c in chunks)
    np.testing.assert_array_equal(exact.total(summed, exponents), whole)
    naive = [np.bincount(index[c], values[c], minlength=300) for c in chunks]
    assert not np.array_equal(sum(naive), np.bincount(index, values, minlength=300))   # float64 sums are not


def test_sums_are_as_accurate_as_float64():
    import math

    rng = np.random.default_rng(5)
    values = 1e6 + rng.normal(0.0, 1.0, 50_000)
    exponents = exact.grids(float(np.max(np.abs(values))), len(values))
    got = float(exact.total(exact.exact_sums(values, exponents), exponents))
    assert abs(got - math.fsum(values)) <= 2 * np.spacing(math.fsum(values))


def test_too_many_terms_are_refused():
    with pytest.raises(ValueError):
        exact.grids(1.0, 2**45)
