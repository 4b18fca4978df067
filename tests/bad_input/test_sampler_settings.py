"""Bad and unusual sampler settings of ``hx.fit``: chains, warmup, draws, seed, target_accept,
max_tree_depth, method, warm_start, parameterisation, collapse and progress.

Every refused setting fails before anything compiles or samples; the valid-but-odd ones (NumPy
numbers, whole floats, the edges of each range, too few draws for diagnostics) sample a tiny
model: 12 rows, 3 groups, 50 + 50 iterations.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

import hierax as hx
from hierax.errors import HieraxError, ModelError

from .conftest import Case, params, run_case

DATA = pd.DataFrame({"y": np.random.default_rng(0).normal(size=12), "x": np.arange(12.0), "g": list("abc") * 4})
FORMULA = "y ~ x + (1 | g)"
TINY = dict(chains=2, warmup=50, draws=50, seed=1)


def nuts(**settings):
    """A call of ``hx.fit`` on the tiny model with ``settings`` over the tiny run's."""
    arguments = dict(formula=FORMULA, data=DATA) | TINY | settings
    return lambda: hx.fit(**arguments)


@functools.cache
def earlier_fit():
    """A finished NUTS fit of the tiny model, to warm-start from (made once)."""
    return hx.fit(FORMULA, DATA, **TINY)


def warm_from_earlier(**settings):
    return lambda: nuts(warm_start=earlier_fit(), **settings)()


def config_is(**expected):
    """A check that the fit's configuration holds ``expected`` as Python numbers."""
    def check(fit):
        for name, value in expected.items():
            got = getattr(fit.config, name)
            assert got == value and type(got) is type(value), (name, got)
    return check


def holds(predicate):
    """A check that asserts ``predicate(fit)``."""
    def check(fit):
        assert predicate(fit)
    return check


def diagnostics_nan(columns):
    def check(fit):
        table = fit.summary()
        assert table[columns].isna().all().all() and table["estimate"].notna().all()
        assert any("summary shows NaN" in w for w in fit.warnings)
    return check


WHOLE = "must be a whole number"

CASES = [
    # chains
    Case("chains-zero", nuts(chains=0), HieraxError, f"chains {WHOLE} >= 1", "chains=4"),
    Case("chains-negative", nuts(chains=-1), HieraxError, f"chains {WHOLE} >= 1, got -1", "chains=4"),
    Case("chains-fraction", nuts(chains=2.5), HieraxError, "got 2.5", "chains=4"),
    Case("chains-text", nuts(chains="4"), HieraxError, "got '4' (text", "give the number itself"),
    Case("chains-bool", nuts(chains=True), HieraxError, "got True", "chains=4"),
    Case("chains-none", nuts(chains=None), HieraxError, "got None", "chains=4"),
    # warmup and draws
    Case("warmup-negative", nuts(warmup=-1), HieraxError, f"warmup {WHOLE} >= 0", "warmup=1000"),
    Case("warmup-nan", nuts(warmup=float("nan")), HieraxError, "got nan", "warmup=1000"),
    Case("draws-zero", nuts(draws=0), HieraxError, f"draws {WHOLE} >= 1", "draws=1000"),
    Case("draws-infinite", nuts(draws=float("inf")), HieraxError, "got inf", "draws=1000"),
    # seed: threefry keys and NumPy generators take 0 .. 2**32 - 1
    Case("seed-negative", nuts(seed=-3), HieraxError, f"seed {WHOLE} from 0 to 4294967295", "seed=2026"),
    Case("seed-2**70", nuts(seed=2**70), HieraxError, "from 0 to 4294967295, got 1180591620717411303424",
         "seed=2026"),
    Case("seed-2**32", nuts(seed=2**32), HieraxError, "got 4294967296", "seed=2026"),
    Case("seed-text", nuts(seed="x"), HieraxError, "got 'x' (text", "seed=2026"),
    # target_accept
    Case("target-zero", nuts(target_accept=0), HieraxError, "target_accept must be between 0 and 1", "0.95"),
    Case("target-one", nuts(target_accept=1), HieraxError, "got 1;", "leave it None"),
    Case("target-above-one", nuts(target_accept=1.5), HieraxError, "got 1.5", "leave it None"),
    Case("target-nan", nuts(target_accept=float("nan")), HieraxError, "got nan", "leave it None"),
    Case("target-text", nuts(target_accept="high"), HieraxError, "got 'high'", "0.95 for hard posteriors"),
    Case("target-bool", nuts(target_accept=True), HieraxError, "got True", "leave it None"),
    # max_tree_depth: past 30 BlackJAX's int32 count of leapfrog steps overflows
    Case("tree-depth-zero", nuts(max_tree_depth=0), HieraxError, "max_tree_depth must be a whole number from 1 to 30",
         "max_tree_depth=10"),
    Case("tree-depth-huge", nuts(max_tree_depth=100), HieraxError, "from 1 to 30, got 100", "max_tree_depth=10"),
    # method
    Case("method-unknown", nuts(method="vb"), HieraxError, "unknown method 'vb'", "available: nuts, reml"),
    Case("method-upper-case", nuts(method="NUTS"), HieraxError, "unknown method 'NUTS'", "available: nuts"),
    # warm_start
    Case("warm-start-text", nuts(warm_start="fit.nc"), HieraxError, "warm_start takes a fit made by hx.fit",
         "method='nuts'"),
    Case("warm-start-reml-fit", lambda: nuts(warm_start=hx.fit(FORMULA, DATA, method="reml"))(), HieraxError,
         "a fit made by another method", "method='nuts'"),
    Case("warm-start-other-formula", warm_from_earlier(formula="y ~ 1 + (1 | g)"), HieraxError,
         "that fit is of 'y ~ x + (1 | g)'", "needs the same formula"),
    Case("warm-start-other-family", warm_from_earlier(data=DATA.assign(y=np.arange(12) % 3), family="poisson"),
         HieraxError, "that fit is gaussian", "needs the same family and link"),
    Case("warm-start-with-reml", warm_from_earlier(method="reml"), HieraxError, "warm_start is for method='nuts'",
         "method='nuts'"),
    # parameterisation
    Case("parameterisation-unknown", nuts(parameterisation="sideways"), ModelError,
         "unknown parameterisation 'sideways'", "use one of"),
    Case("parameterisation-unknown-group", nuts(parameterisation={"h": "centered"}), ModelError,
         "unknown group(s) ['h']", "groups: ['g']"),
    Case("parameterisation-number", nuts(parameterisation=3), ModelError, "parameterisation must be",
         "or a dict by group"),
    # collapse
    Case("collapse-impossible", nuts(data=DATA.assign(y=np.arange(12) % 3), family="poisson", collapse=True),
         HieraxError, "collapse=True is not possible for this model", "use collapse=None"),
    Case("collapse-text", nuts(collapse="yes"), HieraxError, "collapse must be None", "False or 'laplace'"),
    Case("collapse-laplace-capital", nuts(collapse="Laplace"), HieraxError, "collapse must be None", "'laplace'"),
    Case("collapse-laplace-se", nuts(formula="y | se(s) ~ x + (1 | g)", data=DATA.assign(s=0.5), collapse="laplace"),
         HieraxError, "collapse='laplace' is not possible for this model: a known measurement sd (se())",
         "use collapse=None"),
    Case("collapse-laplace-no-groups", nuts(formula="y ~ x", collapse="laplace"), HieraxError,
         "there are no group terms to integrate out", "use collapse=None"),
    Case("collapse-with-laplace-method", nuts(method="laplace", family="poisson", data=DATA.assign(y=np.arange(12) % 3),
                                              collapse="laplace"),
         HieraxError, "collapse (how NUTS treats the group effects) does not apply to method='laplace'",
         "collapse='laplace' is NUTS with the effects integrated out"),
    Case("collapse-with-reml", lambda: hx.fit(FORMULA, DATA, method="reml", collapse=False), HieraxError,
         "does not apply to method='reml'", "fit with method='nuts'"),
    Case("collapse-laplace-gaussian-exact", nuts(collapse="laplace"), None,
         check=holds(lambda fit: fit.parameterisation["g"]["choice"] == "laplace")),
    # progress: any object is truthy, so "no" would have shown the bar
    Case("progress-text", nuts(progress="no"), HieraxError, "progress must be True or False, got 'no'",
         "progress=True"),
    Case("progress-none", nuts(progress=None), HieraxError, "got None", "progress=True"),
    Case("progress-two", nuts(progress=2), HieraxError, "got 2", "progress=True"),
    # valid but odd: NumPy's numbers, whole floats, the ends of each range
    Case("numpy-integers", nuts(chains=np.int64(2), warmup=np.int32(50), draws=np.int64(50), seed=np.uint64(5),
                                max_tree_depth=np.int16(8)), None,
         check=config_is(chains=2, warmup=50, draws=50, max_tree_depth=8)),
    Case("numpy-float-target", nuts(target_accept=np.float32(0.9)), None,
         check=config_is(target_accept=float(np.float32(0.9)))),
    Case("whole-float-draws", nuts(draws=5e1, warmup=50.0), None, check=config_is(draws=50, warmup=50)),
    Case("seed-largest", nuts(seed=2**32 - 1), None, check=holds(lambda fit: fit.seed == 2**32 - 1)),
    Case("progress-numpy-bool", nuts(progress=np.bool_(False)), None),
    Case("no-warmup", nuts(warmup=0), None, check=holds(lambda fit: fit.idata.posterior.sizes["draw"] == 50)),
    # too few draws for diagnostics: a warning (Stan's choice), and NaN in the summary
    Case("draws-three", nuts(draws=3), None, warns="too few for ESS, R-hat and MCSE",
         check=diagnostics_nan(["ess_bulk", "ess_tail", "r_hat", "mcse"])),
    Case("one-chain", nuts(chains=1), None, warns="with one chain R-hat cannot be computed",
         check=diagnostics_nan(["r_hat"])),
]


@pytest.mark.parametrize("case", params(CASES))
def test_sampler_settings(case):
    run_case(case)
