"""The ffmpeg binary that imageio-ffmpeg ships (no system ffmpeg needed)."""
from __future__ import annotations

import functools


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()
