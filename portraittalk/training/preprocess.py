"""Talking-head videos -> training clips (the layout in :mod:`portraittalk.training.clips`).

Per video: frames resampled to 25 fps; 478 landmarks per frame (MediaPipe, tracking mode); one
square face crop for the whole clip (from the median face, framed as at generation, so the head
moves inside a still crop as it does in a generated video); per cropped frame the person mask and
the head contour; 16 kHz audio and its 50 Hz features (log-mel, and HuBERT when its weights are
present); face embeddings of a few reference frames (ArcFace when present, else dlib); the prompt.

Videos are processed in parallel worker processes. Each is written into a hidden temporary folder
and renamed into place when complete, so an interrupted run leaves nothing half-written and a
rerun skips the finished ones. A corrupt or faceless video is recorded as failed in the manifest
and the run goes on.
"""
from __future__ import annotations

import csv
import logging
import multiprocessing
import re
import shutil
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

import numpy as np

from ..errors import InputError, PortraitTalkError
from ..face.crop import FaceCrop
from ..media.video import VideoFrames
from ..motion.features import FEATURE_RATE
from ..weights import Weights
from .clips import CLIP_FORMAT, CLIPS, DATA_FORMAT, MANIFEST, frame_name, write_json
from .config import PreprocessSettings

log = logging.getLogger(__name__)

FPS = FEATURE_RATE / 2  # 25: two 50 Hz speech-feature frames per video frame
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg")
JPEG_QUALITY = 95
TMP_PREFIX = ".tmp-"


@dataclass(frozen=True)
class Job:
    source: Path
    clip_id: str
    out: Path  # the data folder
    prompt: str
    settings: PreprocessSettings
    weights_root: Optional[Path]


@dataclass
class VideoResult:
    clip_id: str
    source: str
    status: str  # "done" | "failed" | "skipped" (finished in an earlier run)
    message: str = ""
    frames: int = 0
    seconds: float = 0.0


# -- one video ------------------------------------------------------------------------------------
def resample(frames: Iterable[tuple[float, np.ndarray]], fps: float, source_fps: float) -> Iterator[np.ndarray]:
    """The source frame nearest to each output time ``k / fps`` (timestamps from the container)."""
    step = 1.0 / source_fps if source_fps > 0 else 1.0 / fps
    prev: Optional[tuple[float, np.ndarray]] = None
    start: Optional[float] = None
    k = 0
    for t, image in frames:
        if start is None:
            start = t
        t -= start
        if prev is not None:
            t = max(t, prev[0] + 1e-6)  # missing or repeated timestamps
            middle = (prev[0] + t) / 2.0
            while k / fps < middle:
                yield prev[1]
                k += 1
        prev = (t, image)
    if prev is not None:
        while k / fps < prev[0] + step / 2.0:
            yield prev[1]
            k += 1


def _fill_gaps(points: np.ndarray, max_gap: int) -> np.ndarray:
    """Interpolate runs of at most ``max_gap`` frames without a face between two frames with one."""
    found = ~np.isnan(points[:, 0, 0])
    idx = np.flatnonzero(found)
    out = points.copy()
    for a, b in zip(idx[:-1], idx[1:]):
        if 1 < b - a <= max_gap + 1:
            w = (np.arange(a + 1, b) - a)[:, None, None] / (b - a)
            out[a + 1 : b] = points[a] * (1 - w) + points[b] * w
    return out


def _track_faces(video, fps: float) -> np.ndarray:
    """(T, 478, 2) landmarks of the largest face per resampled frame, NaN where there is none."""
    from ..face.landmarks import FaceMeshDetector

    points = []
    with FaceMeshDetector(static=False, max_faces=1) as det:
        for frame in resample(video, fps, video.fps):
            faces = det.all_faces(frame)
            points.append(faces[0].points if faces else np.full((478, 2), np.nan, np.float32))
    return np.stack(points) if points else np.zeros((0, 478, 2), np.float32)


def process_video(source: Path, folder: Path, settings: PreprocessSettings, prompt: str,
                  weights: Optional[Weights]) -> dict:  # fmt: skip
    """Write one clip into ``folder`` (which must not exist); returns its meta (also meta.json, written last)."""
    from ..errors import NoFaceError, VideoError
    from ..face.crop import face_crop
    from ..media import read_video

    started = time.perf_counter()
    video = read_video(source)
    if video.frame_count and video.frame_count / max(video.fps, 1e-6) > settings.max_seconds:
        raise VideoError(f"'{source.name}' is longer than {settings.max_seconds:g} s; cut it into shorter clips.")
    raw = _track_faces(video, FPS)
    total = len(raw)
    if total == 0:
        raise VideoError(f"'{source.name}' has no frames we can decode.")
    points = _fill_gaps(raw, settings.max_gap)
    found = ~np.isnan(points[:, 0, 0])
    if found.mean() < max(settings.min_face_fraction, 1e-9):
        raise NoFaceError(f"'{source.name}' shows a face in {int(found.sum())} of {total} frames "
                          f"(at least {settings.min_face_fraction:.0%} needed).")  # fmt: skip
    crop = face_crop(np.nanmedian(points[found], axis=0), (video.width, video.height), settings.size, settings.margin)
    crop_points = np.where(found[:, None, None], crop.to_crop(np.nan_to_num(points)), np.nan).astype(np.float32)

    _write_frames(video, source, folder, crop, crop_points, found, weights)
    np.savez_compressed(folder / "landmarks.npz", points=crop_points, found=found)
    features = _write_audio(source, folder, total, settings, weights)
    encoder_name, identity_dim = _write_identity(folder, crop_points, found, settings, weights)

    meta = {"format": CLIP_FORMAT, "source": str(source), "fps": FPS, "frames": total, "size": settings.size,
            "found": int(found.sum()), "audio": bool(features), "features": features, "prompt": prompt,
            "identity_backend": encoder_name, "identity_dim": identity_dim,
            "crop": crop.matrix.tolist(), "source_size": [video.width, video.height],
            "seconds": round(time.perf_counter() - started, 2)}  # fmt: skip
    write_json(folder / "meta.json", meta)
    return meta


def _write_frames(video: VideoFrames, source: Path, folder: Path, crop: FaceCrop, crop_points: np.ndarray,
                  found: np.ndarray, weights: Optional[Weights]) -> None:  # fmt: skip
    """Each frame's face crop (JPEG), person mask and head contour (PNG), decoded a second time."""
    import cv2

    from ..errors import VideoError
    from ..face.contour import head_contour
    from ..face.segmentation import person_mask

    for sub in ("frames", "masks", "contours"):
        (folder / sub).mkdir(parents=True)
    total, written = len(found), 0
    for i, frame in enumerate(resample(video, FPS, video.fps)):
        if i >= total:
            break
        image = crop.apply(frame)
        mask = person_mask(image, weights=weights)
        contour = head_contour(image, crop_points[i], mask) if found[i] else np.zeros(image.shape[:2], np.uint8)
        ok = cv2.imwrite(str(folder / "frames" / frame_name(i, ".jpg")), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                         [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])  # fmt: skip
        ok &= cv2.imwrite(str(folder / "masks" / frame_name(i, ".png")), (mask * 255).round().astype(np.uint8))
        ok &= cv2.imwrite(str(folder / "contours" / frame_name(i, ".png")), contour)
        if not ok:
            raise PortraitTalkError(f"could not write frame {i} of '{source.name}' into {folder}; is the disk full?")
        written += 1
    if written != total:
        raise VideoError(f"'{source.name}' decoded to {written} frames on the second pass, {total} on the first.")


def _write_audio(source: Path, folder: Path, frames: int, settings: PreprocessSettings,
                 weights: Optional[Weights]) -> list[str]:  # fmt: skip
    """The clip's speech (audio.wav) and its features per frame; the features' names, none for a
    silent video (it still trains the image stages)."""
    from ..errors import AudioError
    from ..media import load_audio
    from ..motion.features import audio_features

    try:
        audio = load_audio(source, max_seconds=settings.max_seconds + 60)
    except AudioError as exc:
        log.info("%s: no usable audio (%s)", source.name, exc)
        return []
    audio.write_wav(folder / "audio.wav")
    feats = {"mel": audio_features(audio.samples, "mel", frames)}
    if weights is not None and weights.present("hubert"):
        feats["hubert"] = audio_features(audio.samples, "hubert", frames, weights)
    np.savez_compressed(folder / "features.npz", **feats)
    return sorted(feats)


def _write_identity(folder: Path, crop_points: np.ndarray, found: np.ndarray, settings: PreprocessSettings,
                    weights: Optional[Weights]) -> tuple[str, int]:  # fmt: skip
    """Identity embeddings of ``settings.reference_frames`` frames spread over the clip (identity.npz);
    (the encoder's name, the embedding's size)."""
    import cv2

    from ..face.identity import identity_encoder

    encoder = identity_encoder("auto", weights)
    valid = np.flatnonzero(found)
    chosen = valid[np.unique(np.linspace(0, len(valid) - 1, settings.reference_frames).round().astype(int))]
    embeddings = []
    for i in chosen:
        image = cv2.cvtColor(cv2.imread(str(folder / "frames" / frame_name(int(i), ".jpg"))), cv2.COLOR_BGR2RGB)
        embeddings.append(encoder.embed(image, crop_points[i]).vector)
    np.savez_compressed(folder / "identity.npz", embeddings=np.stack(embeddings).astype(np.float32),
                        frames=chosen.astype(np.int64))  # fmt: skip
    return encoder.name, int(embeddings[0].shape[0])


def run_job(job: Job) -> VideoResult:
    """Process one video into a temporary folder and rename it into place; never raises."""
    import cv2

    cv2.setNumThreads(1)  # one video per process: threads inside would only compete
    final = job.out / CLIPS / job.clip_id
    tmp = job.out / CLIPS / f"{TMP_PREFIX}{job.clip_id}"
    shutil.rmtree(tmp, ignore_errors=True)
    weights = Weights(job.weights_root) if job.weights_root is not None else None
    try:
        meta = process_video(job.source, tmp, job.settings, job.prompt, weights)
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        return VideoResult(job.clip_id, str(job.source), "done", "", meta["frames"], meta["seconds"])
    except PortraitTalkError as exc:
        message = str(exc)
    except Exception as exc:  # a bug or a library failure on one video must not stop the others
        message = f"internal error ({type(exc).__name__}: {exc}); {traceback.format_exc(limit=-1).strip()[-300:]}"
    shutil.rmtree(tmp, ignore_errors=True)
    return VideoResult(job.clip_id, str(job.source), "failed", message)


# -- a folder of videos ---------------------------------------------------------------------------
def find_videos(video_dir: Path) -> dict[str, Path]:
    """clip id -> video, for every video under ``video_dir`` (ids from the relative path, unique)."""
    video_dir = Path(video_dir)
    if not video_dir.is_dir():
        raise InputError(f"'{video_dir}' is not a folder of videos.")
    found: dict[str, Path] = {}
    for path in sorted(p for p in video_dir.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES):
        rel = path.relative_to(video_dir)
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", "__".join(rel.with_suffix("").parts))
        clip_id = stem if stem not in found else f"{stem}_{path.suffix.lower().lstrip('.')}"
        found[clip_id] = path
    if not found:
        raise InputError(f"no videos in '{video_dir}' (looked for {', '.join(VIDEO_SUFFIXES)}).")
    return found


def read_prompts(path: Optional[Path], videos: dict[str, Path], video_dir: Path) -> dict[str, str]:
    """clip id -> prompt from a CSV with columns ``video,prompt`` (video = file name, relative path or stem)."""
    if path is None:
        return {}
    path = Path(path)
    if not path.is_file():
        raise InputError(f"prompts file '{path}' does not exist.")
    keys: dict[str, str] = {}
    for clip_id, video in videos.items():
        for key in (video.name, str(video.relative_to(video_dir)), video.stem, clip_id):
            keys.setdefault(key, clip_id)
    prompts: dict[str, str] = {}
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"video", "prompt"} <= set(reader.fieldnames):
            raise InputError(f"'{path.name}' needs a header row with the columns video,prompt.")
        for row in reader:
            name = (row.get("video") or "").strip()
            if name not in keys:
                log.warning("%s: no video named '%s' in %s; its prompt is ignored", path.name, name, video_dir)
                continue
            prompts[keys[name]] = (row.get("prompt") or "").strip()
    return prompts


def _load_manifest(out: Path, settings: PreprocessSettings) -> dict:
    import json

    path = out / MANIFEST
    if not path.is_file():
        return {"format": DATA_FORMAT, "settings": asdict(settings), "videos": {}}
    manifest = json.loads(path.read_text())
    if manifest.get("format") != DATA_FORMAT:
        raise InputError(f"{path} is not a PortraitTalk data manifest; choose another --out folder.")
    if manifest.get("settings") != asdict(settings):
        raise InputError(f"{out} was made with other settings ({manifest.get('settings')}); rerun with those "
                         "or choose another --out folder.")  # fmt: skip
    return manifest


ProgressFn = Callable[[VideoResult, int, int], None]


def preprocess(video_dir: Path, out: Path, prompts_csv: Optional[Path] = None, workers: int = 1,
               settings: PreprocessSettings = PreprocessSettings(), weights: Optional[Weights] = None,
               retry_failed: bool = False, progress: Optional[ProgressFn] = None) -> list[VideoResult]:  # fmt: skip
    """Preprocess every video under ``video_dir`` into ``out``; returns one result per video.

    Finished clips (from an earlier run) are skipped, failed ones too unless ``retry_failed``.
    ``workers`` > 1 processes videos in that many processes. ``progress(result, done, total)``
    is called as each video finishes.
    """
    video_dir, out = Path(video_dir), Path(out)
    videos = find_videos(video_dir)
    prompts = read_prompts(prompts_csv, videos, video_dir)
    manifest = _load_manifest(out, settings)
    (out / CLIPS).mkdir(parents=True, exist_ok=True)
    for stale in (out / CLIPS).glob(f"{TMP_PREFIX}*"):  # left by an interrupted run
        shutil.rmtree(stale, ignore_errors=True)
    entries = manifest["videos"]
    results: list[VideoResult] = []
    jobs: list[Job] = []
    for clip_id, source in videos.items():
        entry = entries.get(clip_id, {})
        finished = (out / CLIPS / clip_id / "meta.json").is_file()
        if finished or (entry.get("status") == "failed" and not retry_failed):
            status = "skipped" if finished else "failed"
            results.append(VideoResult(clip_id, str(source), status, entry.get("message", ""), entry.get("frames", 0)))
            if finished and entry.get("status") != "done":  # renamed into place, manifest not yet updated
                entries[clip_id] = {"source": str(source), "status": "done", "message": ""}
            continue
        jobs.append(Job(source, clip_id, out, prompts.get(clip_id, ""), settings,
                        weights.root if weights is not None else None))  # fmt: skip
    write_json(out / MANIFEST, manifest)
    total, done = len(jobs), 0

    def record(result: VideoResult) -> None:
        nonlocal done
        done += 1
        entries[result.clip_id] = {"source": result.source, "status": result.status, "message": result.message,
                                   "frames": result.frames, "seconds": result.seconds}  # fmt: skip
        write_json(out / MANIFEST, manifest)
        results.append(result)
        if result.status == "failed":
            log.info("skipped %s: %s", Path(result.source).name, result.message)
        if progress is not None:
            progress(result, done, total)

    if workers <= 1 or total <= 1:
        for job in jobs:
            record(run_job(job))
    else:
        _run_pool(jobs, workers, record)
    return results


def _run_pool(jobs: list[Job], workers: int, record: Callable[[VideoResult], None]) -> None:
    """Run jobs in ``workers`` processes; a worker that dies fails its video and the pool is rebuilt."""
    pending = list(jobs)
    context = multiprocessing.get_context("spawn")  # MediaPipe and threads do not survive fork
    while pending:
        with ProcessPoolExecutor(max_workers=min(workers, len(pending)), mp_context=context) as pool:
            running = {pool.submit(run_job, job): job for job in pending}
            pending = []
            broken = False
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    job = running.pop(future)
                    try:
                        record(future.result())
                    except BrokenProcessPool:
                        if broken:  # collateral of the crash: run again in a fresh pool
                            pending.append(job)
                        else:
                            broken = True
                            record(VideoResult(job.clip_id, str(job.source), "failed",
                                               "the worker process crashed on this video"))  # fmt: skip
                if broken:
                    pending += list(running.values())
                    running = {}
