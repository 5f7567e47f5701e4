"""The training data sets: what each stage sees, reproducible per (seed, epoch, index)."""
from __future__ import annotations

import numpy as np
import torch

from portraittalk.face import mesh
from portraittalk.training.clips import TalkingHeadData
from portraittalk.training.data import FrameDataset, FramePairDataset, MotionWindowDataset


def test_frames_and_their_masked_copies(data_dir):
    data = TalkingHeadData.open(data_dir)
    ds = FrameDataset(data, 64, seed=3)
    assert len(ds) == sum(c.frames for c in data.clips)
    item = ds[7]
    image, masked = item["image"], item["masked"]
    assert image.shape == masked.shape == (3, 64, 64) and image.min() >= -1 and image.max() <= 1
    changed = (image != masked).any(dim=0).float().mean()
    assert 0.02 < changed < 0.8  # some rectangles of noise, most of the frame kept
    assert item["face"].shape == (128,) and item["prompt"] in {c.prompt for c in data.clips}
    assert torch.equal(ds[7]["masked"], masked)  # a function of (seed, epoch, index)
    ds.set_epoch(1)
    assert not torch.equal(ds[7]["masked"], masked) and torch.equal(ds[7]["image"], image)


def test_frame_pairs_carry_animatenets_conditions(data_dir):
    data = TalkingHeadData.open(data_dir)
    ds = FramePairDataset(data, 64)
    assert len(ds) == sum(c.frames - 1 for c in data.clips)  # every frame but the first of a clip
    item = ds[30]
    clip, t = ds.clips[ds.items[30][0]], ds.items[30][1]
    assert item["structure"].shape == (3, 64, 64) and item["contour"].shape == (1, 64, 64)
    assert 0 <= item["structure"].min() and item["structure"].max() <= 1 and item["previous"].shape == (3, 64, 64)
    # The structure image is frame t's mesh: its lips are drawn where frame t's lips are.
    lips = np.round(clip.landmarks[t][mesh.lips_outer_loop()] * 64 / clip.size).astype(int).clip(0, 63)
    drawn = item["structure"].sum(dim=0) > 0
    assert drawn[lips[:, 1], lips[:, 0]].float().mean() > 0.8 and drawn.float().mean() < 0.6
    # The previous frame is frame t-1 of the same clip, not frame t.
    earlier = FrameDataset(data, 64)
    index_prev = earlier.items.index((ds.items[30][0], t - 1))
    assert torch.equal(item["previous"], earlier[index_prev]["image"])


def test_motion_windows_follow_the_mouth(data_dir, videos):
    from portraittalk.motion.vae import landmarks_to_motion

    data = TalkingHeadData.open(data_dir)
    ds = MotionWindowDataset(data, "mel", window=16, stride=4)
    item = ds[0]
    assert item["features"].shape == (32, 80) and item["motion"].shape == (16, 478, 2)
    clip = [c for c in data.clips if c.name == "astronaut"][0]
    motion, rest = landmarks_to_motion(clip.landmarks, clip.found)
    # Motion is in face heights around a closed-mouth rest pose; its mouth opening follows the video's.
    aperture = mesh.mouth_aperture(rest[None] + motion)
    assert np.corrcoef(aperture, mesh.mouth_aperture(clip.landmarks))[0, 1] > 0.99
    assert mesh.mouth_aperture(rest) <= np.quantile(aperture, 0.15)
    assert 0.01 < np.abs(motion[:, mesh.LOWER_LIP_INNER, 1]).max() < 0.2 and np.abs(motion[:, mesh.FOREHEAD]).max() < 0.02
