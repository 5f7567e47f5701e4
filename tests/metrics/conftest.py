"""Fixtures of the metrics tests: real-face clips made once per session."""
from __future__ import annotations

from pathlib import Path

import pytest
from metrics_clips import make_clip, write_video


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> dict[str, Path]:
    """The clips most tests share (made once per session)."""
    from portraittalk.media import read_video

    d = tmp_path_factory.mktemp("clips")
    out = {"gt": make_clip(d / "gt.mp4"),
           "delayed": make_clip(d / "delayed.mp4", delay=3),
           "fps30_small": make_clip(d / "fps30_small.mp4", fps=30.0, size=320)}  # fmt: skip
    # the ground truth decoded and encoded again (CRF 18: visually lossless, not bit-exact)
    out["reencoded"] = write_video(d / "reencoded.mp4", [f for _, f in read_video(out["gt"])], 25.0, crf=18)
    return out
