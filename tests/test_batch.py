"""Batch generation (issue 24): a job list into one folder, resumable, local worker processes or Ray.

Real portraits, real speech (1.5 s of it), real MediaPipe and ffmpeg; 128 px videos to stay fast.
Face analyses are counted in every process (the CLI, its workers, the test itself) by a
``sitecustomize`` that wraps ``FaceMeshDetector.detect_upright`` (one call per analysed portrait)
and appends one line per call to a file: what is counted is the real detector running.
"""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from shared_inputs import PORTRAIT, ROOT, SECOND_PORTRAIT, speech_excerpt

COUNTER = '''
import os

if os.environ.get("PT_COUNT_ANALYSES"):
    from portraittalk.face.landmarks import FaceMeshDetector

    _detect_upright = FaceMeshDetector.detect_upright

    def _counted(self, image, face_index=0, name="the image"):
        with open(os.environ["PT_COUNT_ANALYSES"], "a") as log:
            log.write(name.strip("'") + "\\n")
        return _detect_upright(self, image, face_index, name)

    FaceMeshDetector.detect_upright = _counted
'''
SIZES = {"astro-1": 128, "man-speech": 128, "astro-160": 160, "both": 128}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    from skimage import data

    from portraittalk.media.image import save_image

    d = tmp_path_factory.mktemp("batch-inputs")
    save_image(d / "rocket.png", data.rocket())
    (d / "hook").mkdir()
    (d / "hook" / "sitecustomize.py").write_text(COUNTER)
    return {"speech": speech_excerpt(d / "speech.wav", 1.5), "rocket": d / "rocket.png", "hook": d / "hook",
            "dir": d}  # fmt: skip


@pytest.fixture(scope="module")
def six_jobs(inputs) -> Path:
    """Six jobs: four good (one portrait at two sizes, two portraits in one job), a missing portrait and a
    photo with no face. Relative paths are read from the job file's folder."""
    rows = [
        {"ref": str(PORTRAIT), "audio": "speech.wav", "out": "astro-1", "seed": "1", "size": "128"},
        {"ref": str(SECOND_PORTRAIT), "audio": "speech.wav", "seed": "2", "size": "128"},  # out: man-speech.mp4
        {"ref": str(PORTRAIT), "audio": "speech.wav", "out": "astro-160", "seed": "3", "size": "160", "w1": "0.5"},
        {"ref": f"{PORTRAIT};{SECOND_PORTRAIT}", "audio": "speech.wav", "out": "both", "seed": "4", "size": "128"},
        {"ref": "missing.png", "audio": "speech.wav", "out": "missing", "size": "128"},
        {"ref": "rocket.png", "audio": "speech.wav", "out": "rocket", "size": "128"},
    ]
    path = inputs["dir"] / "jobs.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["ref", "audio", "out", "seed", "size", "w1"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def batch(*args: str, inputs: dict[str, Path], counts: Path | None = None) -> subprocess.CompletedProcess:
    """`python -m portraittalk batch ...`, with analyses counted into ``counts``."""
    return subprocess.run([sys.executable, "-m", "portraittalk", "batch", *args], capture_output=True, text=True,
                          timeout=300, cwd=ROOT, env=_env(inputs, counts))  # fmt: skip


def _env(inputs: dict[str, Path], counts: Path | None) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(inputs["hook"]), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    if counts is not None:
        env["PT_COUNT_ANALYSES"] = str(counts)
    return env


def status_lines(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "batch.jsonl").read_text().splitlines()]


def videos(out: Path) -> dict[str, Path]:
    return {p.stem: p for p in out.glob("*.mp4")}


def assert_sound_video(path: Path, size: int) -> None:
    """A whole, playable MP4 of the speech (1.5 s at 25 fps) at the job's size."""
    from portraittalk.media import probe_video

    info = probe_video(path)
    assert (info.width, info.height, info.video_codec, info.audio_codec) == (size, size, "h264", "aac")
    assert abs(info.frame_count - 37) <= 1 and info.audio_duration == pytest.approx(1.5, abs=0.05)


@pytest.fixture(scope="module")
def first_run(six_jobs, inputs, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess, Counter]:
    out = tmp_path_factory.mktemp("batch") / "out"
    counts = out.parent / "analyses.txt"
    result = batch(str(six_jobs), "--out", str(out), "--workers", "2", "--skip-invalid", "--quiet", inputs=inputs,
                   counts=counts)  # fmt: skip
    return out, result, Counter(counts.read_text().split("\n")[:-1])


def test_invalid_rows_stop_everything_before_anything_starts(six_jobs, inputs, tmp_path):
    result = batch(str(six_jobs), "--out", str(tmp_path / "out"), "--quiet", inputs=inputs)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: 1 of 6 jobs cannot run")
    assert lines[1:] == [f"  jobs.csv line 6 (missing): '{inputs['dir'] / 'missing.png'}' does not exist"]
    assert not list((tmp_path / "out").glob("*.mp4")) and not (tmp_path / "out" / "batch.jsonl").exists()


def test_six_jobs_make_four_videos_and_two_failures_with_reasons(first_run):
    out, result, analyses = first_run
    assert result.returncode == 1, result.stderr  # some jobs failed
    assert "4 of 6 jobs done, 2 failed" in result.stdout
    found = videos(out)
    assert sorted(found) == sorted(SIZES)
    for name, path in found.items():
        assert_sound_video(path, SIZES[name])
    records = {r["job"]: r for r in status_lines(out)}
    assert len(status_lines(out)) == 6 and set(records) == {*SIZES, "missing", "rocket"}
    for name in SIZES:
        assert records[name]["status"] == "done" and records[name]["output"] == str(out / f"{name}.mp4")
        assert records[name]["seconds"] > 0
    assert records["missing"]["status"] == "failed" and records["missing"]["reason"].endswith("does not exist")
    assert records["rocket"]["status"] == "failed" and "no face found in 'rocket.png'" in records["rocket"]["reason"]
    # Each portrait analysed once per crop: the astronaut at 128 px (two jobs) and 160 px, the man once
    # (two jobs), the rocket once. Nothing analysed again in the workers.
    assert analyses == {"astronaut.png": 2, "man.jpg": 1, "rocket.png": 1}
    assert not list(out.glob(".*.mp4")), "a temporary file was left"


def test_a_rerun_does_nothing_and_retry_failed_runs_only_the_failures(first_run, six_jobs, inputs):
    out, _, _ = first_run
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.glob("*.mp4")}
    status = (out / "batch.jsonl").read_bytes()
    counts = out.parent / "rerun-analyses.txt"
    again = batch(str(six_jobs), "--out", str(out), "--quiet", inputs=inputs, counts=counts)
    assert again.returncode == 1 and "6 of 6 jobs finished in an earlier run" in again.stderr
    assert (out / "batch.jsonl").read_bytes() == status
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.glob("*.mp4")} == before
    assert not counts.exists()  # nothing analysed

    retried = batch(str(six_jobs), "--out", str(out), "--retry-failed", "--skip-invalid", "--quiet", inputs=inputs)
    assert retried.returncode == 1
    added = status_lines(out)[6:]
    assert sorted(r["job"] for r in added) == ["missing", "rocket"] and all(r["status"] == "failed" for r in added)
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.glob("*.mp4")} == before


def test_three_jobs_sharing_a_portrait_analyse_it_once(inputs, tmp_path, monkeypatch):
    """Through the Python API: results come as they finish; the workers (spawned processes, counted by
    the hook) and this process (counted by the same code) analyse the portrait once in all."""
    from portraittalk import PortraitTalk
    from portraittalk.batch import JobResult
    from portraittalk.face.landmarks import FaceMeshDetector

    counts = tmp_path / "analyses.txt"
    for name, value in _env(inputs, counts).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(FaceMeshDetector, "detect_upright", FaceMeshDetector.detect_upright)  # restored after
    exec(COUNTER, {})
    jobs = [{"ref": str(PORTRAIT), "audio": str(inputs["speech"]), "out": f"clip{i}", "seed": i, "size": 128,
             "prompt": f"take {i}"} for i in range(3)]  # fmt: skip
    results = list(PortraitTalk().generate_many(jobs, tmp_path / "out", workers=2))
    assert all(isinstance(r, JobResult) and r.status == "done" for r in results)
    assert sorted(r.job for r in results) == ["clip0", "clip1", "clip2"]
    assert sorted(r.analysed for r in results) == [0, 0, 1]
    assert counts.read_text().splitlines() == ["astronaut.png"]
    for i in range(3):
        assert_sound_video(tmp_path / "out" / f"clip{i}.mp4", 128)


def _start(jobs: Path, out: Path, inputs: dict[str, Path]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "portraittalk", "batch", str(jobs), "--out", str(out),
                             "--workers", "2", "--quiet"], cwd=ROOT, env=_env(inputs, None), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip


def _wait_for_records(out: Path, n: int, proc: subprocess.Popen) -> None:
    while not ((out / "batch.jsonl").is_file() and len(status_lines(out)) >= n):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)


def test_an_interrupted_run_resumes_and_finishes_with_no_corrupt_file(inputs, tmp_path):
    """Ctrl-C (SIGINT to the process group, as a terminal sends it), an interrupt that reaches the
    workers alone (the batch stops as for Ctrl-C, the interrupted jobs are not recorded), a kill of
    the batch alone (SIGKILL: its workers are orphaned mid-job), a kill of everything (SIGKILL to the
    group: workers and encoders die mid-file), then a rerun that finishes. Every video is whole, no
    finished job is redone, no temporary file is left, and the orphaned workers exit."""
    import psutil

    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("".join(json.dumps({"ref": str(PORTRAIT), "audio": str(inputs["speech"]), "out": f"clip{i}",
                                        "seed": i, "size": 128}) + "\n" for i in range(12)))  # fmt: skip
    out = tmp_path / "out"

    proc = _start(jobs, out, inputs)
    _wait_for_records(out, 1, proc)
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in stderr, stderr
    after_interrupt = len(status_lines(out))
    assert after_interrupt < 12

    proc = _start(jobs, out, inputs)
    _wait_for_records(out, after_interrupt + 1, proc)
    for worker in psutil.Process(proc.pid).children():
        if "spawn_main" in " ".join(worker.cmdline()):  # not multiprocessing's resource tracker
            worker.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in stderr, stderr
    after_interrupt = len(status_lines(out))
    assert after_interrupt < 12 and all(r["status"] == "done" for r in status_lines(out))

    proc = _start(jobs, out, inputs)
    _wait_for_records(out, after_interrupt + 1, proc)
    workers = psutil.Process(proc.pid).children()
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    _, alive = psutil.wait_procs(workers, timeout=60)
    assert not alive, "orphaned workers kept running"
    after_kill = len(status_lines(out))

    proc = _start(jobs, out, inputs)
    _wait_for_records(out, after_kill + 1, proc)
    while not list(out.glob(".*.mp4")):  # a video is being written: the kill lands mid-file, not on timing
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert len(status_lines(out)) < 12

    final = batch(str(jobs), "--out", str(out), "--workers", "2", "--quiet", inputs=inputs)
    assert final.returncode == 0, final.stderr
    records = status_lines(out)
    assert Counter(r["job"] for r in records if r["status"] == "done") == {f"clip{i}": 1 for i in range(12)}
    assert sorted(videos(out)) == sorted(f"clip{i}" for i in range(12))
    for path in videos(out).values():
        assert_sound_video(path, 128)
    assert not list(out.glob(".*.mp4")) and not list(out.glob(".*.wav"))


def test_a_torn_status_line_is_skipped_and_the_next_record_kept(tmp_path):
    """A run killed while writing leaves half a line; the next result must still be read back."""
    from portraittalk.batch import JobResult, read_status
    from portraittalk.batch.status import append_status

    append_status(tmp_path, JobResult("a", "done", output="a.mp4"))
    with open(tmp_path / "batch.jsonl", "a") as f:
        f.write('{"job": "b", "status": "do')
    append_status(tmp_path, JobResult("c", "failed", "no face"))
    expected = {"a": JobResult("a", "done", output="a.mp4"), "c": JobResult("c", "failed", "no face")}
    assert read_status(tmp_path) == expected


@pytest.fixture
def ray_head():
    """A Ray head started in this process on 2 CPUs; the CLI joins it with --ray auto."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_the_same_job_list_through_ray_makes_the_same_videos(first_run, six_jobs, inputs, ray_head, tmp_path):
    """Same jobs, same seeds: the MP4 files are byte-identical to the local pool's (the renderer is
    deterministic and x264 with the same settings encodes the same frames to the same bytes), and
    the status file holds the same results."""
    local_out, _, _ = first_run
    out = tmp_path / "ray-out"
    result = batch(str(six_jobs), "--out", str(out), "--ray", "auto", "--skip-invalid", "--quiet", inputs=inputs)
    assert result.returncode == 1, result.stderr
    assert "4 of 6 jobs done, 2 failed" in result.stdout
    assert sorted(videos(out)) == sorted(videos(local_out))
    for name, path in videos(out).items():
        assert path.read_bytes() == (local_out / path.name).read_bytes(), name
    ours = {r["job"]: (r["status"], r["reason"]) for r in status_lines(out)}
    theirs = {r["job"]: (r["status"], r["reason"]) for r in status_lines(local_out)[:6]}
    assert ours == theirs


def test_generate_takes_an_analysed_portrait_as_it_is(inputs, monkeypatch):
    """``pt.analyse`` once, then ``generate`` with the Reference: the same video as from the file, and
    no face detection runs; a Reference analysed at another size is refused."""
    import numpy as np

    from portraittalk import PortraitTalk
    from portraittalk.errors import InputError
    from portraittalk.face.landmarks import FaceMeshDetector

    pt = PortraitTalk()
    from_file = pt.generate([PORTRAIT], inputs["speech"], size=128, seed=5)
    (reference,) = pt.analyse([PORTRAIT], 128, 0.9)

    def no_detection(*args, **kwargs):
        raise AssertionError("the analysed portrait was analysed again")

    monkeypatch.setattr(FaceMeshDetector, "detect_upright", no_detection)
    reused = pt.generate([reference], inputs["speech"], size=128, seed=5)
    assert np.array_equal(reused.frames, from_file.frames)
    with pytest.raises(InputError, match="analysed at 128 px; this video is 160 px"):
        pt.generate([reference], inputs["speech"], size=160)


def test_a_job_list_reads_the_same_from_csv_and_json_lines(tmp_path):
    """Several portraits, settings by flat name (typed), default names unique in row order; a repeated
    or escaping output name is that row's problem, under its own id."""
    from portraittalk.batch import read_jobs
    from portraittalk.batch.jobs import find_problems
    from portraittalk.config import GenerateRequest, Limits

    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "s.wav").write_bytes(b"")
    rows = [{"ref": ["a.png", "a.png"], "audio": "s.wav", "full_frame": "yes", "w1": "0.5"},
            {"ref": "a.png", "audio": "s.wav", "seed": "3"},
            {"ref": "a.png", "audio": "s.wav", "out": "a-s"},
            {"ref": "a.png", "audio": "s.wav", "out": "../elsewhere"},
            {"ref": "a.png", "audio": "s.wav", "colour": "red"}]  # fmt: skip
    (tmp_path / "jobs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + "{not json\n")
    with open(tmp_path / "jobs.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["ref", "audio", "out", "full_frame", "w1", "seed", "colour"])
        writer.writeheader()
        writer.writerows([{**r, "ref": ";".join(r["ref"]) if isinstance(r["ref"], list) else r["ref"]} for r in rows])
    from_json, from_csv = read_jobs(tmp_path / "jobs.jsonl"), read_jobs(tmp_path / "jobs.csv")
    for jobs in (from_json, from_csv):
        assert [j.id for j in jobs[:5]] == ["a-s", "a-s-2", "a-s-3", "../elsewhere", "a-s-4"]
        assert jobs[0].references == (tmp_path / "a.png",) * 2 and jobs[0].audio == tmp_path / "s.wav"
        assert jobs[0].settings == {"full_frame": True, "w1": "0.5"}
        problems = find_problems(jobs, GenerateRequest(), Limits())
        assert problems["a-s-3"] == "out 'a-s' is also another job's output"
        assert problems["../elsewhere"] == "out '../elsewhere' must be a name inside the output folder"
        assert problems["a-s-4"].startswith("unknown setting 'colour'")
        assert set(problems) == {"a-s-3", "../elsewhere", "a-s-4"} | ({"row-6"} if jobs is from_json else set())
    assert from_json[5].problem.startswith("not a JSON object")
