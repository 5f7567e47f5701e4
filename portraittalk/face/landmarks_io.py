"""Landmark tracks of whole files (image or video), saved as .npz, with an optional mesh preview."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import ImageError, InputError, NoFaceError, PortraitTalkError
from ..media import VideoWriter, load_audio, load_image, read_video
from ..media.image import save_image
from .draw import draw_preview
from .landmarks import FaceMeshDetector

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


@dataclass
class LandmarkTrack:
    """Per-frame landmarks of a file: ``points`` (T, 478, 2) pixels, NaN where no face was found."""

    points: np.ndarray
    fps: float
    frame_size: tuple[int, int]
    timestamps: np.ndarray  # (T,) seconds

    @property
    def found(self) -> np.ndarray:
        return ~np.isnan(self.points[:, 0, 0])

    def save(self, path: Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, landmarks=self.points.astype(np.float32), fps=self.fps,
                            frame_size=np.array(self.frame_size), timestamps=self.timestamps, found=self.found)  # fmt: skip

    @classmethod
    def load(cls, path: Path) -> "LandmarkTrack":
        with np.load(path) as d:
            return cls(d["landmarks"], float(d["fps"]), tuple(int(v) for v in d["frame_size"]), d["timestamps"])


def extract_landmarks(path: Path, face_index: int = 0, preview: Optional[Path] = None,
                      progress: bool = False) -> LandmarkTrack:  # fmt: skip
    """Landmarks of an image (one frame) or of every frame of a video (tracking mode)."""
    path = Path(path)
    try:
        image = load_image(path)
    except ImageError:
        if not path.is_file():
            raise
        image = None
    if image is not None:
        with FaceMeshDetector(static=True) as det:
            face = det.detect(image, face_index, f"'{path.name}'")
        h, w = image.shape[:2]
        track = LandmarkTrack(face.points[None], 0.0, (w, h), np.zeros(1))
        if preview is not None:
            if Path(preview).suffix.lower() not in IMAGE_SUFFIXES:
                raise InputError(f"the preview of an image is an image: name it .png or .jpg, not '{Path(preview).name}'.")
            save_image(preview, draw_preview(image, face.points))
        return track
    return _video_landmarks(path, preview, progress)


def _video_landmarks(path: Path, preview: Optional[Path], progress: bool) -> LandmarkTrack:
    from tqdm import tqdm

    video = read_video(path)
    writer = None
    if preview is not None:
        try:
            audio = load_audio(path)
        except PortraitTalkError:
            audio = None  # a silent video previews without sound
        writer = VideoWriter(preview, video.fps, (video.width, video.height), audio)
    points, times = [], []
    try:
        with FaceMeshDetector(static=False) as det:
            bar = tqdm(video, total=video.frame_count or None, unit="frame", disable=not progress, desc="landmarks")
            for t, frame in bar:
                faces = det.all_faces(frame)
                p = faces[0].points if faces else np.full((478, 2), np.nan, np.float32)
                points.append(p)
                times.append(t)
                if writer is not None:
                    writer.write(draw_preview(frame, p))
        if writer is not None:
            writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if not points:
        raise NoFaceError(f"'{path.name}' has no frames.")
    return LandmarkTrack(np.stack(points), video.fps, (video.width, video.height), np.array(times))
