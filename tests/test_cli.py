"""The command line: a fit from a CSV file, saving without overwriting, errors without tracebacks."""

import numpy as np
import pytest
import pandas as pd

from hierax.cli.main import main


def write_data(path):
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(5), 6)
    y = 1.0 + rng.normal(size=5)[g] + rng.normal(size=30)
    pd.DataFrame({"y": y, "x": rng.normal(size=30), "g": g}).to_csv(path, index=False)


def test_fit_prints_summary_and_saves(tmp_path, capsys):
    data, out = tmp_path / "d.csv", tmp_path / "fit.nc"
    write_data(data)
    args = ["fit", "y ~ x + (1 | g)", "--data", str(data), "--chains", "2", "--warmup", "50", "--draws", "50",
            "--seed", "3", "--no-progress", "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "Posterior summary" in printed and "sd[g][(Intercept)]" in printed and out.exists()
    from hierax.results import _arviz

    saved = _arviz.from_netcdf(out)
    assert saved.posterior.attrs["hierax_formula"] == "y ~ x + (1 | g)"
    before = out.stat().st_mtime_ns
    assert main(args) == 2  # refuses to overwrite
    assert "already exists" in capsys.readouterr().err and out.stat().st_mtime_ns == before


def test_collapse_laplace_fits_and_says_how_the_effects_were_sampled(tmp_path, capsys):
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(8), 10)
    y = (rng.random(80) < 1 / (1 + np.exp(-rng.normal(size=8)[g]))).astype(int)
    data = tmp_path / "b.csv"
    pd.DataFrame({"y": y, "x": rng.normal(size=80), "g": g}).to_csv(data, index=False)
    args = ["fit", "y ~ x + (1 | g)", "--data", str(data), "--family", "bernoulli", "--collapse", "laplace",
            "--chains", "2", "--warmup", "100", "--draws", "100", "--seed", "3", "--no-progress"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "laplace: effects integrated out by the Laplace approximation" in printed and "Pareto k" in printed


def test_errors_are_one_line_messages(tmp_path, capsys):
    data = tmp_path / "d.csv"
    write_data(data)
    assert main(["fit", "y ~ x + (1 | gg)", "--data", str(data), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hierax: error: column 'gg'") and "Traceback" not in err
    assert main(["fit", "y ~ x", "--data", str(tmp_path / "missing.csv")]) == 2
    assert "no data file" in capsys.readouterr().err


def test_reml_fit_prints_lme4_style_summary(tmp_path, capsys):
    data = tmp_path / "d.csv"
    write_data(data)
    assert main(["fit", "y ~ x + (1 | g)", "--data", str(data), "--method", "reml"]) == 0
    printed = capsys.readouterr().out
    assert "Linear mixed model fit by REML" in printed and "REML criterion" in printed
    assert "Random effects" in printed and "Fixed effects" in printed and "converged" in printed


def test_reml_fit_prints_small_sample_df_anova_and_icc(tmp_path, capsys):
    data = tmp_path / "d.csv"
    write_data(data)
    assert main(["fit", "y ~ x + (1 | g)", "--data", str(data), "--method", "reml", "--ddf", "kenward-roger",
                 "--icc"]) == 0
    printed = capsys.readouterr().out
    assert "Fixed effects, kenward-roger df:" in printed and "Type III anova, kenward-roger df:" in printed
    assert "Pr(>F)" in printed and "ICC:" in printed and "R²:" in printed and "adjusted" in printed


# -- a fast command: nothing heavy loads before the arguments are parsed (issue 15) ---------------
def run_python(code: str, **env) -> str:
    """``python -c CODE`` in a fresh process; its standard output."""
    import os
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, **env))
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_cli_and_help_load_no_jax():
    """``import hierax.cli.main`` and ``hierax --help`` / ``fit --help`` import neither JAX nor pandas."""
    out = run_python(
        "import sys, contextlib, io\n"
        "import hierax, hierax.cli.main\n"
        "heavy = lambda: sorted(m for m in ('jax', 'pandas', 'arviz', 'matplotlib') if m in sys.modules)\n"
        "print(heavy())\n"
        "for argv in (['--help'], ['fit', '--help'], ['report', '--help']):\n"
        "    try:\n"
        "        with contextlib.redirect_stdout(io.StringIO()):\n"
        "            hierax.cli.main.main(argv)\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0, e.code\n"
        "print(heavy())\n")
    assert out.split("\n")[:2] == ["[]", "[]"], out


def test_help_exits_zero():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "hierax.cli.main", "--help"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and "fit" in done.stdout and not done.stderr


@pytest.mark.parametrize("order", ["import hierax, jax", "import jax, hierax"])
def test_jax_is_configured_whichever_is_imported_first(order, tmp_path):
    """float64, one device per core (at least 4) and hierax's cache, from either import order."""
    out = run_python(f"{order}\nimport jax.numpy as jnp, os\n"
                     "print(jnp.ones(1).dtype, jax.device_count(), max(os.cpu_count(), 4), "
                     "jax.config.jax_compilation_cache_dir)", HIERAX_CACHE_DIR=str(tmp_path / "cache"))
    dtype, devices, expected, cache = out.split()
    assert dtype == "float64" and devices == expected and cache == str(tmp_path / "cache")


def test_cache_settings_of_the_user_are_kept(tmp_path):
    """``HIERAX_CACHE_DIR=off`` turns the cache off; a JAX cache folder the user set is kept."""
    code = "import hierax, jax\nprint(jax.config.jax_compilation_cache_dir)"
    assert run_python(code, HIERAX_CACHE_DIR="off").strip() == "None"
    assert run_python(code, JAX_COMPILATION_CACHE_DIR=str(tmp_path)).strip() == str(tmp_path)


def test_public_names_load_on_first_use():
    """Every name of ``__all__`` is there, and ``hx.model`` stays the function once the
    ``hierax.model`` subpackage has loaded (importing it binds the package's attribute)."""
    import importlib

    import hierax as hx

    importlib.import_module("hierax.model.spec")
    assert set(hx.__all__) <= set(dir(hx))
    assert all(getattr(hx, name) is not None for name in hx.__all__)
    assert callable(hx.model) and hx.model.__module__.startswith("hierax.workflow")
    assert hx.plots.__name__ == "hierax.plots"                  # subpackages load on use too
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        hx.nothing


def test_help_states_the_true_defaults():
    """The help's words agree with the registries and the adaptive target_accept rule in config."""
    from hierax.api import METHODS
    from hierax.cli import args
    from hierax.config import AUTO_TARGET_ACCEPT, COLLAPSED_TARGET_ACCEPT
    from hierax.model.families import FAMILIES, LINKS

    mean_links = {link for family in FAMILIES.values() for link in family.links}
    assert args.FAMILIES == tuple(FAMILIES) and set(args.LINKS) == mean_links <= set(LINKS) and args.METHODS == METHODS
    collapsed, raised = COLLAPSED_TARGET_ACCEPT
    from hierax.config import MANY_LEVELS

    assert f"{collapsed:g} for collapsed gaussian models, --collapse laplace and models whose every grouping factor " \
        f"has at least {MANY_LEVELS:,} levels, raised to {raised[0]:g} and then {raised[1]:g}" in args.TARGET_ACCEPT_HELP
    other, raised = AUTO_TARGET_ACCEPT
    assert f"{other:g} for other models, raised to {raised[0]:g}" in args.TARGET_ACCEPT_HELP
    text = " ".join(args.build_parser()._subparsers._group_actions[0].choices["fit"].format_help().split())
    for default in ("number of chains (default: 4)", "warm-up iterations per chain (default: 1000)",
                    "kept draws per chain (default: 1000)", "drawn at random, printed and saved",
                    "(default: gaussian)", "(default: auto"):
        assert default in text, default
    from hierax.cli.main import NUTS_DEFAULTS

    assert NUTS_DEFAULTS["chains"] == 4 and NUTS_DEFAULTS["warmup"] == NUTS_DEFAULTS["draws"] == 1000


# -- Ctrl-C during sampling: the draws kept are printed and saved ---------------------------------
def test_interrupted_fit_is_printed_saved_and_exits_130(tmp_path, capsys, monkeypatch):
    """The fit ``hx.fit`` returns after Ctrl-C (``interrupted``) is noted in one line, printed,
    saved and reported as a finished one, and the command exits with 130."""
    import dataclasses

    import hierax as hx
    from hierax.results.io import restore

    data, out = tmp_path / "d.csv", tmp_path / "fit.nc"
    write_data(data)
    done = hx.fit("y ~ x + (1 | g)", pd.read_csv(data), chains=2, warmup=150, draws=150, seed=5)
    partial = dataclasses.replace(done, interrupted=True, config=dataclasses.replace(done.config, draws=400))
    monkeypatch.setattr(hx, "fit", lambda *args, **kwargs: partial)
    code = main(["fit", "y ~ x + (1 | g)", "--data", str(data), "--draws", "400", "--out", str(out),
                 "--no-progress"])
    printed = capsys.readouterr()
    assert code == 130
    assert "hierax: interrupted: kept 150 draws per chain of 400 asked (2 chains)" in printed.err
    assert "Posterior summary" in printed.out and f"saved to {out}" in printed.out
    assert "2 chains x 150 draws (of 400 asked: interrupted)" in printed.out
    assert restore(out).interrupted and restore(out).idata.posterior.sizes["draw"] == 150


def test_reml_fit_is_saved_restored_and_reported(tmp_path, capsys):
    """``--out`` keeps a REML fit (no draws: its estimates), and ``hierax report`` reports it."""
    from hierax.results.io import restore

    data, out, page = tmp_path / "d.csv", tmp_path / "reml.nc", tmp_path / "reml.html"
    write_data(data)
    assert main(["fit", "y ~ x + (1 | g)", "--data", str(data), "--method", "reml", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    again = restore(out)
    assert again.method == "reml" and f"{again.deviance:.4f}" in printed
    assert main(["report", str(out), "-o", str(page)]) == 0
    assert "Estimates" in page.read_text() and "Linear mixed model" not in capsys.readouterr().err
