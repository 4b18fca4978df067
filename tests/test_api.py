"""The public entry point: bad input fails with hierax errors naming the fix, never from inside JAX."""

from collections import Counter

import numpy as np
import pandas as pd
import pytest

import hierax as hx
import hierax.api
from hierax.results._arviz import group_names
from hierax.results.io import restore, save
from hierax.sampler import SpecSampler

DATA = pd.DataFrame({"y": np.linspace(0, 1, 12), "x": np.arange(12.0), "g": list("abc") * 4})
FAST = dict(chains=2, warmup=30, draws=20, seed=0)
NOISY = DATA.assign(y=DATA["y"] + np.random.default_rng(0).normal(0, 0.3, 12))    # DATA's y is exactly linear in x


@pytest.mark.parametrize("kwargs, error, phrase", [
    (dict(formula="y ~ x + (1 | h)"), hx.DataError, "column 'h'"),
    (dict(formula="y ~ x + (1 | g"), hx.FormulaError, "unclosed '('"),
    (dict(family="studentt"), hx.ModelError, "unknown family 'studentt'"),
    (dict(method="vb"), hx.HieraxError, "unknown method 'vb'"),
    (dict(chains=0), hx.HieraxError, "chains must be a whole number >= 1"),
    (dict(target_accept=1.5), hx.HieraxError, "target_accept must be between 0 and 1"),
    (dict(seed=-3), hx.HieraxError, "seed must be a whole number"),
    (dict(priors={"sd": hx.Normal(0, 1)}), hx.ModelError, "positive values"),
    (dict(parameterisation="sideways"), hx.ModelError, "unknown parameterisation"),
])
def test_fit_rejects_bad_input_clearly(kwargs, error, phrase):
    args = dict(formula="y ~ x + (1 | g)", data=DATA) | FAST | kwargs
    with pytest.raises(error) as raised:
        hx.fit(**args)
    assert phrase in str(raised.value)


def test_fit_returns_tidy_tables_with_the_documented_layout():
    fit = hx.fit("y ~ x + (1 + x | g)", DATA, **FAST)
    assert list(fit.fixef().index) == ["(Intercept)", "x"]
    assert list(fit.fixef().columns) == ["estimate", "sd", "q05", "q95", "mcse", "ess_bulk", "ess_tail", "r_hat"]
    vc = fit.varcorr()
    assert vc[["group", "var1", "var2"]].fillna("").values.tolist() == [
        ["g", "(Intercept)", ""], ["g", "x", ""], ["g", "(Intercept)", "x"], ["Residual", "", ""]]
    ranef = fit.ranef()
    assert len(ranef) == 6 and set(ranef["level"]) == {"a", "b", "c"}
    coef, fixed = fit.coef(), fit.fixef()
    np.testing.assert_allclose(
        coef["estimate"].values[:3], ranef["estimate"].values[:3] + fixed.loc["(Intercept)", "estimate"], rtol=1e-9)
    assert set(group_names(fit.idata)) >= {"posterior", "sample_stats", "log_likelihood", "observed_data"}


def test_same_seed_gives_the_same_draws():
    a = hx.fit("y ~ x + (1 | g)", DATA, **FAST)
    b = hx.fit("y ~ x + (1 | g)", DATA, **FAST)
    np.testing.assert_array_equal(a.idata.posterior["beta"].values, b.idata.posterior["beta"].values)


def test_a_warm_start_reuses_the_fits_settings_and_says_what_is_wrong_with_a_bad_one(tmp_path):
    counts = DATA.assign(k=np.arange(12) % 4)
    first = hx.fit("k ~ x + (1 | g)", counts, family="poisson", **FAST)
    again = hx.fit("k ~ x + (1 | g)", counts.assign(k=counts["k"][::-1].values), family="poisson", chains=2,
                   draws=20, seed=1, warm_start=first)
    assert again.config.warmup == 100 and again.sampler_state is not None
    assert again.parameterisation == first.parameterisation          # the centring is kept
    bad = [
        (dict(warm_start=hx.fit("y ~ x + (1 | g)", NOISY, method="reml")), "method='nuts'"),
        (dict(warm_start=first, method="reml"), "warm_start is for method='nuts'"),
        (dict(formula="k ~ 1 + (1 | g)"), "needs the same formula"),
        (dict(family="gaussian"), "same family and link"),
        (dict(data=counts[counts["g"] != "c"]), "the same number of levels"),     # 2 levels of g, not 3
        (dict(collapse=False, family="gaussian", formula="y ~ x + (1 | g)", data=DATA,
              warm_start=hx.fit("y ~ x + (1 | g)", DATA, **FAST)), "same collapse="),
        (dict(warm_start=restore(save(first, tmp_path / "fit.nc"))), "loaded from a file"),
    ]
    for kwargs, phrase in bad:
        args = dict(formula="k ~ x + (1 | g)", data=counts, family="poisson", warm_start=first) | FAST | kwargs
        with pytest.raises(hx.HieraxError) as raised:
            hx.fit(**args)
        assert phrase in str(raised.value), (kwargs, str(raised.value))


def interrupting(phase: str, count: int):
    """SpecSampler.sample with a progress callback that raises KeyboardInterrupt (as Ctrl-C would,
    between chunks) at its ``count``-th chunk of ``phase`` ("warmup" or "sampling")."""
    original = SpecSampler.sample

    def sample(self, rng_key, data=None, progress=None, warm=None, keep_interrupted=False):
        calls = Counter()

        def interrupt(at, steps):
            calls[at] += 1
            if progress is not None:
                progress(at, steps)
            if (at, calls[at]) == (phase, count):
                raise KeyboardInterrupt

        return original(self, rng_key, data, interrupt, warm, keep_interrupted)

    return sample


# draws come in chunks of 100 (NUTSConfig.chunk): Ctrl-C after the first keeps 100 of 200
INTERRUPTED = dict(chains=2, warmup=100, draws=200, seed=3)


@pytest.mark.parametrize("collapse", [None, False])
def test_ctrl_c_in_sampling_keeps_the_draws_so_far(monkeypatch, collapse):
    """Collapsed (the group effects drawn afterwards, for the draws kept) and full."""
    monkeypatch.setattr(SpecSampler, "sample", interrupting("sampling", 1))
    with pytest.warns(UserWarning, match="interrupted after 100 of 200 draws per chain") as caught:
        fit = hx.fit("y ~ x + (1 | g)", NOISY, collapse=collapse, **INTERRUPTED)
    assert "unreliable" in str(caught[0].message) and caught[0].filename == __file__
    assert fit.interrupted and fit.warnings[0].startswith("sampling was interrupted after 100 of 200")
    assert fit.parameterisation["g"]["choice"] == ("collapsed" if collapse is None else "auto")
    post = fit.idata.posterior
    assert post["beta"].shape == (2, 100, 2) and post["b_g"].shape == (2, 100, 3, 1)
    assert np.isfinite(post["b_g"].values).all() and np.isfinite(post["sd_g"].values).all()
    assert fit.idata.sample_stats["diverging"].shape == (2, 100)
    assert fit.idata.log_likelihood["y"].shape == (2, 100, 12)
    table = fit.summary()
    assert table.attrs["interrupted"] and table.attrs["warnings"][0] == fit.warnings[0]
    assert np.isfinite(table["r_hat"]).all()
    assert "interrupted after 100 of 200 draws" in repr(fit)
    monkeypatch.undo()
    finished = hx.fit("y ~ x + (1 | g)", NOISY, collapse=collapse, **INTERRUPTED)
    assert not finished.interrupted and finished.idata.posterior.sizes["draw"] == 200


def test_ctrl_c_in_warmup_raises_keyboard_interrupt_without_jax_frames(monkeypatch):
    monkeypatch.setattr(SpecSampler, "sample", interrupting("warmup", 1))
    with pytest.raises(KeyboardInterrupt, match="no draws to keep") as raised:
        hx.fit("y ~ x + (1 | g)", NOISY, **INTERRUPTED)
    assert raised.value.__suppress_context__ and raised.value.__cause__ is None


class RecordingBar:
    """A stand-in for tqdm that records the descriptions it shows."""

    shown: list = []

    def __init__(self, total, desc, disable, **kwargs):
        self.disabled = disable
        RecordingBar.shown = [] if disable else [desc]

    def set_description(self, desc):
        if not self.disabled and desc != RecordingBar.shown[-1]:
            RecordingBar.shown.append(desc)

    def update(self, steps):
        pass

    def close(self):
        pass


@pytest.mark.parametrize("progress, shown", [
    (True, ["compiling the sampler", "warmup", "sampling"]),
    (False, []),
])
def test_the_progress_bar_says_compiling_until_warmup_moves(monkeypatch, progress, shown):
    monkeypatch.setattr(hierax.api, "tqdm", RecordingBar)
    hx.fit("y ~ x + (1 | g)", DATA, progress=progress, **FAST)
    assert RecordingBar.shown == shown


def test_a_polars_frame_fits_and_predicts_as_its_pandas_copy():
    """polars in, as pandas: the same REML fit to the last bit, and the same predictions (its
    intervals are simulated: one seed) at polars rows. Polars is a test dependency for this."""
    pl = pytest.importorskip("polars")
    rng = np.random.default_rng(4)
    g = np.repeat(np.arange(10), 8)
    x = rng.normal(size=80)
    frame = pd.DataFrame({"y": 1 + x + rng.normal(size=10)[g] + rng.normal(size=80), "x": x,
                          "g": np.char.add("g", g.astype(str))})
    ours, theirs = (hx.fit("y ~ x + (1 | g)", d, method="reml") for d in (frame, pl.from_pandas(frame)))
    pd.testing.assert_frame_equal(theirs.fixef(), ours.fixef())
    pd.testing.assert_frame_equal(theirs.predict(pl.from_pandas(frame.head(5)), seed=1),
                                  ours.predict(frame.head(5), seed=1))
