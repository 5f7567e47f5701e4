"""The numbers the README's comments promise are the ones its snippets print."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def test_the_readme_promises_the_adfd_its_client_snippet_prints(app_url, tmp_path):
    """The gradio_client snippet compares a result with its real clip; its comment quotes the ADFD."""
    code = next(c for c in FENCE.findall((ROOT / "README.md").read_text(encoding="utf-8")) if "/evaluate" in c)
    promised = re.search(r'# \{"ADFD": ([0-9.]+?)\.\.\.', code)
    assert promised, "the snippet's comment quotes no ADFD"
    for entry in ROOT.iterdir():  # a fresh folder that reads the repository's files (as test_snippets.py)
        if not entry.name.startswith(".") and entry.name not in {"outputs", "artifacts", "weights"}:
            (tmp_path / entry.name).symlink_to(entry)
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PORTRAITTALK_URL": app_url})  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    printed = re.search(r"'ADFD': ([0-9.]+)", run.stdout)
    assert printed and printed.group(1).startswith(promised.group(1)), (promised.group(1), run.stdout[-500:])
