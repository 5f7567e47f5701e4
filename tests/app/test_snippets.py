"""Every ```python block of README.md and docs/*.md runs as written, each in its own Python process.

A snippet runs in a fresh folder that holds links to the repository's top-level entries, so it reads
``assets/...`` as on a fresh clone and everything it writes stays in that folder. Snippets that talk to
the web app read its address from ``PORTRAITTALK_URL`` (default ``http://127.0.0.1:7860/``); here it is
the app this test session launched.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
OUTPUT_FOLDERS = {"outputs", "artifacts", "weights"}  # written to by the project, never linked


def snippets() -> list:
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(pytest.param(match.group(1), id=f"{doc.relative_to(ROOT)}:{line}"))
    return found


SNIPPETS = snippets()


def test_the_readme_and_the_app_docs_have_snippets():
    """The collector finds them (a broken pattern would make every snippet test vanish)."""
    ids = [p.id for p in SNIPPETS]
    assert sum(i.startswith("README.md:") for i in ids) >= 2 and any(i.startswith("docs/app.md:") for i in ids)


@pytest.mark.parametrize("code", SNIPPETS)
def test_snippet_runs_as_written(code, app_url, tmp_path):
    for entry in ROOT.iterdir():
        if not entry.name.startswith(".") and entry.name not in OUTPUT_FOLDERS:
            (tmp_path / entry.name).symlink_to(entry)
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PORTRAITTALK_URL": app_url})  # fmt: skip
    assert run.returncode == 0, f"the snippet failed:\n{code}\n--- stderr ---\n{run.stderr[-3000:]}"
    if "gradio_client" in code:  # a client of the app makes its inputs in a scratch folder, not the user's
        assert sorted(p.name for p in tmp_path.iterdir() if not p.is_symlink()) == []
