"""Audio decoding to 16 kHz mono float32, streamed so memory stays bounded."""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ..config import Limits
from ..errors import AudioError
from .ffmpeg import ffmpeg_exe

SAMPLE_RATE = 16_000
_BLOCK = 1 << 16
AudioSource = Union[str, os.PathLike]


@dataclass
class Audio:
    """Mono float32 samples at ``sample_rate``; ``duration`` is the source's exact length in seconds."""

    samples: np.ndarray
    sample_rate: int
    duration: float
    source: Optional[Path] = None

    @classmethod
    def from_array(cls, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> "Audio":
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim == 2:
            samples = samples.mean(axis=1, dtype=np.float32)
        return cls(samples, sample_rate, len(samples) / sample_rate)

    def resampled(self, sample_rate: int = SAMPLE_RATE) -> "Audio":
        """The same sound at ``sample_rate`` (itself when it already is): the motion models read 16 kHz."""
        if sample_rate == self.sample_rate:
            return self
        import soxr

        samples = soxr.resample(self.samples, self.sample_rate, sample_rate, quality="HQ").astype(np.float32)
        return Audio(samples, sample_rate, self.duration, self.source)

    def write_wav(self, path: Union[str, os.PathLike]) -> None:
        import soundfile as sf

        sf.write(str(path), self.samples, self.sample_rate, subtype="PCM_16")


def load_audio(
    source: AudioSource,
    sample_rate: int = SAMPLE_RATE,
    max_seconds: float = Limits.max_audio_seconds,
    min_seconds: float = Limits.min_audio_seconds,
) -> Audio:
    """Decode any speech recording (wav/flac/ogg/mp3 via libsndfile; m4a/aac/video via ffmpeg).

    Stereo is averaged to mono and resampled with soxr's band-limited resampler. Silence is valid;
    empty, unreadable, too-short or too-long input raises :class:`AudioError`.
    """
    path = Path(source)
    if not path.is_file():
        raise AudioError(f"audio file '{path.name}' does not exist or is not a file.")
    if path.stat().st_size == 0:
        raise AudioError(f"audio file '{path.name}' is empty.")
    try:
        samples, duration = _load_soundfile(path, sample_rate, max_seconds)
    except _NotSoundfile:
        samples, duration = _load_ffmpeg(path, sample_rate, max_seconds)
    if duration < min_seconds or samples.size == 0:
        raise AudioError(f"the speech in '{path.name}' is {round(duration, 2):g} s long; "
                         f"give at least {min_seconds:g} s of speech.")  # fmt: skip
    return Audio(samples, sample_rate, duration, path)


class _NotSoundfile(Exception):
    pass


def _too_long(path: Path, seconds: float, max_seconds: float) -> AudioError:
    return AudioError(
        f"audio file '{path.name}' is {seconds:.0f} s long, over the limit of {max_seconds:.0f} s; "
        "trim it or split it into parts."
    )


def _load_soundfile(path: Path, sample_rate: int, max_seconds: float) -> tuple[np.ndarray, float]:
    import soundfile as sf
    import soxr

    try:
        info = sf.info(str(path))
    except Exception:  # libsndfile cannot read it: let ffmpeg try
        raise _NotSoundfile() from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise _NotSoundfile()
    duration = info.frames / info.samplerate
    if duration > max_seconds:
        raise _too_long(path, duration, max_seconds)
    out = np.empty(int(np.ceil(info.frames * sample_rate / info.samplerate)) + 64, dtype=np.float32)
    filled = 0
    resampler = None if info.samplerate == sample_rate else soxr.ResampleStream(
        info.samplerate, sample_rate, 1, dtype="float32", quality="HQ"
    )
    try:
        with sf.SoundFile(str(path)) as f:
            while True:
                block = f.read(_BLOCK, dtype="float32", always_2d=True)
                last = len(block) < _BLOCK
                mono = block.mean(axis=1, dtype=np.float32)
                if resampler is not None:
                    mono = resampler.resample_chunk(mono, last=last)
                n = min(len(mono), len(out) - filled)
                out[filled : filled + n] = mono[:n]
                filled += n
                if last:
                    break
    except sf.LibsndfileError as exc:
        raise AudioError(f"audio file '{path.name}' is corrupt ({exc}).") from None
    return out[:filled], duration


def _load_ffmpeg(path: Path, sample_rate: int, max_seconds: float) -> tuple[np.ndarray, float]:
    cmd = [
        ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(path), "-map", "0:a:0", "-vn",
        "-ac", "1", "-ar", str(sample_rate), "-f", "f32le", "-",
    ]  # fmt: skip
    limit = int((max_seconds + 1.0) * sample_rate)
    chunks: list[np.ndarray] = []
    total = 0
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    try:
        while True:
            raw = proc.stdout.read(_BLOCK * 4)
            if not raw:
                break
            chunk = np.frombuffer(raw[: len(raw) // 4 * 4], dtype=np.float32)
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                proc.kill()
                raise _too_long(path, total / sample_rate, max_seconds)
        err = proc.stderr.read().decode(errors="replace")
    finally:
        proc.stdout.close()
        proc.wait()
    if proc.returncode != 0 and total == 0:
        reason = "it has no audio track" if "matches no streams" in err else "it is not audio we can decode"
        raise AudioError(
            f"'{path.name}' cannot be used as audio: {reason}. Use wav, mp3, flac, ogg, m4a or a video with sound."
        )
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    duration = len(samples) / sample_rate
    if duration > max_seconds:
        raise _too_long(path, duration, max_seconds)
    return samples, duration
