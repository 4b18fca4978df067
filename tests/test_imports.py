"""The architecture's import rules (../shared/DESIGN.md, "Import rules"), checked by reading every
import of every file under src/hierax, those inside functions included (a lazy import is still a
dependency)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "hierax"
# Every package and top-level module is a unit ("hierax" is the package's own __init__: the public API).
UNITS = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()} | {
    "hierax" if p.stem == "__init__" else p.stem for p in PACKAGE.glob("*.py")}
UTILITIES = {"errors", "_threads", "_jax_setup", "_cache_trim", "_programs"}   # the exceptions and process set-up: any unit may import them
CONSUMERS = {"plots", "report", "cli"}
PUBLIC = {"hierax", "formula", "datasets"}              # what users import: hx.*, hx.bf / parse_formula, hx.datasets
STAGES = {"formula", "design", "model", "density", "linalg", "engines", "config", "sampler", "api"}

MAY_IMPORT = {
    # unit: the other hierax units it may import (besides UTILITIES)
    "formula": set(),                                   # formula imports nothing internal
    "design": {"formula"},                              # design imports only formula
    "model": {"formula", "design", "linalg"},           # design and formula; linalg's column scales (model/scaling.py)
    "linalg": set(),
    # density imports model and linalg, and engines for the embedded Laplace density (the Laplace
    # engine's Newton solve and implicit gradient integrate its effects out) and its draws' devices
    "density": {"model", "linalg", "engines"},
    "engines": {"linalg"},                              # never formula, design, model: functions, arrays, pytrees
    "datasets": set(),
    "config": {"engines"},                              # the frozen option records (NUTSConfig)
    "sampler": {"config", "model", "density", "engines", "results"},
    "api": STAGES - {"api"} | {"results", "missing", "missing_predictor", "outofcore"},   # fit() composes the stages
    # out-of-core data: the design learned over chunks, the sums' spec and the engine that fits from them
    "outofcore": {"formula", "design", "model", "density", "linalg", "engines", "config"},
    # mi(x): the joint model of an outcome and its imputed predictors, sampled by the NUTS engine
    "missing_predictor": {"formula", "design", "model", "density", "engines", "config", "results", "missing",
                          "latent_sampler"},
    # its two ways of sampling (every latent value, or the collapsed joint), as sampler.py is a plain fit's
    "latent_sampler": {"config", "model", "density", "engines"},
    "missing": {"formula", "design", "results"},        # y | mi(): the observed rows fitted, the missing drawn
    # never workflow or report (nor api, plots, cli); outofcore for predictions on Dask frames
    "results": STAGES - {"api", "sampler"} | {"outofcore"},
    "workflow": STAGES | {"results"},                   # consumers of plots only in a lazy .plot() (below)
    "plots": PUBLIC | {"results", "workflow"},          # consumers: the public API, results and workflow,
    "report": PUBLIC | {"results", "workflow", "plots"},  # each consumer the ones before it
    "cli": PUBLIC | {"results", "workflow", "plots", "report"},
    "hierax": set(),                                    # __init__: the public names load lazily, by name
    "errors": set(),
    "_threads": set(),
    "_jax_setup": set(),
    "_cache_trim": set(),
    "_programs": set(),
}
# A result's .plot() convenience may import plots lazily, inside the method: each one named.
PLOT_METHODS = {
    ("workflow/pooling.py", "PoolingComparison.plot", "hierax.plots"),
    ("workflow/sbc.py", "SBCResult.plot", "hierax.plots.sbc"),
}
FORBIDDEN_THIRD_PARTY = {"engines": {"pandas"}}


def unit_of(path: Path) -> str:
    """The unit a file belongs to: its package under hierax, or its own name for a top-level module."""
    rel = path.relative_to(PACKAGE)
    if len(rel.parts) > 1:
        return rel.parts[0]
    return "hierax" if rel.stem == "__init__" else rel.stem


def target_unit(module: str) -> str | None:
    """The hierax unit an imported module belongs to (None for a third-party module)."""
    parts = module.split(".")
    if parts[0] != "hierax":
        return None
    return parts[1] if len(parts) > 1 and parts[1] in UNITS else "hierax"


def imports_of(path: Path) -> list[tuple[str, str]]:
    """(module, enclosing scope) of every import in the file ``path`` (see :func:`imports_in`)."""
    return imports_in(path.read_text(), ["hierax", *path.relative_to(PACKAGE).parent.parts])


def imports_in(text: str, package: list[str]) -> list[tuple[str, str]]:
    """(module, enclosing scope) of every import in ``text``, a file of ``package``, at any depth:
    ``from a import b`` gives ``a.b`` (b may be a module), a relative import its absolute name,
    and the scope is the qualified name of the function or class it sits in ('' at module level)."""
    found = []

    def visit(node, scope: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit(child, f"{scope}.{child.name}" if scope else child.name)
                continue
            if isinstance(child, ast.Import):
                found.extend((alias.name, scope) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = package[:len(package) - child.level + 1] if child.level else []
                module = ".".join(base + ([child.module] if child.module else []))
                found.extend((f"{module}.{alias.name}", scope) for alias in child.names)
            visit(child, scope)

    visit(ast.parse(text), "")
    return found


def files_of(unit: str) -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if unit_of(p) == unit)


def is_plot_method(path: Path, scope: str, module: str) -> bool:
    rel = path.relative_to(PACKAGE).as_posix()
    return any(rel == f and scope == s and (module == m or module.startswith(m + ".")) for f, s, m in PLOT_METHODS)


def test_every_unit_has_a_rule():
    assert set(MAY_IMPORT) == UNITS, "a package or top-level module without an import rule (or a rule for none)"


@pytest.mark.parametrize("unit", sorted(MAY_IMPORT))
def test_unit_imports_follow_the_design(unit):
    allowed = MAY_IMPORT[unit] | UTILITIES | {unit}
    bad = []
    for path in files_of(unit):
        for module, scope in imports_of(path):
            target = target_unit(module)
            if target is not None and target not in allowed and not is_plot_method(path, scope, module):
                bad.append(f"{path.relative_to(PACKAGE)} ({scope or 'module level'}) imports {module}")
            if module.split(".")[0] in FORBIDDEN_THIRD_PARTY.get(unit, set()):
                bad.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert not bad, bad


def test_nothing_imports_the_consumers_but_a_named_plot_method():
    """plots, report and cli are imported by no stage, results or workflow; a ``.plot()`` method,
    named in PLOT_METHODS, may import plots inside itself."""
    bad = []
    for path in PACKAGE.rglob("*.py"):
        if unit_of(path) in CONSUMERS:
            continue
        for module, scope in imports_of(path):
            if target_unit(module) in CONSUMERS and not is_plot_method(path, scope, module):
                bad.append(f"{path.relative_to(PACKAGE)} ({scope or 'module level'}) imports {module}")
    assert not bad, bad


@pytest.mark.parametrize("file, scope, module", sorted(PLOT_METHODS))
def test_each_named_plot_method_exists_and_imports_lazily(file, scope, module):
    """An exception that no longer matches an import is stale; one at module level would not be lazy."""
    imports = imports_of(PACKAGE / file)
    assert scope.endswith(".plot")
    assert any(s == scope and (m == module or m.startswith(module + ".")) for m, s in imports), (file, scope)


def test_the_reader_sees_lazy_and_relative_imports():
    """The reader itself, on a snippet: a relative import made absolute, a lazy one with its scope."""
    text = ("from .tables import fixef\nfrom .. import errors\nimport numpy\n"
            "class Result:\n    def plot(self):\n        from hierax.plots import forest_plot\n")
    assert imports_in(text, ["hierax", "results"]) == [
        ("hierax.results.tables.fixef", ""), ("hierax.errors", ""), ("numpy", ""),
        ("hierax.plots.forest_plot", "Result.plot")]
    assert [target_unit(m) for m in ("hierax.results.tables.fixef", "hierax.fit", "numpy")] == ["results", "hierax",
                                                                                               None]
