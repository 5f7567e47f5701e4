"""A training run's output folder, which is itself a weights folder.

::

    RUN/
      training.json          stage, base weights, data, configuration, steps done
      sd15 -> BASE/sd15      every other component of the base weights, linked (never copied)
      portraittalk/          the trained component (or audio2motion/), rewritten at each checkpoint
      checkpoints/step-N/    accelerate state: trainable tensors, optimiser, scheduler, RNG
      logs/curves.csv|png    loss and learning rate per logged step

So ``portraittalk generate --weights RUN`` (or ``PortraitTalk.from_pretrained(RUN)``) uses the
result with no other flag, and a later stage can start from ``--weights RUN``.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from ..errors import InputError
from ..weights import COMPONENTS, Weights, component
from .clips import write_json
from .config import TrainConfig, from_dict

RUN_FORMAT = "portraittalk-run/1"
RUN_FILE = "training.json"
_STEP = re.compile(r"^step-(\d+)$")


@dataclass
class RunFolder:
    root: Path
    info: dict

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def config(self) -> TrainConfig:
        return from_dict(self.info["config"])

    @classmethod
    def plan(cls, root: Path, stage: str, base: Weights, data: Path, config: TrainConfig, resume: bool,
             explicit_config: bool = False) -> "RunFolder":  # fmt: skip
        """Check that a run can start in ``root`` (new or empty) or be resumed there; writes nothing,
        so every process of a distributed run can check before the main one calls :meth:`create`."""
        root = Path(root).expanduser().resolve()
        existing = root / RUN_FILE
        if base.root == root:
            raise InputError("--output must be a new folder, not the base weights folder itself.")
        if resume:
            if not existing.is_file():
                raise InputError(f"{root} holds no training run to resume; drop --resume to start one.")
            info = json.loads(existing.read_text())
            if info.get("stage") != stage:
                raise InputError(f"{root} is a '{info.get('stage')}' run; resume it with --stage {info.get('stage')}.")
            if Path(info["base"]) != base.root:
                raise InputError(f"{root} was trained from --weights {info['base']}; resume it with those weights.")
            if explicit_config and from_dict(info["config"]) != config:
                raise InputError(f"{root} was started with another configuration; resume without --config "
                                 "(the saved one is used) or start a new run.")  # fmt: skip
        else:
            if existing.is_file():
                if cls(root, {}).latest_checkpoint() is not None:
                    raise InputError(f"{root} already holds a training run; pass --resume to continue it, or "
                                     "choose another --output.")  # fmt: skip
                # a run that stopped before its first checkpoint (e.g. missing weights) starts over
            elif root.exists() and any(root.iterdir()):
                raise InputError(f"--output {root} exists and is not empty; choose a new folder.")
            info = {"format": RUN_FORMAT, "stage": stage, "component": _trained_component(stage),
                    "base": str(base.root), "data": str(Path(data).resolve()), "config": config.to_dict(),
                    "step": 0, "started": time.strftime("%Y-%m-%d %H:%M:%S")}  # fmt: skip
        return cls(root, info)

    def create(self, base: Weights, resume: bool) -> None:
        """Write training.json (a new run; a resumed one keeps its own) and link the base components."""
        self.root.mkdir(parents=True, exist_ok=True)
        if not resume:
            shutil.rmtree(self.logs, ignore_errors=True)  # curves of a start that never checkpointed
            self.save_info()
        self.link_base(base)

    def save_info(self, **changes: object) -> None:
        self.info.update(changes)
        write_json(self.root / RUN_FILE, self.info)

    def link_base(self, base: Weights) -> None:
        """Symlink every base component this run does not train (already linked ones stay)."""
        trained = self.info["component"]
        for c in COMPONENTS:
            if c.name == trained or not base.present(c.name):
                continue
            link = self.root / c.folder
            if link.is_symlink() or link.exists():
                continue
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(base.path(c.name).resolve(), link, target_is_directory=True)

    def export(self, write: Callable[[Path], None]) -> Path:
        """Write the trained component through ``write(folder)`` into a temporary folder, then swap
        it in: a reader never sees a half-written component, and a linked base is never written to."""
        final = self.root / component(self.info["component"]).folder
        tmp = final.with_name(f".{final.name}.tmp")
        old = final.with_name(f".{final.name}.old")
        for leftover in (tmp, old):
            shutil.rmtree(leftover, ignore_errors=True)
        write(tmp)
        if final.is_symlink():
            final.unlink()
        elif final.exists():
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
        return final

    def latest_checkpoint(self) -> Optional[tuple[int, Path]]:
        steps = [(int(m.group(1)), p) for p in self.checkpoints.glob("step-*") if (m := _STEP.match(p.name))
                 and (p / "training_state.json").is_file()]  # fmt: skip
        return max(steps) if steps else None

    def prune_checkpoints(self, keep: int) -> None:
        steps = sorted((int(m.group(1)), p) for p in self.checkpoints.glob("step-*") if (m := _STEP.match(p.name)))
        for _, path in steps[:-keep]:
            shutil.rmtree(path, ignore_errors=True)


def _trained_component(stage: str) -> str:
    return "audio2motion" if stage == "audio2motion" else "portraittalk"
