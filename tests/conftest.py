"""Session fixtures shared by the top-level tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from shared_inputs import PORTRAIT, SPEECH, run_cli


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def talking_clip(media_dir) -> Path:
    """A real generated talking video (warp engine) with its audio: used by later-stage tests."""
    out = media_dir / "talking.mp4"
    result = run_cli("generate", "--ref", str(PORTRAIT), "--audio", str(SPEECH), "--out", str(out),
                     "--size", "256", "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out
