"""The correlation-Cholesky transform: valid factors, and a log-Jacobian equal to autodiff's."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hierax.density.transforms import corr_cholesky, num_cor_params


@pytest.mark.parametrize("dim", [2, 3, 4])
def test_rows_have_unit_length_and_positive_diagonal(dim):
    raw = jax.random.normal(jax.random.PRNGKey(dim), (num_cor_params(dim),))
    L, _ = corr_cholesky(raw, dim)
    np.testing.assert_allclose(jnp.sum(L**2, axis=1), 1.0, rtol=1e-12)
    assert np.all(np.diag(L) > 0) and np.allclose(np.triu(L, 1), 0)


@pytest.mark.parametrize("dim", [2, 3, 4])
def test_log_jacobian_matches_autodiff(dim):
    # The map raw -> strictly-lower elements of L is triangular; its Jacobian determinant is the
    # product of the diagonal of the autodiff Jacobian.
    raw = 0.7 * jax.random.normal(jax.random.PRNGKey(10 + dim), (num_cor_params(dim),))
    rows, cols = np.tril_indices(dim, -1)

    def lower(r):
        return corr_cholesky(r, dim)[0][rows, cols]

    jacobian = jax.jacfwd(lower)(raw)
    _, log_jac = corr_cholesky(raw, dim)
    sign, logdet = np.linalg.slogdet(np.asarray(jacobian))
    assert sign > 0
    np.testing.assert_allclose(log_jac, logdet, rtol=1e-10)
