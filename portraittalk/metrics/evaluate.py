"""Evaluate a generated video against its ground truth: landmarks, ADFD, LMD, PSNR, SSIM, identity,
and the learned metrics whose weights are present.

Both videos stream once, side by side, so memory stays flat for long clips.

* **Temporal alignment.** Timestamps are read from the containers (relative to each video's first
  frame). The video with fewer frames per second drives; each of its frames is paired with the other
  video's nearest frame in time, and pairing stops where the shorter video ends. Videos whose
  durations differ by more than ``max_length_mismatch`` (a fraction of the longer) are refused:
  they are not the same take.
* **Size.** Generated frames are resized to the ground truth's size for PSNR/SSIM/FID, and its
  landmarks (found at its own resolution) are scaled into ground-truth pixels.
* **Missing faces.** Frames where either video has no face are excluded from the landmark metrics
  and counted in the report; a video with no face at all is an error.
* **Landmarks** come from :class:`FaceMeshDetector` in tracking mode, one instance per video.
"""
from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from ..errors import InputError, MissingWeightsError, NoFaceError, PortraitTalkError
from ..weights import Weights
from .adfd import ADFDReport, adfd_report
from .image import psnr, ssim
from .landmark import LMDReport, lmd_report

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")
LEARNED_ORDER = ("fid", "e_fid", "fvd", "syncnet", "clip_t", "dino")


@dataclass
class VideoSummary:
    path: Path
    fps: float
    width: int
    height: int
    frames: int

    def to_dict(self) -> dict:
        return {"path": str(self.path), "fps": self.fps, "width": self.width, "height": self.height,
                "frames": self.frames}  # fmt: skip


@dataclass
class EvalResult:
    """Everything ``portraittalk eval`` reports for one pair of videos."""

    generated: VideoSummary
    ground_truth: VideoSummary
    reference: Optional[Path]
    times: np.ndarray  # (T,) seconds of each compared pair on the driving video's clock
    adfd: ADFDReport
    lmd: LMDReport
    psnr: np.ndarray  # (T,) dB
    ssim: np.ndarray  # (T,)
    identity: dict
    learned: dict[str, dict]
    timings: dict[str, float]  # wall seconds per stage, and "total"
    cpu_timings: dict[str, float]  # CPU seconds of this process per stage
    notes: list[str] = field(default_factory=list)

    @property
    def frames(self) -> int:
        return len(self.times)

    def to_dict(self) -> dict:
        return {
            "generated": self.generated.to_dict(), "ground_truth": self.ground_truth.to_dict(),
            "reference": str(self.reference) if self.reference else None,
            "frames_compared": self.frames, "time_s": [float(t) for t in self.times],
            "adfd": self.adfd.to_dict(), "lmd": self.lmd.to_dict(),
            "psnr": {"mean": float(self.psnr.mean()), "per_frame": [float(v) for v in self.psnr]},
            "ssim": {"mean": float(self.ssim.mean()), "per_frame": [float(v) for v in self.ssim]},
            "identity": self.identity, "learned": self.learned,
            "timings_s": self.timings, "cpu_timings_s": self.cpu_timings,
            "frames_per_second": self.frames / max(self.timings["total"], 1e-9),
            "notes": self.notes,
        }  # fmt: skip


def align_frames(t_gen: np.ndarray, t_gt: np.ndarray, fps_gen: float, fps_gt: float,
                 max_length_mismatch: float = 0.25, names: tuple[str, str] = ("generated", "ground truth")
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Frame indices (gen, gt) of the pairs to compare, and the pairs' times (s); see the module doc."""
    dur_g = _duration(t_gen, fps_gen)
    dur_r = _duration(t_gt, fps_gt)
    if abs(dur_g - dur_r) > max_length_mismatch * max(dur_g, dur_r):
        raise InputError(f"{names[0]} is {dur_g:.2f} s long and {names[1]} {dur_r:.2f} s; they differ by more "
                         f"than {max_length_mismatch:.0%}, so they are not the same take (trim them, or raise "
                         "the allowed mismatch).")  # fmt: skip
    end = min(dur_g, dur_r)
    gen_drives = len(t_gen) / dur_g < len(t_gt) / dur_r
    drive, other = (t_gen, t_gt) if gen_drives else (t_gt, t_gen)
    drive_idx = np.flatnonzero(drive < end - 1e-9)
    times = drive[drive_idx]
    right = np.clip(np.searchsorted(other, times), 1, len(other) - 1) if len(other) > 1 else np.zeros_like(drive_idx)
    left = np.maximum(right - 1, 0)
    other_idx = np.where(np.abs(other[left] - times) <= np.abs(other[right] - times), left, right)
    return (drive_idx, other_idx, times) if gen_drives else (other_idx, drive_idx, times)


def adfd_tracks(generated, ground_truth, w1: float = 1.0, w2: float = 1.0,
                max_length_mismatch: float = 0.25) -> ADFDReport:  # fmt: skip
    """ADFD of two :class:`~portraittalk.face.landmarks_io.LandmarkTrack` (e.g. ``portraittalk landmarks``
    .npz files): aligned by timestamp as videos are, generated points scaled to the ground truth's
    frame size, frames without a face excluded."""
    ig, ir, _ = align_frames(generated.timestamps - generated.timestamps[0],
                             ground_truth.timestamps - ground_truth.timestamps[0], generated.fps,
                             ground_truth.fps, max_length_mismatch)  # fmt: skip
    scale = np.asarray(ground_truth.frame_size, np.float64) / np.asarray(generated.frame_size, np.float64)
    return adfd_report(generated.points[ig] * scale, ground_truth.points[ir], ground_truth.frame_size,
                       w1, w2, missing="exclude")  # fmt: skip


def _duration(t: np.ndarray, fps: float) -> float:
    period = float(np.median(np.diff(t))) if len(t) > 1 else 1.0 / max(fps, 1e-6)
    return float(t[-1] + period)


class _Timer:
    """Wall and CPU seconds per stage (CPU time stays meaningful on a busy machine)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start
            self.cpu[stage] = self.cpu.get(stage, 0.0) + time.process_time() - cpu


def evaluate(generated: Path, ground_truth: Path, reference: Optional[Path] = None, prompt: Optional[str] = None,
             w1: float = 1.0, w2: float = 1.0, max_length_mismatch: float = 0.25, samples: int = 32,
             learned: bool = True, weights: Optional[Weights] = None) -> EvalResult:  # fmt: skip
    """Compare ``generated`` with ``ground_truth`` (video files); ``samples`` = frames used by the
    per-frame network metrics (identity, CLIP-T, DINO), spread evenly over the clip. ``weights``:
    where the learned metrics and ArcFace come from (None: only what needs no weights, dlib identity)."""
    from ..media import frame_times, read_video

    generated, ground_truth = Path(generated), Path(ground_truth)
    timer = _Timer()
    start = time.perf_counter()
    notes: list[str] = []
    with timer("decode"):
        gen_video, gt_video = read_video(generated), read_video(ground_truth)
        t_gen, t_gt = frame_times(generated), frame_times(ground_truth)
    ig, ir, times = align_frames(t_gen, t_gt, gen_video.fps, gt_video.fps, max_length_mismatch,
                                 (f"'{generated.name}'", f"'{ground_truth.name}'"))  # fmt: skip
    w, h = gt_video.width, gt_video.height
    scale = np.array([w / gen_video.width, h / gen_video.height], np.float32)
    if not np.isclose(scale[0], scale[1], rtol=0.01):
        notes.append("the videos have different aspect ratios; generated landmarks were stretched to fit.")
    if len(times) < 2:
        raise InputError("the videos overlap in fewer than 2 frames; ADFD needs at least 2.")

    with timer("setup"):
        identity, no_identity, metrics, skipped = _scorers(reference, prompt, generated, gen_video.fps,
                                                           np.array_equal(ig, np.arange(len(ig))), learned, weights)
    stride = max(1, math.ceil(len(times) / max(samples, 1)))
    gen_pts, gt_pts, psnrs, ssims = _measure_pairs(_paired_frames(gen_video, gt_video, ig, ir, timer), scale, (w, h),
                                                   stride, identity, metrics, timer)  # fmt: skip
    n = len(gen_pts)
    if n < len(times):
        notes.append(f"the container announced more frames than could be decoded; compared {n}.")
        times = times[:n]
    g, r = np.stack(gen_pts), np.stack(gt_pts)
    for track, path in ((g, generated), (r, ground_truth)):
        if np.isnan(track).all():
            raise NoFaceError(f"no face found in any frame of '{path.name}'; both videos must show a face.")
    with timer("scores"):
        adfd_rep = adfd_report(g, r, (w, h), w1, w2, missing="exclude")
        lmd_rep = lmd_report(g, r)
        computed = {**skipped, **{m.name: m.result() for m in metrics}}
        learned_out = {k: computed[k] for k in LEARNED_ORDER if k in computed}
    if adfd_rep.excluded_frames:
        notes.append(f"{len(adfd_rep.excluded_frames)} of {n} frame pair(s) had no face in one of the videos "
                     "and were left out of ADFD and LMD.")  # fmt: skip
    timer.seconds["total"] = time.perf_counter() - start
    return EvalResult(
        VideoSummary(generated, gen_video.fps, gen_video.width, gen_video.height, len(t_gen)),
        VideoSummary(ground_truth, gt_video.fps, w, h, len(t_gt)),
        Path(reference) if reference is not None else None, times, adfd_rep, lmd_rep,
        np.array(psnrs), np.array(ssims),
        identity.result() if identity is not None else no_identity,
        learned_out, {k: round(v, 4) for k, v in timer.seconds.items()},
        {k: round(v, 4) for k, v in timer.cpu.items()}, notes,
    )  # fmt: skip


def _scorers(reference: Optional[Path], prompt: Optional[str], generated: Path, fps: float, every_frame: bool,
             learned: bool, weights: Optional[Weights]) -> tuple[Optional["_IdentityScorer"], dict, list, dict]:  # fmt: skip
    """(identity scorer or None, what to report without one, learned metrics, the learned metrics
    skipped and why): what scores frames besides landmarks and pixels."""
    from ..media import load_image

    ref_image = load_image(reference) if reference is not None else None
    identity, no_identity = None, _unavailable("no reference portrait given (use --reference)")
    if ref_image is not None:
        try:
            identity = _IdentityScorer(ref_image, reference, weights)
        except MissingWeightsError as exc:
            no_identity = _unavailable(str(exc))
    metrics, skipped = [], {}
    if learned:
        from .learned import build_metrics

        metrics, skipped = build_metrics(prompt, ref_image, generated, fps, every_frame, weights)
    return identity, no_identity, metrics, skipped


def _measure_pairs(pairs: Iterator[tuple[np.ndarray, np.ndarray]], scale: np.ndarray, size: tuple[int, int],
                   stride: int, identity: Optional["_IdentityScorer"], metrics: list, timer: _Timer
                   ) -> tuple[list[np.ndarray], list[np.ndarray], list[float], list[float]]:  # fmt: skip
    """Per frame pair: both faces' landmarks (NaN where none; generated ones in the ground truth's
    pixels), PSNR and SSIM at the ground truth's size; every ``stride``-th pair also feeds the
    identity scorer, every pair the learned metrics."""
    import cv2

    from ..face.landmarks import FaceMeshDetector

    gen_pts, gt_pts, psnrs, ssims = [], [], [], []
    missing = np.full((478, 2), np.nan, np.float32)
    with FaceMeshDetector(static=False) as det_g, FaceMeshDetector(static=False) as det_r:
        for k, (gen, gt) in enumerate(pairs):
            with timer("landmarks"):
                faces_g, faces_r = det_g.all_faces(gen), det_r.all_faces(gt)
            native = faces_g[0].points if faces_g else None
            pg = native * scale if native is not None else missing
            pr = faces_r[0].points if faces_r else None
            gen_pts.append(pg)
            gt_pts.append(pr if pr is not None else missing)
            native_frame = gen
            with timer("image"):
                if gen.shape[:2] != gt.shape[:2]:
                    gen = cv2.resize(gen, size, interpolation=cv2.INTER_AREA if scale[0] < 1 else cv2.INTER_LINEAR)
                psnrs.append(psnr(gen, gt))
                ssims.append(ssim(gen, gt))
            sampled = k % stride == 0
            if identity is not None and sampled and native is not None:
                with timer("identity"):
                    identity.add(native_frame, native)
            with timer("learned"):
                for m in metrics:
                    m.update(gen, gt, None if native is None else pg, pr, sampled)
    return gen_pts, gt_pts, psnrs, ssims


def _paired_frames(gen_video, gt_video, ig: np.ndarray, ir: np.ndarray, timer: _Timer
                   ) -> Iterator[tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    """Decodes both videos once, yielding the frame pairs chosen by :func:`align_frames`."""
    its = [iter(gen_video), iter(gt_video)]
    pos, cur = [-1, -1], [None, None]
    try:
        for want in zip(ig, ir):
            with timer("decode"):
                for v in (0, 1):
                    while pos[v] < want[v]:
                        _, cur[v] = next(its[v])
                        pos[v] += 1
            yield cur[0], cur[1]
    except StopIteration:
        return
    finally:
        for it in its:
            it.close()


class _IdentityScorer:
    """Cosine similarity of the reference portrait's identity embedding to generated frames."""

    def __init__(self, image: np.ndarray, path: Path, weights: Optional[Weights]) -> None:
        from ..face.identity import identity_encoder
        from ..face.landmarks import detect_landmarks

        self.encoder = identity_encoder("auto", weights)
        face = detect_landmarks(image, name=f"'{Path(path).name}'")
        self.ref = self.encoder.embed(image, face.points)
        self.cos: list[float] = []
        self.dist: list[float] = []

    def add(self, frame: np.ndarray, points: np.ndarray) -> None:
        from ..face.identity import cosine_similarity, descriptor_distance

        emb = self.encoder.embed(frame, points)
        self.cos.append(cosine_similarity(self.ref, emb))
        self.dist.append(descriptor_distance(self.ref, emb))

    def result(self) -> dict:
        if not self.cos:
            return _unavailable("no sampled generated frame showed a face")
        return {"value": float(np.mean(self.cos)), "available": True, "backend": self.ref.backend,
                "frames": len(self.cos), "distance": float(np.mean(self.dist)), "per_frame": self.cos}  # fmt: skip


def _unavailable(reason: str) -> dict:
    return {"value": None, "available": False, "reason": reason}


# --- folders --------------------------------------------------------------------------------

@dataclass
class FolderResult:
    results: dict[str, EvalResult]
    errors: dict[str, str]
    generated_only: list[str]
    ground_truth_only: list[str]

    def summary(self) -> dict:
        """Mean of each headline number over the pairs that were evaluated."""
        rows = [headline(r) for r in self.results.values()]
        keys = rows[0].keys() if rows else []
        return {k: _mean([row[k] for row in rows]) for k in keys}

    def to_dict(self) -> dict:
        return {"pairs": {k: r.to_dict() for k, r in self.results.items()}, "errors": self.errors,
                "summary": self.summary(), "generated_only": self.generated_only,
                "ground_truth_only": self.ground_truth_only}  # fmt: skip


def evaluate_folders(generated: Path, ground_truth: Path, **kwargs) -> FolderResult:
    """Evaluate every pair of videos with the same file name in the two folders."""
    def videos(folder: Path) -> dict[str, Path]:
        return {p.name: p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES}

    gen, gt = videos(Path(generated)), videos(Path(ground_truth))
    names = sorted(gen.keys() & gt.keys())
    if not names:
        raise InputError(f"no video in '{Path(generated).name}' has a namesake in '{Path(ground_truth).name}'; "
                         "pairs are matched by file name.")  # fmt: skip
    results, errors = {}, {}
    for name in names:
        try:
            results[name] = evaluate(gen[name], gt[name], **kwargs)
        except PortraitTalkError as exc:
            errors[name] = str(exc)
    return FolderResult(results, errors, sorted(gen.keys() - gt.keys()), sorted(gt.keys() - gen.keys()))


def headline(result: EvalResult) -> dict[str, Optional[float]]:
    """The one-line summary of a pair (used by the folder table and summary row)."""
    row: dict[str, Optional[float]] = {
        "adfd": result.adfd.adfd, "S": result.adfd.spatial, "C": result.adfd.motion,
        "lmd_mouth_px": result.lmd.mouth_px, "lmd_face_px": result.lmd.face_px,
        "lmd_mouth_norm": result.lmd.mouth_norm, "psnr": float(result.psnr.mean()),
        "ssim": float(result.ssim.mean()), "identity": result.identity.get("value"),
    }  # fmt: skip
    for name, out in result.learned.items():
        row[name] = out.get("value")
    return row


def _mean(values: list[Optional[float]]) -> Optional[float]:
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present else None
