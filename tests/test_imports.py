"""The architecture's import rules (../shared/DESIGN.md), checked by reading the imports."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "hierax"
RULES = {
    # stage: hierax subpackages it may not import
    "formula": {"design", "model", "density", "engines", "results", "api", "cli", "datasets"},
    "design": {"model", "density", "engines", "results", "api", "cli"},
    "density": {"formula", "design", "engines", "results", "api", "cli"},
    "engines": {"formula", "design", "model", "density", "results", "api", "cli"},
    "linalg": {"formula", "design", "model", "density", "engines", "results", "workflow", "api", "cli"},
}
FORBIDDEN_THIRD_PARTY = {"engines": {"pandas"}}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("stage", sorted(RULES))
def test_stage_imports_follow_the_design(stage):
    bad = []
    for path in (PACKAGE / stage).rglob("*.py"):
        for name in imports_of(path):
            parts = name.split(".")
            if parts[0] == "hierax" and len(parts) > 1 and parts[1] in RULES[stage]:
                bad.append(f"{path.name} imports {name}")
            if parts[0] in FORBIDDEN_THIRD_PARTY.get(stage, set()):
                bad.append(f"{path.name} imports {name}")
    assert not bad, bad


def test_nothing_imports_the_cli():
    for path in PACKAGE.rglob("*.py"):
        if "cli" in path.parts:
            continue
        assert not any(n.startswith("hierax.cli") for n in imports_of(path)), path
