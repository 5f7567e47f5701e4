"""The three training data sets, read from a preprocessed data folder.

- :class:`FrameDataset` (stage 1): a frame, its Eq. (1) corrupted copy, the clip's prompt and one
  reference face embedding.
- :class:`FramePairDataset` (stages 2, 3): the same plus what AnimateNet sees at generation time
  for frame t: the structure image drawn from frame t's landmarks, the head contour of frame t-1
  and frame t-1 itself (its VAE latent is the temporal condition).
- :class:`MotionWindowDataset` (audio-to-motion): windows of 50 Hz speech features with the
  landmark motion of the same frames.

Every random choice of a sample (its corruption mask, which reference, and in the trainer its
noise, timestep and condition dropout) comes from :func:`sample_seed` (run seed, epoch, index), so
a run gives the same result on one process or eight, and after a resume.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch.utils.data import Dataset

from .clips import Clip, TalkingHeadData
from .losses import corrupt, random_region_mask

_MASK64 = (1 << 63) - 1


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A well-mixed 63-bit seed for one sample of one epoch (splitmix64 of the three numbers)."""
    x = (seed * 0x9E3779B97F4A7C15 + epoch * 0xBF58476D1CE4E5B9 + index * 0x94D049BB133111EB) & ((1 << 64) - 1)
    x ^= x >> 31
    x = (x * 0xBF58476D1CE4E5B9) & ((1 << 64) - 1)
    x ^= x >> 27
    return x & _MASK64


def loss_generator(seed: int) -> torch.Generator:
    """A sample's second random stream (the trainer's noise, timestep, dropout), apart from the data set's."""
    return torch.Generator().manual_seed((int(seed) * 6364136223846793005 + 1442695040888963407) % (1 << 63))


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    import cv2

    if image.shape[0] == size and image.shape[1] == size:
        return image
    shrink = image.shape[0] > size
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def to_tensor(image: np.ndarray, signed: bool) -> torch.Tensor:
    """uint8 (H, W[, C]) -> float (C, H, W) in [-1, 1] (``signed``) or [0, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(image)).float() / 255.0
    x = x[None] if x.ndim == 2 else x.permute(2, 0, 1)
    return x * 2.0 - 1.0 if signed else x


class _SeededDataset(Dataset):
    """Samples whose randomness is a function of (seed, epoch, index); ``set_epoch`` before each pass."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def generator(self, index: int) -> tuple[int, torch.Generator]:
        s = sample_seed(self.seed, self.epoch, index)
        return s, torch.Generator().manual_seed(s)


class FrameDataset(_SeededDataset):
    """Stage 1: ``image`` and ``masked`` (3, R, R) in [-1, 1], ``prompt``, ``face`` (D,), ``seed``, ``index``."""

    pairs = False

    def __init__(self, data: TalkingHeadData, resolution: int, seed: int = 0, mask_regions: int = 4,
                 mask_max_fraction: float = 0.4) -> None:  # fmt: skip
        super().__init__(seed)
        self.clips = data.clips
        self.resolution = int(resolution)
        self.mask_regions = mask_regions
        self.mask_max_fraction = mask_max_fraction
        items = []
        for c, clip in enumerate(self.clips):
            found = clip.found
            usable = found[1:] & found[:-1] if self.pairs else found
            first = 1 if self.pairs else 0
            items += [(c, int(t) + first) for t in np.flatnonzero(usable)]
        if not items:
            raise ValueError("no usable frame in the data (every frame lacks a face)")
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def _clip_frame(self, index: int) -> tuple[Clip, int]:
        c, t = self.items[index]
        return self.clips[c], t

    def __getitem__(self, index: int) -> dict:
        clip, t = self._clip_frame(index)
        seed, g = self.generator(index)
        r = self.resolution
        image = to_tensor(_resize(clip.frame(t), r), signed=True)
        mask = random_region_mask(1, r, r, g, self.mask_regions, self.mask_max_fraction)
        masked = corrupt(image[None], mask, g)[0]
        refs = clip.identity()
        face = torch.from_numpy(refs[int(torch.randint(len(refs), (1,), generator=g))].astype(np.float32))
        return {"image": image, "masked": masked, "prompt": clip.prompt, "face": face, "seed": seed, "index": index}


class FramePairDataset(FrameDataset):
    """Stages 2 and 3: :class:`FrameDataset`'s fields for frame t plus ``previous`` (frame t-1, [-1, 1]),
    ``structure`` (3, R, R) and ``contour`` (1, R, R) in [0, 1] (frame t's landmarks, frame t-1's contour)."""

    pairs = True

    def __getitem__(self, index: int) -> dict:
        from ..face.draw import draw_condition

        item = super().__getitem__(index)
        clip, t = self._clip_frame(index)
        r = self.resolution
        points = clip.landmarks[t] * (r / clip.size)
        item["previous"] = to_tensor(_resize(clip.frame(t - 1), r), signed=True)
        item["structure"] = to_tensor(draw_condition(points, (r, r)), signed=False)
        item["contour"] = to_tensor(_resize(clip.contour(t - 1), r), signed=False)
        return item


class MotionWindowDataset(_SeededDataset):
    """Audio-to-motion: ``features`` (2W, D), ``motion`` (W, 478, 2) in face heights, ``seed``, ``index``.

    Windows of ``window`` frames every ``stride`` frames inside clips that have audio, where every
    frame has a face.
    """

    def __init__(self, data: TalkingHeadData, kind: str, window: int, stride: int, seed: int = 0,
                 clips: Optional[list[Clip]] = None) -> None:  # fmt: skip
        from ..motion.vae import landmarks_to_motion

        super().__init__(seed)
        self.kind = kind
        self.window = int(window)
        self.features: list[np.ndarray] = []
        self.motion: list[np.ndarray] = []
        self.items: list[tuple[int, int]] = []
        for clip in clips if clips is not None else data.clips:
            if not clip.has_audio or clip.frames < window:
                continue
            motion, _ = landmarks_to_motion(clip.landmarks, clip.found)
            good = np.concatenate([[0], np.cumsum(clip.found)])
            c = len(self.motion)
            self.features.append(clip.features(kind))
            self.motion.append(motion)
            self.items += [(c, s) for s in range(0, clip.frames - window + 1, stride)
                           if good[s + window] - good[s] == window]  # fmt: skip
        if not self.items:
            raise ValueError(f"no {window}-frame window with audio and a face in every frame")

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        c, s = self.items[index]
        w = self.window
        seed, _ = self.generator(index)
        return {"features": torch.from_numpy(self.features[c][2 * s : 2 * (s + w)].astype(np.float32)),
                "motion": torch.from_numpy(self.motion[c][s : s + w]), "seed": seed, "index": index}  # fmt: skip
