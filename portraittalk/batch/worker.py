"""What runs in a worker process (a local pool process or a Ray worker): one generator per
process, built on its first job and reused, so models load once per worker."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from collections import OrderedDict
from typing import Any, Hashable, Optional, Protocol, Sequence

from ..config import GenerateRequest, Limits
from ..errors import PortraitTalkError
from ..face.reference import Reference
from ..weights import Weights
from .jobs import Job
from .status import DONE, FAILED

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted"
KEPT_REFERENCES = 16  # portraits a worker keeps with their lazily computed masks and embeddings


class Generator(Protocol):
    """What a batch needs of a generator (:class:`~portraittalk.pipeline.PortraitTalk`; this room sits
    below the pipeline, which hands itself down)."""

    weights: Weights
    defaults: GenerateRequest
    limits: Limits

    def __init__(self, weights: Weights, defaults: GenerateRequest, limits: Limits) -> None: ...

    def analyse(self, references: Sequence[Path], size: int, margin: float, face_index: int = 0
                ) -> list[Reference]: ...  # fmt: skip

    def generate(self, references: Sequence[Reference], audio: Path, **settings: Any) -> Any: ...


@dataclass(frozen=True)
class Setup:
    """What a worker needs to build the same generator as the caller's (its class is handed down,
    so this room never imports the pipeline above it)."""

    generator: type[Generator]  # the caller's class: PortraitTalk, or a subclass
    weights: Weights
    defaults: GenerateRequest
    limits: Limits


@dataclass(frozen=True)
class Task:
    job: Job
    output: Path
    setup: Setup
    reference_keys: tuple[Hashable, ...]  # one per reference, see runner.ReferenceCache


@dataclass(frozen=True)
class Outcome:
    status: str  # DONE, FAILED or INTERRUPTED (stopped by Ctrl-C: neither done nor failed)
    reason: str = ""
    seconds: float = 0.0


_generator: Optional[tuple[Setup, Generator]] = None
_references: "OrderedDict[Hashable, Reference]" = OrderedDict()  # the latest portraits' copies, most recent last


def render(task: Task, *references: Reference) -> Outcome:
    """Generate one job's video into ``task.output`` (written atomically by the VideoWriter)."""
    global _generator
    start = time.perf_counter()
    try:
        if _generator is None or _generator[0] != task.setup:
            _generator = (task.setup, task.setup.generator(task.setup.weights, task.setup.defaults, task.setup.limits))
        pt = _generator[1]
        refs = [_kept(key, ref) for key, ref in zip(task.reference_keys, references)]
        pt.generate(refs, task.job.audio, output=task.output, **task.job.settings)
        return Outcome(DONE, "", time.perf_counter() - start)
    except PortraitTalkError as exc:
        return Outcome(FAILED, str(exc), time.perf_counter() - start)
    except KeyboardInterrupt:
        return Outcome(INTERRUPTED, "interrupted", time.perf_counter() - start)
    except Exception as exc:  # a bug: this job fails with its trace in the log, the batch goes on
        log.exception("job %s", task.job.id)
        return Outcome(FAILED, f"unexpected error ({type(exc).__name__}: {exc})", time.perf_counter() - start)


def _kept(key: Hashable, reference: Reference) -> Reference:
    """This process's copy of a portrait: an earlier job's, with what it computed (mask, identity)."""
    kept = _references.setdefault(key, reference)
    _references.move_to_end(key)
    while len(_references) > KEPT_REFERENCES:
        _references.popitem(last=False)
    return kept
