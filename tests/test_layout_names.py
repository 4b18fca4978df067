"""No module outside ``hierax.model`` spells a parameter's name: positions, parameters and
posterior variables are looked up through ``hierax.model.layout`` (issue 16), so a parameter is
named, renamed or added in one place.

The test reads every module's syntax tree and reports a name of the layout used as a key (a
subscript ``x["beta"]``, a dict key, ``.get("beta")``) or an f-string that builds a posterior
variable or dimension (``f"sd_{...}"``, ``f"{...}__level"``)."""

import ast
from pathlib import Path

from hierax.model import layout

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "hierax"
NAMES = set(layout.POSITION) | set(layout.PARAMS) | {layout.RESIDUAL_SD, layout.FIXED_VARIABLE,
                                                      layout.THRESHOLDS_VARIABLE, layout.FIXED_DIM,
                                                      layout.THRESHOLD_DIM}
PREFIXES = ("sd_", "cor_", "b_", "beta_", "fixed_")
SUFFIXES = ("__term", "__level", "__pair")


def _literal(node) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def spelt_names(tree) -> list:
    """(line, what) for each place the tree spells a layout name as a key or builds a variable's."""
    found = []
    for node in ast.walk(tree):
        keys = []
        if isinstance(node, ast.Subscript):
            keys.append(node.slice)
        elif isinstance(node, ast.Dict):
            keys.extend(k for k in node.keys if k is not None)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" and node.args:
            keys.append(node.args[0])
        elif isinstance(node, ast.JoinedStr) and len(node.values) > 1:
            first, last = _literal(node.values[0]), _literal(node.values[-1])
            if (first or "").startswith(PREFIXES) or (last or "").endswith(SUFFIXES):
                found.append((node.lineno, ast.unparse(node)))
        found += [(node.lineno, repr(_literal(k))) for k in keys if _literal(k) in NAMES]
    return found


def test_only_the_model_spells_parameter_names():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "model" in path.relative_to(PACKAGE).parts:
            continue
        offenders += [f"{path.relative_to(PACKAGE)}:{line}: {what}" for line, what in spelt_names(ast.parse(path.read_text()))]
    assert not offenders, "\n".join(offenders)


def test_the_check_finds_what_it_looks_for():
    tree = ast.parse('x["beta"]; d = {"log_sd": 1}; p.get("sigma"); f"sd_{b.name}"; f"{b.name}__level"; x["other"]')
    assert [what for _, what in spelt_names(tree)] == ["'beta'", "'log_sd'", "'sigma'", "f'sd_{b.name}'",
                                                      "f'{b.name}__level'"]
