"""`portraittalk eval` end to end, as a user runs it."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from metrics_clips import PORTRAIT, ROOT


def run_eval(*args: str, tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PORTRAITTALK_WEIGHTS": str(tmp_path / "no-weights")}
    return subprocess.run([sys.executable, "-m", "portraittalk", "eval", *map(str, args)], capture_output=True,
                          text=True, timeout=300, cwd=ROOT, env=env)  # fmt: skip


def assert_one_error_line(proc: subprocess.CompletedProcess, text: str) -> None:
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and text in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_table_json_and_plot(clips, tmp_path):
    out_json, out_png = tmp_path / "out" / "scores.json", tmp_path / "curves.png"
    proc = run_eval("--generated", clips["delayed"], "--ground-truth", clips["gt"], "--reference", PORTRAIT,
                    "--samples", "4", "--w2", "0.5", "--json", out_json, "--plot", out_png, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    table = proc.stdout
    for label in ("ADFD", "LMD mouth", "LMD face", "PSNR", "SSIM", "identity", "FID", "FVD", "SyncNet", "CLIP-T"):
        assert f"\n{label} " in table, label
    assert "unavailable: CLIP ViT-B/32" in table
    data = json.loads(out_json.read_text())
    assert data["frames_compared"] == 50
    a = data["adfd"]
    assert a["w2"] == 0.5 and abs(a["adfd"] - a["S"] * 0.5 * a["C"]) < 1e-12
    assert f"ADFD          {a['adfd']:.4f}" in table
    assert len(a["S_per_frame"]) == 50 and a["C_per_frame"][0] is None
    assert data["identity"]["available"] and data["identity"]["frames"] == 4
    assert data["learned"]["fvd"] == {"value": None, "available": False, "reason": data["learned"]["fvd"]["reason"]}
    assert set(data["timings_s"]) >= {"decode", "landmarks", "image", "scores", "total"}
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out_png.stat().st_size > 10_000


def test_folder_mode_pairs_by_name(clips, tmp_path):
    gen, gt = tmp_path / "gen", tmp_path / "gt"
    gen.mkdir(), gt.mkdir()
    for name, g in (("a.mp4", "reencoded"), ("b.mp4", "delayed")):
        shutil.copy(clips[g], gen / name)
        shutil.copy(clips["gt"], gt / name)
    shutil.copy(clips["gt"], gen / "only_here.mp4")
    proc = run_eval("--generated", gen, "--ground-truth", gt, "--no-learned", "--json", tmp_path / "all.json",
                    "--plot", tmp_path / "plots", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:2] == ["pair", "ADFD"]
    assert [line.split()[0] for line in lines[1:4]] == ["a.mp4", "b.mp4", "mean"]
    assert "only in generated (skipped): only_here.mp4" in proc.stdout
    data = json.loads((tmp_path / "all.json").read_text())
    a, b = data["pairs"]["a.mp4"]["adfd"]["adfd"], data["pairs"]["b.mp4"]["adfd"]["adfd"]
    assert abs(data["summary"]["adfd"] - (a + b) / 2) < 1e-12 and a > b
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["a.png", "b.png"]


def test_bad_inputs_exit_2_with_one_error_line(clips, tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert_one_error_line(run_eval("--generated", empty, "--ground-truth", clips["gt"], tmp_path=tmp_path),
                          "error: 'empty.mp4' is not a video we can read")
    assert_one_error_line(run_eval("--generated", tmp_path, "--ground-truth", clips["gt"], tmp_path=tmp_path),
                          "both be videos or both be folders")
    gen, gt = tmp_path / "gen", tmp_path / "gt"
    gen.mkdir(), gt.mkdir()
    shutil.copy(empty, gen / "x.mp4")
    shutil.copy(clips["gt"], gt / "x.mp4")
    proc = run_eval("--generated", gen, "--ground-truth", gt, tmp_path=tmp_path)
    assert_one_error_line(proc, "error: 1 of 1 pair(s) could not be evaluated (x.mp4)")
    assert "x.mp4: failed: 'x.mp4' is not a video we can read" in proc.stdout
