"""The pushed audio as one 16 kHz stream: any chunk length, any rate (resampled), kept only as far back
as the frames still to come need it (memory stays flat however long a session runs)."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..errors import AudioError
from ..media.audio import SAMPLE_RATE

MIN_RATE, MAX_RATE = 8_000, 192_000


def as_mono(samples: np.ndarray) -> np.ndarray:
    """float32 mono samples from what a microphone or a decoder hands over: 1-D, or (samples, channels)
    averaged; integer PCM scaled to [-1, 1]."""
    x = np.asarray(samples)
    if x.dtype.kind not in "iuf" or x.ndim not in (1, 2):
        raise AudioError(f"push samples as a 1-D array of numbers, or (samples, channels) (got {x.dtype} of "
                         f"shape {x.shape}).")  # fmt: skip
    if x.dtype.kind in "iu":
        info = np.iinfo(x.dtype)
        x = (x.astype(np.float32) - (info.max + info.min + 1) / 2) / (info.max + 1)
    x = x.astype(np.float32, copy=False)
    if x.ndim == 2:
        x = x.mean(axis=1, dtype=np.float32)
    if not np.isfinite(x).all():
        raise AudioError("the pushed audio holds NaN or infinite samples.")
    return x


class AudioStream:
    """The session's sound at 16 kHz, by absolute sample index from the session's start.

    Audio at another rate goes through one streaming resampler (soxr, the offline loader's
    quality): its output does not depend on how the input was chunked, and matches resampling the
    whole recording at once.
    """

    def __init__(self) -> None:
        self.rate: Optional[int] = None  # the rate pushed (one per session)
        self._resampler = None
        self._kept = np.zeros(0, np.float32)
        self._first = 0  # the absolute index of _kept[0]
        self.total = 0  # samples received (16 kHz)

    def add(self, samples: np.ndarray, sample_rate: int) -> None:
        x = as_mono(samples)
        rate = int(sample_rate)
        if rate != sample_rate or not MIN_RATE <= rate <= MAX_RATE:
            raise AudioError(f"sample_rate must be a whole number of Hz from {MIN_RATE} to {MAX_RATE} "
                             f"(got {sample_rate}).")  # fmt: skip
        if self.rate is None:
            self.rate = rate
            if rate != SAMPLE_RATE:
                import soxr

                self._resampler = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
        elif rate != self.rate:
            raise AudioError(f"this session's audio is {self.rate} Hz; a chunk at {rate} Hz cannot join it "
                             "(start a new session).")  # fmt: skip
        if self._resampler is not None:
            x = self._resampler.resample_chunk(x)
        self._append(x)

    def end(self) -> None:
        """The sound is over: what the resampler still holds comes out."""
        if self._resampler is not None:
            self._append(self._resampler.resample_chunk(np.zeros(0, np.float32), last=True))
            self._resampler = None

    def _append(self, x: np.ndarray) -> None:
        if len(x):
            self._kept = np.concatenate([self._kept, x.astype(np.float32, copy=False)])
            self.total += len(x)

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples [start, stop) (absolute); before the start of the stream and past what has arrived
        (only asked for at the end of a session) they are silence."""
        if max(start, 0) < self._first:
            raise ValueError(f"samples before {self._first} were forgotten (asked from {start})")
        out = np.zeros(max(stop - start, 0), np.float32)
        a, b = max(start, 0), min(stop, self.total)
        if b > a:
            out[a - start : b - start] = self._kept[a - self._first : b - self._first]
        return out

    def forget_before(self, index: int) -> None:
        """Nothing before absolute sample ``index`` will be read again."""
        drop = min(max(index - self._first, 0), len(self._kept))
        if drop:
            self._kept = self._kept[drop:].copy()
            self._first += drop

    @property
    def kept(self) -> int:
        """Samples held in memory now."""
        return len(self._kept)
