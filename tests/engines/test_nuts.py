"""The NUTS driver: draws from known targets, retune and escalation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hierax.engines.nuts import NUTSConfig, WarmStart, sample_nuts

CHAINS = 4


def standard_normal(x, aux):
    return -0.5 * jnp.sum(x**2)


def starts(dim, scale=1.0):
    return scale * jax.random.normal(jax.random.PRNGKey(7), (CHAINS, dim))


def test_draws_of_a_standard_normal_have_the_right_moments():
    config = NUTSConfig(chains=CHAINS, warmup=300, draws=500, chunk=128)
    out = sample_nuts(jax.random.PRNGKey(0), standard_normal, starts(5), config)
    draws = out.positions.reshape(-1, 5)
    assert out.positions.shape == (CHAINS, 500, 5) and out.diverging.shape == (CHAINS, 500)
    # 2,000 draws of nearly independent N(0, 1): the mean's sd is ~0.022, the variance's ~0.032
    np.testing.assert_allclose(draws.mean(axis=0), 0.0, atol=4 * 0.022 * 1.5)
    np.testing.assert_allclose(draws.var(axis=0), 1.0, atol=4 * 0.032 * 1.5)
    assert out.target_accept == 0.8 and out.escalations == ()


def test_retune_moves_chains_to_new_coordinates_of_the_same_distribution():
    """y ~ N(0, 1) held as x with y = s x; retune changes s from 1 to 4 in mid-warmup."""

    def density(x, s):
        return -0.5 * jnp.sum((s * x) ** 2)          # the Jacobian (log s per coordinate) is constant

    calls = []

    def retune(positions, inverse_mass_matrix, s):
        calls.append(positions.shape)
        new = 4.0
        return positions * s / new, inverse_mass_matrix * (s / new) ** 2, jnp.asarray(new)

    config = NUTSConfig(chains=CHAINS, warmup=300, draws=500, chunk=64)
    out = sample_nuts(jax.random.PRNGKey(1), density, starts(3), config, aux=jnp.asarray(1.0), retune=retune)
    assert calls == [(CHAINS, 3)] and float(out.aux) == 4.0
    y = 4.0 * out.positions.reshape(-1, 3)
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=4 * 0.022 * 1.5)
    np.testing.assert_allclose(y.var(axis=0), 1.0, atol=4 * 0.032 * 1.5)


def test_a_warm_start_keeps_the_metric_and_tunes_the_step_size_from_its_own():
    """N(0, diag(s^2)) with scales 0.1, 1 and 10: a cold run adapts a metric near s^2; a run
    warm-started from it, with 100 iterations of warmup, samples with that very metric, a step
    size near the cold run's, and draws of the right moments."""
    scales = jnp.array([0.1, 1.0, 10.0])

    def density(x, aux):
        return -0.5 * jnp.sum((x / scales) ** 2)

    cold = sample_nuts(jax.random.PRNGKey(0), density, starts(3),
                       NUTSConfig(chains=CHAINS, warmup=300, draws=100, chunk=100))
    config = NUTSConfig(chains=CHAINS, warmup=100, draws=500, chunk=100)
    warm = sample_nuts(jax.random.PRNGKey(1), density, cold.positions[:, -1], config,
                       warm=WarmStart(cold.inverse_mass_matrix, cold.step_size))
    np.testing.assert_array_equal(warm.inverse_mass_matrix, cold.inverse_mass_matrix)
    assert 0.5 < warm.step_size[0] / cold.step_size[0] < 2.0
    draws = warm.positions.reshape(-1, 3) / np.asarray(scales)
    np.testing.assert_allclose(draws.mean(axis=0), 0.0, atol=4 * 0.022 * 1.5)       # as for the standard normal
    np.testing.assert_allclose(draws.var(axis=0), 1.0, atol=4 * 0.032 * 1.5)


def funnel(x, aux):
    """Neal's funnel, centred: v ~ N(0, 3), x_k | v ~ N(0, exp(v / 2)). It diverges at 0.8."""
    v, rest = x[0], x[1:]
    return -v**2 / 18 - 0.5 * jnp.sum(rest**2) * jnp.exp(-v) - 0.5 * rest.size * v


@pytest.mark.parametrize("escalate", [(), (0.95, 0.99)])
def test_divergences_raise_the_target_only_when_allowed(escalate):
    config = NUTSConfig(chains=CHAINS, warmup=400, draws=500, chunk=100, escalate=escalate)
    out = sample_nuts(jax.random.PRNGKey(3), funnel, starts(10, 0.5), config)
    if escalate:
        # the funnel defeats a step tuned for 0.8: late warmup or sampling sees it, and the target rises
        assert out.escalations and out.escalations[0][:2] in (("warmup", 0.8), ("sampling", 0.8))
        assert all(n > 0 for _, _, n in out.escalations)
        assert out.target_accept == escalate[len(out.escalations) - 1]
    else:
        assert out.target_accept == 0.8 and out.escalations == ()
        assert out.diverging.sum() > 0          # nothing raised it, and the funnel shows


def test_a_warm_start_escalates_by_running_its_one_window_again():
    """A warm start's warmup is one fast window; divergent transitions on the funnel make the
    target rise, and that window runs again (its step size search restarted) at the new one."""
    config = NUTSConfig(chains=CHAINS, warmup=100, draws=300, chunk=100, escalate=(0.95, 0.99))
    out = sample_nuts(jax.random.PRNGKey(3), funnel, starts(10, 0.5), config,
                      warm=WarmStart(np.ones((CHAINS, 10)), np.full(CHAINS, 0.5)))
    assert out.escalations and all(n > 0 for _, _, n in out.escalations)
    assert out.target_accept == config.escalate[len(out.escalations) - 1]
    np.testing.assert_array_equal(out.inverse_mass_matrix, 1.0)


@pytest.mark.parametrize("chains", [2, 8])
def test_chains_per_device_one_or_several_sample_the_same_target(chains):
    """With more chains than devices the chains of a device are vectorised, else each device
    holds one (no vmap); both give draws of N(0, 1), from every chain."""
    config = NUTSConfig(chains=chains, warmup=300, draws=2000 // chains, chunk=128)
    start = jax.random.normal(jax.random.PRNGKey(5), (chains, 4))
    out = sample_nuts(jax.random.PRNGKey(0), standard_normal, start, config)
    assert out.positions.shape == (chains, 2000 // chains, 4)
    draws = out.positions.reshape(-1, 4)
    np.testing.assert_allclose(draws.mean(axis=0), 0.0, atol=4 * 0.022 * 1.5)
    np.testing.assert_allclose(draws.var(axis=0), 1.0, atol=4 * 0.032 * 1.5)
    assert np.all(out.positions.std(axis=1) > 0.5)         # every chain moved


def test_a_supplied_gradient_and_a_quick_compile_change_nothing_but_speed():
    """The chains' log density and gradient outside the steps given by the caller (as the
    samplers do, from their own gradient program): the same draws as the engine's own start
    program, with and without a retune. The chunk
    compiled for a quick compile: other code, so other rounding and other draws, of the same
    distribution, and the same seed gives the same draws again."""
    config = NUTSConfig(chains=CHAINS, warmup=200, draws=500, chunk=100)
    x0 = np.asarray(starts(3), dtype=float)
    calls = []

    def gradient(x, aux):
        calls.append(x.shape)
        return -0.5 * np.sum(x**2, axis=1), -x

    own = sample_nuts(jax.random.PRNGKey(2), standard_normal, x0, config)
    given = sample_nuts(jax.random.PRNGKey(2), standard_normal, x0, config, gradient=gradient)
    assert calls == [(CHAINS, 3)]
    np.testing.assert_allclose(given.positions, own.positions, rtol=1e-9, atol=1e-12)

    def retune(positions, inverse_mass_matrix, aux):       # the same coordinates: the chains restart
        return positions, inverse_mass_matrix, aux

    own = sample_nuts(jax.random.PRNGKey(3), standard_normal, x0, config, retune=retune)
    given = sample_nuts(jax.random.PRNGKey(3), standard_normal, x0, config, retune=retune, gradient=gradient)
    assert len(calls) == 3
    np.testing.assert_allclose(given.positions, own.positions, rtol=1e-9, atol=1e-12)
    quick = sample_nuts(jax.random.PRNGKey(2), standard_normal, x0, config, gradient=gradient, quick_compile=True)
    again = sample_nuts(jax.random.PRNGKey(2), standard_normal, x0, config, gradient=gradient, quick_compile=True)
    np.testing.assert_array_equal(again.positions, quick.positions)
    draws = quick.positions.reshape(-1, 3)
    np.testing.assert_allclose(draws.mean(axis=0), 0.0, atol=4 * 0.022 * 1.5)
    np.testing.assert_allclose(draws.var(axis=0), 1.0, atol=4 * 0.032 * 1.5)


def test_the_callers_work_runs_while_the_steps_compile():
    calls = []
    config = NUTSConfig(chains=CHAINS, warmup=100, draws=100, chunk=100)
    sample_nuts(jax.random.PRNGKey(4), standard_normal, starts(2), config, while_compiling=lambda: calls.append(1))
    assert calls == [1]


def test_chains_sample_with_one_pooled_step_size_and_metric():
    config = NUTSConfig(chains=CHAINS, warmup=300, draws=100, chunk=100)
    out = sample_nuts(jax.random.PRNGKey(5), standard_normal, starts(4), config)
    assert np.unique(out.step_size).size == 1
    np.testing.assert_array_equal(out.inverse_mass_matrix, np.tile(out.inverse_mass_matrix[:1], (CHAINS, 1)))


def test_the_chains_share_one_metric_from_the_end_of_every_slow_window(monkeypatch):
    """Each slow window's metric is the mean of the chains' estimates, not only the last's: a chain's
    own estimate from the first windows (25 and 50 draws a chain) is noisy (on the 5 hyperparameters
    of ``benchmarks/nuts_scale.py``'s model its eigenvalues ran from 0.15 to 1.96 where 0.7 to 1.0
    was right), and the next window's step size, tuned to it, diverged often enough to raise the
    target."""
    from hierax.engines import nuts

    seen = []
    warm = nuts._Driver._warm

    def recording(self, adapt, part, lo, hi):
        seen.append((lo, np.asarray(jax.device_get(adapt.inverse_mass_matrix)).reshape(CHAINS, -1)))
        return warm(self, adapt, part, lo, hi)

    monkeypatch.setattr(nuts._Driver, "_warm", recording)
    scales = jnp.asarray([0.5, 1.0, 2.0])
    config = NUTSConfig(chains=CHAINS, warmup=500, draws=10, chunk=100)
    sample_nuts(jax.random.PRNGKey(6), lambda x, aux: -0.5 * jnp.sum((x / scales) ** 2), starts(3), config)
    # Stan's windows at 500: a fast buffer to 75, slow windows ending at 100, 150, 250 and 450
    assert [lo for lo, _ in seen] == [0, 100, 150, 250, 450]
    for lo, metric in seen[1:]:
        np.testing.assert_array_equal(metric, np.tile(metric[:1], (CHAINS, 1)), err_msg=f"piece from {lo}")
        assert not np.allclose(metric[0], seen[0][1][0])            # estimated, not the first metric


def test_metric_probes_set_the_first_metric_from_the_curvature():
    # scales 0.01, 1 and 100: the unit metric would be off by 1e4 either way; with no warmup the
    # metric the draws use is the first one
    scales = jnp.asarray([0.01, 1.0, 100.0])

    def density(x, aux):
        return -0.5 * jnp.sum((x / scales) ** 2)

    config = NUTSConfig(chains=CHAINS, warmup=0, draws=10, chunk=10)
    out = sample_nuts(jax.random.PRNGKey(6), density, starts(3) * scales, config, metric_probes=np.eye(3))
    np.testing.assert_allclose(out.inverse_mass_matrix, np.tile(scales**2, (CHAINS, 1)), rtol=1e-6)
    with pytest.raises(ValueError, match="metric_probes"):
        sample_nuts(jax.random.PRNGKey(6), density, starts(3), config, metric_probes=np.eye(3), dense_mass=True)
