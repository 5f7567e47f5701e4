"""Mutation check: inject plausible bugs into a copy of the project and make sure some test dies.

    .venv/bin/python tests/mutation/mutate.py [--only NAME_SUBSTRING] [--list] [--json out.json]

Each mutant replaces one exact snippet in one file (it must occur exactly once, so a refactor that
moves the code makes the mutant fail loudly instead of silently testing nothing), then runs the
mutant's test files with ``-x`` in a fresh copy of the tree. A mutant that leaves every test green
"survives": a missing test. The lists live beside this file, one module per area (motion, warp,
diffusion, training, media, batch, app, lips, head, interior, live); this script is not part of ``make test`` (it runs the suite once per mutant).
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AREAS = ("motion", "warp", "diffusion", "training", "media", "batch", "app", "lips", "head", "interior", "live")


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str  # relative to the repository root
    old: str  # exact snippet, found exactly once
    new: str
    tests: tuple[str, ...]  # pytest node ids or files that should kill it


def all_mutants() -> list[Mutant]:
    sys.path.insert(0, str(ROOT / "tests"))
    found: list[Mutant] = []
    for area in AREAS:
        found += importlib.import_module(f"mutation.{area}").MUTANTS
    return found


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    return [line for line in out.splitlines() if line and (ROOT / line).is_file()]


def make_copy(files: list[str], dest: Path) -> None:
    for rel in files:
        if not (ROOT / rel).is_file():  # an untracked file removed while the mutants run
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target)


def run_mutant(m: Mutant, files: list[str], timeout: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="mutant-") as tmp:
        copy = Path(tmp)
        make_copy(files, copy)
        source = (copy / m.path).read_text()
        count = source.count(m.old)
        if count != 1:
            return {"name": m.name, "status": "stale", "detail": f"snippet found {count} times in {m.path}"}
        (copy / m.path).write_text(source.replace(m.old, m.new))
        env = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
        start = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                                   *m.tests], cwd=copy, env=env, capture_output=True, text=True,
                                  timeout=timeout)  # fmt: skip
        except subprocess.TimeoutExpired:
            return {"name": m.name, "status": "killed", "detail": f"timed out after {timeout:.0f} s",
                    "seconds": round(time.perf_counter() - start, 1)}  # fmt: skip
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(("FAILED", "ERROR"))]
        summary = [ln for ln in proc.stdout.splitlines() if " passed" in ln or " failed" in ln or " error" in ln]
        status = "survived" if proc.returncode == 0 else "killed"
        detail = lines[0] if lines else (summary[-1] if summary else proc.stdout.strip()[-200:])
        return {"name": m.name, "status": status, "detail": detail.strip()[:200],
                "seconds": round(time.perf_counter() - start, 1)}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run the mutants whose name contains this text")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per mutant")
    args = parser.parse_args()
    mutants = [m for m in all_mutants() if not args.only or args.only in m.name]
    if args.list:
        for m in mutants:
            print(f"{m.name}: {m.path} -> {' '.join(m.tests)}")
        return 0
    files = tracked_files()
    results = []
    for m in mutants:
        r = run_mutant(m, files, args.timeout)
        print(f"{r['status']:>8}  {m.name}  ({r.get('seconds', 0)} s)  {r['detail']}", flush=True)
        results.append(r)
    summary = {s: sum(r["status"] == s for r in results) for s in ("killed", "survived", "stale")}
    print(json.dumps(summary))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "mutants": results}, indent=1))
    return 0 if summary["survived"] == summary["stale"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
