"""Conditional effects: a fit's expected response along one predictor, the others held fixed, for
the population and for chosen groups (brms's ``conditional_effects``).

The grid holds ``variable`` over its observed range (a numeric one; each level of a categorical
one) and every other predictor at a reference value: a numeric one at its mean, a categorical one
at its first level, as brms does. The population line sets every group effect to its population
mean (zero: ``predict(new_groups="population")`` at a level no group has); a group's line uses
that group's own effects. Each row has the prediction's ``estimate`` and ``level`` interval of the
expected response (``kind="mean"``: posterior draws for NUTS, the estimates' sampling distribution
for REML/ML/Laplace, as ``fit.predict`` gives them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hierax.errors import DataError, ModelError

POPULATION = "population"


@dataclass(frozen=True)
class ConditionalEffects:
    """The predictions along ``variable``: ``table`` has the grid's ``variable``, ``line``
    (``"population"`` or a group's level) and ``estimate``, ``lower``, ``upper``."""

    variable: str
    table: pd.DataFrame

    def plot(self, ax=None):
        """One line (numeric) or one set of points (categorical) per line of the table, with its
        interval; the population's drawn thicker."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        numeric = pd.api.types.is_numeric_dtype(self.table[self.variable])
        for k, (line, part) in enumerate(self.table.groupby("line", sort=False)):
            population = line == POPULATION
            color = "k" if population else f"C{k % 10}"
            x = part[self.variable]
            if numeric:
                ax.plot(x, part["estimate"], color=color, lw=2.0 if population else 1.0, label=str(line))
                ax.fill_between(x, part["lower"], part["upper"], color=color, alpha=0.15 if population else 0.07)
            else:
                ax.errorbar(x.astype(str), part["estimate"], yerr=[part["estimate"] - part["lower"],
                                                                   part["upper"] - part["estimate"]],
                            fmt="o", color=color, label=str(line), capsize=3)
        ax.set_xlabel(self.variable)
        ax.set_ylabel("expected response")
        ax.legend(frameon=False, fontsize=8)
        return ax


def conditional_effects(fit, variable: str, groups=None, points: int = 50, level: float = 0.9,
                        seed: int | None = 0) -> ConditionalEffects:
    """The expected response along ``variable`` (module docstring), for the population and for
    each level in ``groups`` (a list of levels of the model's one grouping factor)."""
    data = getattr(fit, "data", None)
    if data is None:
        raise DataError("the fit holds no data to take the predictors' ranges from; refit with its data")
    predictors = [c for c in fit.design_info.formula.variables if c in data.columns]
    response = fit.design_info.formula.response.label
    group_columns = [b.group for b in fit.spec.blocks]
    if variable not in predictors or variable == response or variable in group_columns:
        choices = [c for c in predictors if c != response and c not in group_columns]
        raise ModelError(f"{variable!r} is not a predictor of this fit; its predictors are {choices}")
    values = _grid_values(data[variable], points)
    base = {c: _reference(data[c]) for c in predictors if c not in (variable, response) and c not in group_columns}
    lines = [(POPULATION, None)]
    if groups is not None:
        if len(group_columns) != 1:
            raise ModelError("groups= picks levels of one grouping factor; this model has "
                             f"{group_columns or 'none'}")
        known = set(data[group_columns[0]].astype(str))
        missing = [g for g in groups if str(g) not in known]
        if missing:
            raise ModelError(f"{missing} are not levels of {group_columns[0]!r}")
        lines += [(g, g) for g in groups]
    frames = []
    for name, level_value in lines:
        grid = pd.DataFrame({variable: values, **{c: v for c, v in base.items()}})
        for column in group_columns:
            grid[column] = "__population__" if level_value is None else level_value
        if response in data.columns:
            grid[response] = data[response].iloc[0]
        table = fit.predict(grid, kind="mean", new_groups="population", level=level, seed=seed)
        frames.append(pd.DataFrame({variable: values, "line": name, "estimate": table["estimate"].to_numpy(),
                                    "lower": table["lower"].to_numpy(), "upper": table["upper"].to_numpy()}))
    return ConditionalEffects(variable, pd.concat(frames, ignore_index=True))


def _grid_values(column: pd.Series, points: int) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(column) and column.nunique() > 2:
        return np.linspace(column.min(), column.max(), points)
    return np.asarray(sorted(column.dropna().unique()))


def _reference(column: pd.Series):
    """A numeric predictor's mean, a categorical one's first level (brms's reference values)."""
    if pd.api.types.is_numeric_dtype(column) and column.nunique() > 2:
        return float(column.mean())
    return sorted(column.dropna().unique())[0]
