"""The preprocessed data folder (``portraittalk preprocess`` writes it, the data sets read it).

::

    DATA/
      manifest.json                  settings + one entry per source video: status done | failed, message
      clips/<id>/
        meta.json                    written last: a clip folder without it is incomplete
        frames/000000.jpg ...        25 fps face crops (S x S, one crop for the whole clip)
        masks/000000.png ...         person masks (0..255)
        contours/000000.png ...      head contours (the paper's placement condition, {0, 255})
        landmarks.npz                points (T, 478, 2) float32 crop pixels, found (T,) bool
        audio.wav                    16 kHz mono (absent for silent videos)
        features.npz                 mel (2T, 80) [hubert (2T, 1024)]: two 50 Hz frames per video frame
        identity.npz                 embeddings (K, D) of K reference frames, frames (K,), backend
"""
from __future__ import annotations

import functools
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..errors import InputError

DATA_FORMAT = "portraittalk-data/1"
CLIP_FORMAT = "portraittalk-clip/1"
MANIFEST = "manifest.json"
CLIPS = "clips"


def write_json(path: Path, value: Any) -> None:
    """Write ``value`` as JSON atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(value, f, indent=2)
        f.write("\n")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes owner-only files; this is a normal one
    os.replace(tmp, path)


def frame_name(index: int, suffix: str) -> str:
    return f"{index:06d}{suffix}"


@dataclass
class Clip:
    """One preprocessed video. Arrays load lazily and are cached (a worker keeps what it read)."""

    folder: Path
    meta: dict
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def open(cls, folder: Path) -> "Clip":
        meta_path = Path(folder) / "meta.json"
        if not meta_path.is_file():
            raise InputError(f"{folder} is not a finished clip (no meta.json); run `portraittalk preprocess` again.")
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != CLIP_FORMAT:
            raise InputError(f"{meta_path} is not a PortraitTalk clip (format {meta.get('format')!r}).")
        return cls(Path(folder), meta)

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def frames(self) -> int:
        return int(self.meta["frames"])

    @property
    def size(self) -> int:
        return int(self.meta["size"])

    @property
    def prompt(self) -> str:
        return str(self.meta.get("prompt", ""))

    def _npz(self, name: str) -> dict[str, np.ndarray]:
        if name not in self._cache:
            with np.load(self.folder / name, allow_pickle=False) as d:
                self._cache[name] = {k: d[k] for k in d.files}
        return self._cache[name]

    @property
    def landmarks(self) -> np.ndarray:
        """(T, 478, 2) float32 in crop pixels (NaN where no face was found)."""
        return self._npz("landmarks.npz")["points"]

    @property
    def found(self) -> np.ndarray:
        return self._npz("landmarks.npz")["found"].astype(bool)

    def features(self, kind: str) -> np.ndarray:
        """(2T, D) 50 Hz speech features of ``kind`` ("mel" | "hubert")."""
        feats = self._npz("features.npz") if self.has_audio else {}
        if kind not in feats:
            raise InputError(f"clip {self.name} has no '{kind}' features; preprocess again with them available.")
        return feats[kind]

    @property
    def has_audio(self) -> bool:
        return bool(self.meta.get("audio"))

    def identity(self) -> np.ndarray:
        """(K, D) face embeddings of the clip's reference frames."""
        return self._npz("identity.npz")["embeddings"]

    def _image(self, kind: str, index: int, suffix: str, flags: int) -> np.ndarray:
        import cv2

        path = self.folder / kind / frame_name(index, suffix)
        image = cv2.imread(str(path), flags)
        if image is None:
            raise InputError(f"{path} is missing or unreadable; preprocess this clip again.")
        return image

    def frame(self, index: int) -> np.ndarray:
        """(S, S, 3) uint8 RGB crop of frame ``index``."""
        import cv2

        return cv2.cvtColor(self._image("frames", index, ".jpg", cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

    def mask(self, index: int) -> np.ndarray:
        import cv2

        return self._image("masks", index, ".png", cv2.IMREAD_GRAYSCALE)

    def contour(self, index: int) -> np.ndarray:
        import cv2

        return self._image("contours", index, ".png", cv2.IMREAD_GRAYSCALE)


@dataclass
class TalkingHeadData:
    """A preprocessed data folder: its manifest and its finished clips."""

    root: Path
    manifest: dict

    @classmethod
    def open(cls, root: Path) -> "TalkingHeadData":
        root = Path(root)
        path = root / MANIFEST
        if not path.is_file():
            raise InputError(f"{root} is not a preprocessed data folder (no {MANIFEST}); "
                             "make one with `portraittalk preprocess VIDEO_DIR --out DATA`.")  # fmt: skip
        manifest = json.loads(path.read_text())
        if manifest.get("format") != DATA_FORMAT:
            raise InputError(f"{path} is not a PortraitTalk data manifest (format {manifest.get('format')!r}).")
        return cls(root, manifest)

    @functools.cached_property
    def clips(self) -> list[Clip]:
        """Every finished clip, in name order."""
        names = sorted(k for k, v in self.manifest.get("videos", {}).items() if v.get("status") == "done")
        clips = [Clip.open(self.root / CLIPS / n) for n in names if (self.root / CLIPS / n / "meta.json").is_file()]
        if not clips:
            raise InputError(f"{self.root} holds no finished clip; see {self.root / MANIFEST} for what failed.")
        return clips

    def identity_dim(self) -> int:
        """Width of the stored face embeddings (128 dlib, 512 ArcFace); one width per data folder."""
        dims = {int(c.identity().shape[1]) for c in self.clips}
        if len(dims) != 1:
            raise InputError(f"{self.root} mixes face embeddings of widths {sorted(dims)}; preprocess it again "
                             "with one face-recognition backend.")  # fmt: skip
        return dims.pop()

    def feature_kinds(self) -> set[str]:
        """Speech feature kinds every clip with audio has."""
        kinds: Optional[set[str]] = None
        for clip in self.clips:
            if clip.has_audio:
                have = set(clip.meta.get("features", []))
                kinds = have if kinds is None else kinds & have
        return kinds or set()
