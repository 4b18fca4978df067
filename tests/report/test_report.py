"""The HTML report (issue 4): its sections, and that it renders in a real headless browser.

The browser test runs Debian's Chromium (``apt-get install chromium``) and is skipped where it is
not installed. It checks that the page loads, that every embedded image decodes, that the page
logs nothing to the console (a page that does is caught: the check is shown to fail), and that
the screenshot is not blank.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import matplotlib
import matplotlib.image

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import hierax as hx  # noqa: E402
from hierax.report import write_report  # noqa: E402
from hierax.results.io import restore, save  # noqa: E402

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
pytestmark = pytest.mark.skipif(not SHARED.exists(), reason="../shared (data) is not beside the checkout")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FORMULA = "log_radon ~ floor + (1 | county)"


@pytest.fixture(scope="module")
def radon():
    return pd.read_csv(SHARED / "radon_mn.csv")


@pytest.fixture(scope="module")
def report(tmp_path_factory, radon):
    fit = hx.fit(FORMULA, radon, chains=2, warmup=200, draws=200, seed=7, progress=False)
    pooling = hx.compare_pooling(FORMULA, radon, partial=fit)
    path = tmp_path_factory.mktemp("report") / "report.html"
    write_report(fit, path, pooling=pooling)
    return fit, path


def test_report_has_every_section_and_embeds_its_images(report):
    _, path = report
    page = path.read_text()
    for heading in ["Model", "Priors", "Diagnostics", "Posterior summary", "Group effects",
                    "Posterior predictive checks", "Predictive accuracy (PSIS-LOO)", "Pooling, side by side"]:
        assert f">{heading}" in page, heading
    images = re.findall(r"<img [^>]*src='data:image/png;base64,", page)
    assert len(images) == 7              # graph, trace, forest, funnel, ppc, group ppc, shrinkage
    assert "<script" not in page and "http" not in page.split("</style>")[1]   # self-contained


def test_report_never_overwrites(report):
    fit, path = report
    with pytest.raises(hx.HieraxError, match="already exists"):
        write_report(fit, path)


def test_report_of_a_reml_fit_and_of_a_saved_fit(tmp_path, radon, report):
    fit, _ = report
    reml = hx.fit(FORMULA, radon, method="reml")
    page = write_report(reml, tmp_path / "reml.html").read_text()
    assert "Estimates" in page and "Posterior predictive" not in page
    saved = save(fit, tmp_path / "fit.nc")
    again = restore(saved)                         # the formula's columns travel in the file
    np.testing.assert_array_equal(again.summary()["estimate"], fit.summary()["estimate"])
    np.testing.assert_array_equal(again.spec.X, fit.spec.X)
    assert again.spec.blocks[0].levels == fit.spec.blocks[0].levels
    assert write_report(again, tmp_path / "again.html").exists()
    with pytest.raises(hx.HieraxError, match="rows"):
        restore(saved, radon.iloc[:100])


def _chromium(*arguments, timeout=120):
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--virtual-time-budget=5000", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def _console_messages(url: str) -> list[str]:
    done = _chromium("--enable-logging=stderr", "--v=1", "--dump-dom", url)
    return [line for line in done.stderr.splitlines() if ":CONSOLE" in line]


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)")
def test_report_renders_in_headless_chromium(report, tmp_path):
    _, path = report
    page = path.read_text()
    # every image decodes: a copy of the page with a probe that counts them once loaded
    probe = ("<script>window.addEventListener('load', () => { const all = [...document.images]; "
             "document.body.setAttribute('data-images', all.length + ':' + "
             "all.filter(i => i.complete && i.naturalWidth > 0).length); });</script>")
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", probe + "</body>"))
    dom = _chromium("--dump-dom", probed.as_uri()).stdout
    assert 'data-images="7:7"' in dom
    # nothing on the console; the check does catch a page that logs an error
    assert _console_messages(path.as_uri()) == []
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><script>console.error('boom'); missing();</script></body></html>")
    assert len(_console_messages(broken.as_uri())) == 2
    # the screenshot shows a page, not a blank
    shot = tmp_path / "report.png"
    _chromium(f"--screenshot={shot}", "--window-size=1100,2400", path.as_uri())
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (2400, 1100)
    assert pixels[..., :3].std() > 0.05 and (pixels[..., :3] < 0.5).mean() > 0.01


def test_the_report_shows_imputed_values_and_says_why_checks_are_missing(tmp_path):
    """A fit with a missing predictor and a missing response: a table of each one's imputed
    values; its replicated data are not available yet, which the checks section says."""
    data = pd.read_csv(Path(__file__).resolve().parents[1] / "reference" / "data" / "nhanes.csv")
    fit = hx.fit(hx.bf("bmi | mi() ~ age + mi(chl)") + hx.bf("chl | mi() ~ age"), data, chains=2, warmup=200,
                 draws=200, seed=4)
    page = write_report(fit, tmp_path / "report.html").read_text()
    assert "<h2>Imputed values</h2>" in page
    assert "<h3>bmi: 9 values</h3>" in page and "<h3>chl: 10 values</h3>" in page
    assert "replicated data sets of a model with latent predictors (mi(), me()) are not available yet" in page
