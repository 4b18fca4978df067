"""The command line: a fit from a CSV file, saving without overwriting, errors without tracebacks."""

import numpy as np
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
    import arviz as az

    saved = az.from_netcdf(str(out))
    assert saved.posterior.attrs["hierax_formula"] == "y ~ x + (1 | g)"
    before = out.stat().st_mtime_ns
    assert main(args) == 2  # refuses to overwrite
    assert "already exists" in capsys.readouterr().err and out.stat().st_mtime_ns == before


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
