"""SyncNet confidence and distance (Chung & Zisserman, ``syncnet_v2.model`` of joonson/syncnet_python).

Lip-sync of the generated video against its own audio track, scored as the talking-face papers do
("Sync-C" / "Sync-D"): 5-frame windows of 224×224 face crops and 0.2 s of MFCCs go through the two
streams; for every audio–video offset in ±15 frames the mean embedding distance is taken; **distance**
is the smallest of those, **confidence** the median minus the smallest, **offset** where it is.

Differences from the reference pipeline, and why: faces are cropped from our MediaPipe landmarks
(box of the 478 points, the reference's S3FD crop proportions) instead of a second face detector;
the MFCCs are python_speech_features' defaults reimplemented here (13 coefficients, 26 mel filters,
25 ms rectangular windows every 10 ms, pre-emphasis 0.97, lifter 22, c0 = log frame energy) on
int16-scaled samples, so the package is not needed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

V2_FILE = "syncnet_v2.model"
VSHIFT = 15
CROP = 224


def mfcc(samples: np.ndarray, rate: int = 16000) -> np.ndarray:
    """(frames, 13) MFCCs at 100 frames/s of int16-scaled mono samples."""
    from scipy.fft import dct

    sig = np.append(samples[0], samples[1:] - 0.97 * samples[:-1]).astype(np.float64)
    flen, step, nfft = int(round(0.025 * rate)), int(round(0.01 * rate)), 512
    n = 1 if len(sig) <= flen else 1 + int(np.ceil((len(sig) - flen) / step))
    sig = np.concatenate([sig, np.zeros((n - 1) * step + flen - len(sig))])
    frames = sig[np.arange(flen)[None, :] + step * np.arange(n)[:, None]]
    power = np.abs(np.fft.rfft(frames, nfft)) ** 2 / nfft
    eps = np.finfo(float).eps
    energy = np.where(power.sum(axis=1) == 0, eps, power.sum(axis=1))
    feat = power @ _mel_filters(26, nfft, rate).T
    feat = dct(np.log(np.where(feat == 0, eps, feat)), type=2, axis=1, norm="ortho")[:, :13]
    feat *= 1 + 11.0 * np.sin(np.pi * np.arange(13) / 22)
    feat[:, 0] = np.log(energy)
    return feat


def _mel_filters(count: int, nfft: int, rate: int) -> np.ndarray:
    mels = np.linspace(0, 2595 * np.log10(1 + rate / 2 / 700), count + 2)
    bins = np.floor((nfft + 1) * 700 * (10 ** (mels / 2595) - 1) / rate)
    bank = np.zeros((count, nfft // 2 + 1))
    for j in range(count):
        lo, mid, hi = bins[j], bins[j + 1], bins[j + 2]
        for i in range(int(lo), int(mid)):
            bank[j, i] = (i - lo) / (mid - lo)
        for i in range(int(mid), int(hi)):
            bank[j, i] = (hi - i) / (hi - mid)
    return bank


def syncnet_crop(frame: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The reference pipeline's 224×224 face crop (BGR, as it reads frames with OpenCV)."""
    import cv2

    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    s, cx, cy = max(x1 - x0, y1 - y0) / 2, (x0 + x1) / 2, (y0 + y1) / 2
    # rows cy − s .. cy + 1.8 s, columns cx ± 1.4 s, padded with grey 110 (crop_scale 0.4)
    src = np.float32([[cx - 1.4 * s, cy - s], [cx + 1.4 * s, cy - s], [cx - 1.4 * s, cy + 1.8 * s]])
    dst = np.float32([[0, 0], [CROP, 0], [0, CROP]])
    crop = cv2.warpAffine(frame, cv2.getAffineTransform(src, dst), (CROP, CROP), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(110, 110, 110))  # fmt: skip
    return np.ascontiguousarray(crop[..., ::-1])


class SyncNetMetric:
    """Accumulates face crops of the generated frames; scores them against its audio at the end."""

    name = "syncnet"

    def __init__(self, folder: Path, video: Path, fps: float, device: str = "cpu") -> None:
        import torch

        self.device = device
        self.net = syncnet_v2()
        state = torch.load(str(folder / V2_FILE), map_location="cpu", weights_only=True)
        # checkpoints from old PyTorch lack BatchNorm's num_batches_tracked, which inference never reads
        missing = [k for k in self.net.state_dict() if k not in state and not k.endswith("num_batches_tracked")]
        if missing:
            from ...errors import MissingWeightsError

            raise MissingWeightsError(f"{folder / V2_FILE} is not a SyncNet v2 checkpoint ({len(missing)} tensors "
                                      f"missing, e.g. {missing[0]}).")  # fmt: skip
        self.net.load_state_dict(state, strict=False)
        self.net.to(self.device).eval()
        self.video, self.fps = Path(video), fps
        self.crops: list[np.ndarray] = []
        self.gaps = 0
        self._last: Optional[np.ndarray] = None

    def update(self, gen, gt, gen_points, gt_points, sampled) -> None:
        if gen_points is None:
            self.gaps += 1  # keep the timeline: reuse the last face box
            gen_points = self._last
            if gen_points is None:
                return
        self._last = gen_points
        self.crops.append(syncnet_crop(gen, gen_points))

    def result(self) -> dict:
        from ...errors import AudioError
        from ...media import load_audio
        from .common import unavailable

        if abs(self.fps - 25.0) > 0.01:
            return unavailable(f"SyncNet scores 25 fps video; the generated video is {self.fps:g} fps")
        try:
            audio = load_audio(self.video)
        except AudioError as exc:
            return unavailable(f"the generated video has no usable audio track ({exc})")
        feats = mfcc(audio.samples * 32768.0, audio.sample_rate)
        n = min(len(self.crops), int(len(audio.samples) // (audio.sample_rate / 25))) - 5  # as the reference
        if n < 1:
            return unavailable("SyncNet needs at least 6 frames with a face and 0.24 s of audio")
        vid, aud = self._embed(n, feats)
        dists = _offset_distances(vid, aud, VSHIFT)  # (n, 2·VSHIFT+1)
        mean = dists.mean(axis=0)
        best = int(np.argmin(mean))
        confidence = float(np.median(mean) - mean[best])
        return {"value": confidence, "available": True, "confidence": confidence, "distance": float(mean[best]),
                "offset_frames": VSHIFT - best, "windows": n, "frames_without_face": self.gaps}  # fmt: skip

    def _embed(self, n: int, feats: np.ndarray, batch: int = 20) -> tuple[np.ndarray, np.ndarray]:
        import torch

        video = torch.from_numpy(np.stack(self.crops[: n + 4])).float().permute(3, 0, 1, 2)  # 3,T,H,W
        audio = torch.from_numpy(feats.T.copy()).float()  # 13, frames
        vid, aud = [], []
        with torch.inference_mode():
            for i in range(0, n, batch):
                idx = range(i, min(n, i + batch))
                v = torch.stack([video[:, j:j + 5] for j in idx]).to(self.device)
                a = torch.stack([audio[None, :, 4 * j:4 * j + 20] for j in idx]).to(self.device)
                vid.append(self.net.forward_lip(v).cpu())
                aud.append(self.net.forward_aud(a).cpu())
        return torch.cat(vid).numpy(), torch.cat(aud).numpy()


def _offset_distances(vid: np.ndarray, aud: np.ndarray, vshift: int) -> np.ndarray:
    """Distance of each video window to the audio windows shifted by −vshift..vshift (zero-padded),
    as ``torch.nn.functional.pairwise_distance`` computes it (eps 1e-6 added to the difference)."""
    padded = np.pad(aud, ((vshift, vshift), (0, 0)))
    win = 2 * vshift + 1
    return np.stack([np.linalg.norm(vid[i][None] - padded[i:i + win] + 1e-6, axis=1) for i in range(len(vid))])


def syncnet_v2(embedding: int = 1024):
    """SyncNet's two streams, named as in ``syncnet_v2.model`` so its state dict loads as is."""
    import torch.nn as nn

    def conv2(cin, cout, k, pool: Optional[tuple] = None, **kw):
        layers = [nn.Conv2d(cin, cout, k, **kw), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
        return layers + ([nn.MaxPool2d(*pool)] if pool else [])

    def conv3(cin, cout, k, pool: Optional[dict] = None, **kw):
        layers = [nn.Conv3d(cin, cout, k, **kw), nn.BatchNorm3d(cout), nn.ReLU(inplace=True)]
        return layers + ([nn.MaxPool3d(**pool)] if pool else [])

    def head():
        return nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, embedding))

    class SyncNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.netcnnaud = nn.Sequential(
                *conv2(1, 64, 3, ((1, 1), (1, 1)), padding=1), *conv2(64, 192, 3, ((3, 3), (1, 2)), padding=1),
                *conv2(192, 384, 3, padding=1), *conv2(384, 256, 3, padding=1),
                *conv2(256, 256, 3, ((3, 3), (2, 2)), padding=1), *conv2(256, 512, (5, 4)),
            )  # fmt: skip
            self.netfcaud, self.netfclip = head(), head()
            pool = dict(kernel_size=(1, 3, 3), stride=(1, 2, 2))
            self.netcnnlip = nn.Sequential(
                *conv3(3, 96, (5, 7, 7), pool, stride=(1, 2, 2)),
                *conv3(96, 256, (1, 5, 5), {**pool, "padding": (0, 1, 1)}, stride=(1, 2, 2), padding=(0, 1, 1)),
                *conv3(256, 256, (1, 3, 3), padding=(0, 1, 1)), *conv3(256, 256, (1, 3, 3), padding=(0, 1, 1)),
                *conv3(256, 256, (1, 3, 3), pool, padding=(0, 1, 1)), *conv3(256, 512, (1, 6, 6)),
            )  # fmt: skip

        def forward_aud(self, x):
            return self.netfcaud(self.netcnnaud(x).flatten(1))

        def forward_lip(self, x):
            return self.netfclip(self.netcnnlip(x).flatten(1))

    return SyncNet()
