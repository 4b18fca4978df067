"""Every example document (``examples/*.md``) runs as written, and writes the figures it shows.

Each document's Python blocks run top to bottom in one namespace, in a fresh folder, as a reader
pasting them into one session would run them (the README's rule, ``tests/test_readme.py``). Then
every file the document saves with ``savefig("...")`` must be there and be a real PNG of some size,
and every image the document links (``![...](file.png)``) must be one it saves. A document added
to ``examples/`` later is picked up without a change here.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DOCUMENTS = sorted(EXAMPLES.glob("*.md"))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def saved_files(text: str) -> list[str]:
    """The file names of the document's ``savefig("name")`` calls (in its code blocks)."""
    return re.findall(r"""savefig\(\s*["']([^"']+)["']""", "\n".join(python_blocks(text)))


def linked_images(text: str) -> list[str]:
    """The local images the document's prose shows: ``![alt](name)`` other than web addresses."""
    return [target for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text) if "://" not in target]


def test_there_are_example_documents_with_code_and_figures():
    assert DOCUMENTS, f"no example documents in {EXAMPLES}"
    for document in DOCUMENTS:
        text = document.read_text()
        assert python_blocks(text), f"{document.name} has no ```python blocks"
        assert saved_files(text), f"{document.name} saves no figure"


@pytest.mark.sampling
@pytest.mark.parametrize("document", DOCUMENTS, ids=[d.name for d in DOCUMENTS])
def test_example_document_runs_and_writes_its_figures(document, tmp_path, monkeypatch):
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    text = document.read_text()
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": document.stem}
    try:
        for number, block in enumerate(python_blocks(text), start=1):
            try:
                exec(compile(block, f"{document.name} python block {number}", "exec"), namespace)
            except Exception as error:  # pragma: no cover - the message says which block failed
                pytest.fail(f"{document.name} python block {number} failed: {type(error).__name__}: {error}")
    finally:
        plt.close("all")

    saved = saved_files(text)
    for name in saved:
        path = tmp_path / name
        assert path.is_file(), f"{document.name} did not write {name}"
        assert path.read_bytes()[:8] == PNG_SIGNATURE, f"{name} is not a PNG"
        assert path.stat().st_size > 10_000, f"{name} is only {path.stat().st_size} bytes"
    for image in linked_images(text):
        assert image in saved, f"{document.name} shows {image}, which none of its blocks saves"
