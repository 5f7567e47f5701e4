"""Video reading (PyAV) and streamed MP4 writing (ffmpeg: H.264 yuv420p + AAC)."""
from __future__ import annotations

import os
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Union

import numpy as np

from ..errors import VideoError
from .audio import Audio
from .ffmpeg import ffmpeg_exe

PathLike = Union[str, os.PathLike]


@dataclass
class VideoInfo:
    """What a player sees in a file: codecs, pixel format, size, rate and durations."""

    width: int
    height: int
    fps: float
    frame_count: int
    duration: float
    video_codec: str
    pixel_format: str
    audio_codec: Optional[str]
    audio_duration: Optional[float]


def probe_video(path: PathLike) -> VideoInfo:
    """Read the stream parameters of a video file."""
    import av

    path = Path(path)
    if not path.is_file():
        raise VideoError(f"video '{path.name}' does not exist.")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"'{path.name}' has no video stream.")
            v = container.streams.video[0]
            fps = float(v.average_rate or v.guessed_rate or 0)
            duration = float(container.duration / 1e6) if container.duration else 0.0
            frames = v.frames or int(round(duration * fps))
            a = container.streams.audio[0] if container.streams.audio else None
            a_dur = float(a.duration * a.time_base) if a is not None and a.duration else None
            return VideoInfo(
                v.codec_context.width, v.codec_context.height, fps, frames, duration,
                v.codec_context.name, str(v.codec_context.format.name if v.codec_context.format else ""),
                a.codec_context.name if a is not None else None, a_dur,
            )  # fmt: skip
    except VideoError:
        raise
    except Exception as exc:  # PyAV raises many error types for bad files
        raise VideoError(f"'{path.name}' is not a video we can read ({exc}).") from None


def frame_times(path: PathLike) -> np.ndarray:
    """Presentation times (s) of every video frame, from the container (no decoding), first = 0."""
    import av

    path = Path(path)
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            pts = [p.pts for p in container.demux(stream) if p.size and p.pts is not None]
            base = float(stream.time_base)
    except Exception as exc:  # PyAV raises many error types for bad files
        raise VideoError(f"'{path.name}' is not a video we can read ({exc}).") from None
    if not pts:
        raise VideoError(f"'{path.name}' has no frames.")
    t = np.sort(np.array(pts, dtype=np.float64)) * base
    return t - t[0]


@dataclass
class VideoFrames:
    """Lazily decoded RGB frames with their timestamps (seconds)."""

    path: Path
    fps: float
    width: int
    height: int
    frame_count: int

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        import av

        with av.open(str(self.path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                t = float(frame.pts * stream.time_base) if frame.pts is not None else 0.0
                yield t, frame.to_ndarray(format="rgb24")


def read_video(path: PathLike) -> VideoFrames:
    """Open a video for streaming frame access; fails early with :class:`VideoError`."""
    info = probe_video(path)
    if info.frame_count == 0 and info.duration == 0:
        raise VideoError(f"'{Path(path).name}' has no frames.")
    return VideoFrames(Path(path), info.fps, info.width, info.height, info.frame_count)


# The encoder runs below the renderer's priority: rendering is the critical path (on two cores an
# encoder at equal priority slows it), the encoder has slack while frames come and finishes its
# tail at full speed.
ENCODER_NICENESS = 10


def _new_file(folder: Path, prefix: str, suffix: str) -> Path:
    """A new empty file with a unique name, made as any file the user creates is: mode 0666 less the
    umask (typically 0644). ffmpeg writes into it and it is renamed to the output, which keeps its mode;
    mkstemp's owner-only 0600 would make the video unreadable to anyone else."""
    while True:
        path = folder / f"{prefix}{uuid.uuid4().hex[:12]}{suffix}"
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return path
        except FileExistsError:
            continue


class VideoWriter:
    """Streams RGB frames into an H.264 (yuv420p) MP4 with an AAC track of ``audio``.

    The encoder runs beside the caller: :meth:`write` hands each frame to a feeder thread through a
    small bounded queue (memory stays flat), which converts it to yuv420p (what H.264 stores; half
    the bytes of RGB) and pipes it to ffmpeg, so rendering the next frame overlaps with encoding
    this one. The file appears at ``path`` only when :meth:`close` succeeds; on error or cancel
    nothing is left there. Odd sizes are padded to even ones (yuv420p needs them).
    """

    QUEUE = 8  # frames in flight between the caller and the encoder

    def __init__(self, path: PathLike, fps: float, size: tuple[int, int], audio: Optional[Audio] = None,
                 crf: int = 18, preset: str = "veryfast") -> None:  # fmt: skip
        import queue
        import threading

        self.path = Path(path)
        self.fps = float(fps)
        self.width, self.height = size
        self._even = (self.width + self.width % 2, self.height + self.height % 2)
        self.frames_written = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = _new_file(self.path.parent, f".{self.path.stem}.", ".mp4")
        self._audio_tmp: Optional[Path] = None
        cmd = [ffmpeg_exe(), "-y", "-v", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p",
               "-s", f"{self._even[0]}x{self._even[1]}", "-r", f"{self.fps}", "-i", "-"]  # fmt: skip
        if audio is not None:
            # The original recording keeps its quality; in-memory audio goes through a temp wav.
            source = audio.source
            if source is None or not Path(source).is_file():
                fd, atmp = tempfile.mkstemp(suffix=".wav", prefix=".audio.", dir=self.path.parent)
                os.close(fd)
                self._audio_tmp = source = Path(atmp)
                audio.write_wav(self._audio_tmp)
            # AAC's fast coder: a third of the default coder's CPU.
            cmd += ["-i", str(source), "-map", "0:v:0", "-map", "1:a:0", "-t", f"{audio.duration:.6f}",
                    "-c:a", "aac", "-aac_coder", "fast", "-b:a", "160k"]  # fmt: skip
        cmd += ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
                "-profile:v", "high", "-movflags", "+faststart", "-f", "mp4", str(self._tmp)]  # fmt: skip
        nice = (lambda: os.nice(ENCODER_NICENESS)) if os.name == "posix" else None
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=nice)
        self._queue: queue.Queue = queue.Queue(maxsize=self.QUEUE)
        self._broken = False
        self._feeder = threading.Thread(target=self._feed, name="video-encoder-feed", daemon=True)
        self._feeder.start()

    def _feed(self) -> None:
        """Feeder thread: RGB -> yuv420p -> ffmpeg's stdin, until the end marker (None)."""
        import cv2

        while True:
            frame = self._queue.get()
            if frame is None:
                return
            if self._broken:
                continue  # the encoder is gone: keep draining so the caller never blocks
            if frame.shape[:2] != self._even[::-1]:
                frame = np.pad(frame, ((0, self._even[1] - frame.shape[0]), (0, self._even[0] - frame.shape[1]), (0, 0)),
                               mode="edge")  # fmt: skip
            try:
                self._proc.stdin.write(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())  # type: ignore[union-attr]
            except (BrokenPipeError, OSError, ValueError):
                self._broken = True

    def write(self, frame: np.ndarray) -> None:
        if frame.shape[:2] != (self.height, self.width) or frame.dtype != np.uint8:
            raise ValueError(f"frame {frame.shape} {frame.dtype} != ({self.height}, {self.width}, 3) uint8")
        if self._broken:
            self.abort()
            raise VideoError(f"the video encoder stopped while writing '{self.path.name}'.")
        self._queue.put(np.array(frame[..., :3], copy=True, order="C"))  # the caller may reuse its buffer
        self.frames_written += 1

    def close(self) -> Path:
        """Finish encoding and move the file into place."""
        assert self._proc.stdin is not None
        self._queue.put(None)
        self._feeder.join()
        try:
            self._proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
        code = self._proc.wait()
        self._cleanup_audio()
        if code != 0 or self.frames_written == 0 or self._broken:
            self._tmp.unlink(missing_ok=True)
            raise VideoError(f"encoding '{self.path.name}' failed: {err.strip()[-300:] or 'no frames'}")
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Stop encoding and remove everything written so far."""
        self._broken = True
        if self._proc.poll() is None:
            self._proc.kill()
        if self._feeder.is_alive():
            self._queue.put(None)
            self._feeder.join()
        self._proc.wait()
        self._tmp.unlink(missing_ok=True)
        self._cleanup_audio()

    def _cleanup_audio(self) -> None:
        if self._audio_tmp is not None:
            self._audio_tmp.unlink(missing_ok=True)

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
