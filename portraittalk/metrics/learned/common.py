"""What the learned metrics share: the result shape, quiet loading, transformers' output quirks."""
from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def unavailable(reason: str) -> dict:
    return {"value": None, "available": False, "reason": reason}


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """Loading a local folder needs no progress bars or load reports on the user's terminal."""
    from transformers.utils import logging

    verbosity, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        if bars:
            logging.enable_progress_bar()


def as_tensor(x):
    """transformers 5 may return a model output (its ``pooler_output``) where 4.x returned the tensor."""
    if hasattr(x, "shape"):
        return x
    pooled = getattr(x, "pooler_output", None)
    return pooled if pooled is not None else x[0]


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
