"""The embedded Laplace approximation (``collapse="laplace"``, ``hierax.density.embedded``): its
density against the exact collapsed one where the Laplace approximation is exact, its gradient,
its check, and its posterior against full NUTS on cbpp."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import hierax as hx
from hierax.density.embedded_correction import check_log_ratio
from hierax.density.target import CollapsedTarget, LaplaceTarget, choose_target
from hierax.engines import laplace
from hierax.engines.mode import Unravel
from hierax.errors import HieraxError
from hierax.model.build import build_model
from tests.test_reml import REFERENCE, SHARED

RNG = np.random.default_rng(3)
N = 120
X = RNG.normal(size=N)
G = np.repeat(np.arange(12), 10)
ETA = -0.3 + 0.8 * X + RNG.normal(0, 0.7, 12)[G] + RNG.normal(0, 0.4, 12)[G] * X
DATA = pd.DataFrame({"x": X, "g": np.char.add("g", G.astype(str)),
                     "y": ETA + RNG.normal(0, 0.5, N),
                     "hit": (RNG.random(N) < 1 / (1 + np.exp(-ETA))).astype(int),
                     "count": RNG.poisson(np.exp(0.5 + 0.3 * ETA)),
                     "s": RNG.uniform(0.3, 0.6, N)})


def spec_of(formula, family="gaussian"):
    return build_model(formula, DATA, family)[1]


def positions(target, count=3, seed=0):
    """A few dispersed positions of the target's hyperparameters, one per leading index."""
    starts = target.initial(np.array([0, seed], np.uint32), count)
    return [jax.tree_util.tree_map(lambda x: np.asarray(x[c]), starts) for c in range(count)]


def test_gaussian_embedded_density_equals_the_exact_collapsed_one():
    """For a gaussian response the Laplace approximation is exact, so the embedded density must
    equal the exact collapsed one (``hierax.density.collapsed``) up to one constant: this checks
    theta = diag(sd) L, the order of phi, the priors and the Jacobian together."""
    spec = spec_of("y ~ x + (1 + x | g)")
    exact, approximate = CollapsedTarget(spec), choose_target(spec, "laplace")
    assert isinstance(approximate, LaplaceTarget)
    exact_aux, approximate_aux = exact.runtime(), approximate.runtime()
    differences = [float(approximate.logdensity(p, approximate_aux)) - float(exact.logdensity(p, exact_aux))
                   for p in positions(exact, 4)]
    np.testing.assert_allclose(differences, differences[0], atol=1e-8)


@pytest.mark.parametrize("formula, family", [("hit ~ x + (1 + x | g)", "bernoulli"),
                                             ("count ~ x + (1 | g)", "negbinomial")])
def test_gradient_matches_finite_differences(formula, family):
    """The gradient is the Laplace engine's implicit-function one, passed through a stop-gradient
    identity (``embedded._deviance``): it must be the derivative of the value."""
    target = choose_target(spec_of(formula, family), "laplace")
    aux = target.runtime()
    position = positions(target, 1, seed=5)[0]
    unravel = Unravel.of(position)
    x = Unravel.ravel(position)

    def value(z):
        return target.logdensity(unravel.unravel(z), aux)

    grad = np.asarray(jax.grad(value)(jnp.asarray(x)))
    step = 1e-5
    numeric = [(float(value(x + step * e)) - float(value(x - step * e))) / (2 * step) for e in np.eye(len(x))]
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-6)


def test_quadrature_ratio_is_zero_where_laplace_is_exact_and_not_for_bernoulli():
    """log p / p_Laplace by the tensor-product quadrature: 0 for a gaussian likelihood (its g is
    quadratic) with two effects per level; away from 0 for binary data."""
    for formula, family, exact in [("y ~ x + (1 + x | g)", "gaussian", True),
                                   ("hit ~ x + (1 + x | g)", "bernoulli", False)]:
        target = choose_target(spec_of(formula, family), "laplace")
        aux = target.runtime()
        structure = target._structure
        ratio = float(check_log_ratio(positions(target, 1)[0], aux, structure, 3))
        if exact:
            assert abs(ratio) < 1e-9
        else:
            assert abs(ratio) > 1e-4


def test_embedded_laplace_is_refused_where_it_cannot_apply():
    with pytest.raises(HieraxError, match="collapse='laplace' is not possible.*se\\(\\)"):
        choose_target(spec_of("y | se(s) ~ x + (1 | g)"), "laplace")
    with pytest.raises(HieraxError, match="collapse='laplace' is not possible.*group terms"):
        choose_target(spec_of("count ~ x + (1 | g); shape ~ x + (1 | g)", "negbinomial"), "laplace")
    with pytest.raises(HieraxError, match="collapse must be"):
        choose_target(spec_of("hit ~ x + (1 | g)", "bernoulli"), "Laplace")


@pytest.mark.skipif(not REFERENCE.exists(), reason="../shared (reference data) is not beside the checkout")
def test_cbpp_matches_full_nuts_within_monte_carlo_error():
    """Issue 17's acceptance 3: on cbpp the embedded Laplace's fixed effects and herd sd agree
    with full NUTS's within 4 Monte Carlo standard errors (of their difference), and its check
    says the approximation is good (one grouping factor: the quadrature's Pareto k)."""
    data = pd.read_csv(SHARED / "data" / "teaching" / "cbpp.csv").astype({"period": str})
    formula = "cbind(incidence, size - incidence) ~ factor(period) + (1 | herd)"
    fits = {collapse: hx.fit(formula, data, family="binomial", collapse=collapse, seed=11, chains=4, warmup=500,
                             draws=1000)
            for collapse in ("laplace", False)}
    tables = {c: fit.summary() for c, fit in fits.items()}
    approximate, exact = tables["laplace"], tables[False]
    assert list(approximate.index) == list(exact.index)
    def mcse(table):                  # of the posterior mean: sd / sqrt(bulk ESS)
        return table["sd"] / np.sqrt(table["ess_bulk"])

    distance = (approximate["estimate"] - exact["estimate"]).abs() / np.hypot(mcse(approximate), mcse(exact))
    assert (distance < 4.0).all(), distance
    check = fits["laplace"].parameterisation["herd"]
    assert check["choice"] == "laplace" and check["checked"] == "hyperparameters"
    # the weights hardly vary (their Pareto k alone is then the seed's: 0.43 to 0.75 over seeds 11-13)
    assert check["pareto_k"] < 0.7 or check["log_ratio_spread"] < 0.05
    assert all(abs(shift) < 0.25 for shift in check["shift"].values())
    assert not fits["laplace"].warnings


def test_a_saved_embedded_laplace_fit_keeps_its_check_and_warnings(tmp_path):
    """The check (Pareto k, what was checked, the shifts) and the warnings it raises come back
    with a saved fit; a check that failed is warned about again on loading."""
    from hierax.results.io import restore, save

    fit = hx.fit("hit ~ x + (1 + x | g)", DATA, family="bernoulli", collapse="laplace", chains=2, warmup=150,
                 draws=150, seed=2)
    check = fit.parameterisation["g"]
    assert check["choice"] == "laplace" and check["checked"] == "hyperparameters"
    assert set(check["shift"]) == {"(Intercept)", "x", "sd[g][(Intercept)]", "sd[g][x]"}
    again = restore(save(fit, tmp_path / "fit.nc", data=DATA))
    assert again.parameterisation == fit.parameterisation
    assert [w for w in again.warnings if "collapse='laplace'" in w] == [w for w in fit.warnings
                                                                           if "collapse='laplace'" in w]


def test_quadrature_correction_takes_out_the_laplace_error_across_the_posterior():
    """With one grouping factor, the quadratic fitted to adaptive quadrature's correction at the
    mode (``embedded_correction.fitted_correction``) must carry the correction over the posterior:
    at draws from the Laplace approximation to the hyperparameters' posterior, the finer
    quadrature's log ratio to the density sampled (the check's importance ratio) varies by 0.37
    without the correction and by less than 0.05 with it. Binary data, 8 rows a group, two effects."""
    from hierax.density import embedded_correction as correction
    from hierax.engines.mode import laplace_start

    rng = np.random.default_rng(5)
    levels, size = 300, 8
    g = np.repeat(np.arange(levels), size)
    x = rng.normal(size=levels * size)
    u = rng.multivariate_normal([0.0, 0.0], [[1.0, 0.15], [0.15, 0.25]], size=levels)
    eta = -0.5 + x + u[g, 0] + u[g, 1] * x
    data = pd.DataFrame({"y": (rng.random(eta.size) < 1 / (1 + np.exp(-eta))).astype(int), "x": x,
                         "g": np.char.add("g", g.astype(str))})
    target = LaplaceTarget(build_model("y ~ x + (1 + x | g)", data, "bernoulli")[1])
    aux = target.runtime()
    first = jax.tree_util.tree_map(lambda a: np.asarray(a[0]), target.initial(np.array([0, 1], np.uint32), 1))
    start = laplace_start(target.logdensity, aux, first)
    unravel, scale = Unravel.of(first), np.linalg.cholesky(start.covariance)
    corrected = target.settle(aux, unravel.unravel(start.mode), scale)
    assert target.correction_error <= correction.TOLERANCE       # validated at 2 posterior sds along each axis
    nodes = correction.correction_nodes(target._structure, correction.CHECK_NODES)
    ratio = jax.jit(lambda flat, a: correction.check_log_ratio(unravel.unravel(flat), a, target._structure, nodes))
    draws = start.mode + rng.standard_normal((20, len(start.mode))) @ scale.T
    before = np.std([float(ratio(d, aux)) for d in draws])
    after = np.std([float(ratio(d, corrected)) for d in draws])
    assert before > 0.2, before          # the Laplace approximation's error moves this posterior
    assert after < 0.05, (before, after)  # importance ratios within a few per cent of each other


def test_a_fitted_correction_has_the_types_of_the_one_the_steps_were_compiled_with():
    """The NUTS steps are compiled in the background with ``no_correction``'s zeros in the
    correction's place (``hierax.sampler``); a fitted correction of other shapes, dtypes or weak
    types compiled them again on the critical path (5 s of a first fit at 100,000 rows, when its
    value was a weakly typed float)."""
    from hierax.density import embedded
    from hierax.density.embedded_correction import CORRECTION_NODES, fitted_correction
    from hierax.engines.mode import laplace_start

    target = LaplaceTarget(spec_of("hit ~ x + (1 + x | g)", "bernoulli"))
    aux = target.runtime()
    first = jax.tree_util.tree_map(lambda a: np.asarray(a[0]), target.initial(np.array([0, 1], np.uint32), 1))
    start = laplace_start(target.logdensity, aux, first)
    unravel = Unravel.of(first)
    settled = embedded.settled(unravel.unravel(start.mode), aux, target._structure)
    fitted, _ = fitted_correction(start.mode, np.linalg.cholesky(start.covariance), settled, target._structure,
                                  unravel, CORRECTION_NODES[2])

    def types(tree):
        # as jit sees its arguments: a Python float is a weakly typed scalar
        return jax.tree_util.tree_map(lambda a: (jnp.shape(a), jnp.asarray(a).dtype, jnp.asarray(a).weak_type), tree)

    assert types(fitted) == types(embedded.no_correction(len(start.mode)))
    assert types(settled) == types(aux)         # Newton's start moved, its types kept


def test_compile_settle_leaves_nothing_for_the_settle_to_compile():
    """``LaplaceTarget.compile_settle`` runs in a thread of its own while the mode is found
    (``hierax.sampler``); the settle that follows must find its programs compiled, or the thread
    bought nothing."""
    from hierax.density import embedded
    from hierax.density.embedded_correction import CORRECTION_NODES, _exact_correction
    from hierax.engines.mode import laplace_start

    # rows of their own: no other test has compiled these shapes
    target = LaplaceTarget(build_model("hit ~ x + (1 + x | g)", DATA.iloc[:110], "bernoulli")[1])
    aux = target.runtime()
    starts = target.initial(np.array([0, 2], np.uint32), 4)
    first = jax.tree_util.tree_map(lambda a: np.asarray(a[0]), starts)
    unravel = Unravel.of(first)
    exact = _exact_correction(target._structure, unravel, CORRECTION_NODES[2])
    target.compile_settle(starts, aux)
    compiled = embedded.settle_program()._cache_size(), exact._cache_size()
    start = laplace_start(target.logdensity, aux, first)
    target.settle(aux, unravel.unravel(start.mode), np.linalg.cholesky(start.covariance))
    assert target.corrected
    assert (embedded.settle_program()._cache_size(), exact._cache_size()) == compiled


def test_collapse_none_chooses_the_corrected_laplace_for_one_large_grouping_factor():
    """``collapse=None`` integrates by the embedded Laplace where ``wants_embedded`` says (one
    grouping factor of >= ``many_levels`` levels, <= 3 effects, parameterisation left "auto"),
    and samples every effect elsewhere. ``many_levels`` 12, so that DATA's 12 groups count."""
    from hierax.density.target import FullTarget

    chosen = choose_target(spec_of("hit ~ x + (1 + x | g)", "bernoulli"), many_levels=12)
    assert isinstance(chosen, LaplaceTarget) and chosen.automatic
    assert isinstance(choose_target(spec_of("y ~ x + (1 + x | g)"), many_levels=12), CollapsedTarget)  # exact
    assert isinstance(choose_target(spec_of("hit ~ x + (1 + x | g)", "bernoulli"), False, many_levels=12), FullTarget)
    explicit = build_model("hit ~ x + (1 + x | g)", DATA, "bernoulli", parameterisation="noncentered")[1]
    assert isinstance(choose_target(explicit, many_levels=12), FullTarget)
    assert isinstance(choose_target(spec_of("hit ~ x + (1 + x | g)", "bernoulli"), many_levels=13), FullTarget)
    assert isinstance(choose_target(spec_of("hit ~ x + (1 + x | g)", "bernoulli")), FullTarget)


def test_a_failed_check_makes_collapse_none_sample_every_effect(monkeypatch):
    """Where the automatically chosen embedded Laplace fails its check, the fit samples every
    effect instead and keeps the failed check beside its own parameterisation (the check is made
    to fail here: DATA's posterior passes it)."""
    import hierax.api as api
    import hierax.sampler as sampler

    monkeypatch.setattr(sampler, "MANY_LEVELS", 12)
    monkeypatch.setattr(api, "laplace_warnings", lambda parameterisation: ("made to fail",))
    fit = hx.fit("hit ~ x + (1 | g)", DATA, family="bernoulli", chains=2, warmup=100, draws=100, seed=4)
    described = fit.parameterisation["g"]
    assert described["choice"] == "auto"
    assert described["laplace_check"]["choice"] == "laplace" and described["laplace_check"]["automatic"]
    assert "laplace_tried" in fit.timing and "b_g" in fit.idata.posterior


def test_a_correction_that_fails_its_validation_is_not_used(monkeypatch):
    """Where the quadratic misses the quadrature by more than TOLERANCE at its validation points
    (here: a tolerance no fit meets), the plain Laplace approximation is sampled, and the fit
    says so (``corrected`` False, with the error found)."""
    from hierax.density import embedded_correction as correction

    monkeypatch.setattr(correction, "TOLERANCE", 1e-12)
    fit = hx.fit("hit ~ x + (1 | g)", DATA, family="bernoulli", collapse="laplace", chains=2, warmup=100, draws=100,
                 seed=2)
    described = fit.parameterisation["g"]
    assert described["corrected"] is False and described["correction_error"] > 1e-12


def test_the_correction_is_trusted_about_the_corrected_posteriors_mode():
    """``embedded.quadratic`` holds the quadratic within TRUST_RADIUS posterior sds of where the
    corrected posterior peaks (``corrected_mode``), not of where it was fitted: a correction that
    moves the posterior by 2 sds keeps its full value 5.5 sds beyond the new mode's far side of
    the fitted point (7.5 from it), and is held on the sphere past 6 sds from the new mode."""
    from hierax.density.embedded import TRUST_RADIUS, quadratic
    from hierax.density.embedded_correction import corrected_mode

    b, H = np.array([2.0, 0.0]), np.array([[0.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(corrected_mode(b, H), [2.0, 0.0])
    np.testing.assert_allclose(corrected_mode(np.array([1.0, 1.0]), np.diag([0.5, 0.0])), [2.0, 1.0])
    np.testing.assert_allclose(corrected_mode(b, np.diag([1.5, 0.0])), [0.0, 0.0])   # no peak: fitted point
    scale = np.array([[0.5, 0.0], [0.1, 2.0]])        # posterior sds in flat coordinates
    at = np.array([0.3, -1.0])
    whiten = np.linalg.inv(scale)
    correction = {"at": jnp.asarray(at), "value": jnp.asarray(0.7), "gradient": jnp.asarray(whiten.T @ b),
                  "hessian": jnp.asarray(whiten.T @ H @ whiten), "whiten": jnp.asarray(whiten),
                  "centre": jnp.asarray(at + scale @ corrected_mode(b, H))}

    def at_z(z):
        return float(quadratic(jnp.asarray(at + scale @ np.asarray(z, float)), correction))

    assert at_z([7.5, 0.0]) == pytest.approx(0.7 + 2.0 * 7.5)                  # 5.5 sds from the mode: full value
    assert at_z([-3.5, 0.0]) == pytest.approx(0.7 + 2.0 * -3.5)                # 5.5 sds on the other side
    assert at_z([2.0 + 9.0, 0.0]) == pytest.approx(0.7 + 2.0 * (2.0 + TRUST_RADIUS))   # held on the sphere
    assert at_z([2.0 - 9.0, 0.0]) == pytest.approx(0.7 + 2.0 * (2.0 - TRUST_RADIUS))
