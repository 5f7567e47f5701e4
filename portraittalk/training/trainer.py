"""``portraittalk train``: one stage on accelerate (one GPU, several, several machines; CPU for tests).

The loop is the diffusers training scripts' one: a prepared model, optimiser, data loader and
learning-rate schedule; gradient accumulation up to the configured global batch; gradient clipping;
``save_state`` checkpoints whose model part is only the trainable tensors (a save hook writes them,
a load hook restores them); the trained component exported into the run folder at every checkpoint.
"""
from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

import torch
from torch import nn

from ..errors import InputError
from ..weights import Weights
from .clips import TalkingHeadData, write_json
from .config import DIFFUSION_STAGES, STAGES, TrainConfig
from .curves import CurveLog, tensorboard_available
from .run import RunFolder

log = logging.getLogger(__name__)
TRAINABLE_FILE = "trainable.safetensors"
STATE_FILE = "training_state.json"


@dataclass
class TrainResult:
    run: Path
    stage: str
    step: int
    total_steps: int
    last_loss: float
    seconds: float
    main_process: bool = True  # False on the other processes of a distributed run


def build_task(stage: str, config: TrainConfig, weights: Weights, data: TalkingHeadData):
    """The stage's task (models loaded from ``weights``)."""
    if stage in DIFFUSION_STAGES:
        from .diffusion_task import DiffusionTask

        return DiffusionTask.load(stage, config, weights, data)
    if stage == "audio2motion":
        from .motion_task import MotionTask

        return MotionTask.load(config, weights, data)
    raise InputError(f"--stage must be one of {', '.join(STAGES)} (got {stage!r}).")


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The tensors the optimiser updates, by name (what a checkpoint stores of the model)."""
    return {n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if p.requires_grad}


def load_trainable_state(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    expected = {n for n, p in model.named_parameters() if p.requires_grad}
    if set(state) != expected:
        diff = sorted(set(state) ^ expected)
        raise InputError(f"the checkpoint does not match this stage's trainable parameters (e.g. {diff[0]}); "
                         "resume with the same --stage, --weights and configuration.")  # fmt: skip
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value)


class Trainer:
    """Sets up accelerate and the task, and runs optimiser steps (``fit``) or single ones (tests)."""

    def __init__(self, stage: str, data: Union[str, Path], weights: Weights, output: Union[str, Path],
                 config: TrainConfig, max_steps: Optional[int] = None, resume: bool = False,
                 explicit_config: bool = False, progress: bool = True) -> None:  # fmt: skip
        from accelerate import Accelerator, DataLoaderConfiguration
        from accelerate.utils import ProjectConfiguration, set_seed

        if stage not in STAGES:
            raise InputError(f"--stage must be one of {', '.join(STAGES)} (got {stage!r}).")
        if max_steps is not None and max_steps < 1:
            raise InputError("--max-steps must be at least 1.")
        self.data = TalkingHeadData.open(Path(data))
        if stage in DIFFUSION_STAGES:
            weights.require("sd15")  # before anything is written
        self.run = RunFolder.plan(Path(output), stage, weights, self.data.root, config, resume, explicit_config)
        self.config = config = self.run.config if resume else config
        self.stage = stage
        self.progress = progress
        section = config.motion if stage == "audio2motion" else config.diffusion
        self.section = section
        cuda = torch.cuda.is_available() and not _cpu_forced()
        precision = getattr(section, "mixed_precision", "no") if cuda else "no"
        trackers = ["tensorboard"] if tensorboard_available() else None
        self.accelerator = Accelerator(  # accumulation is ours (``accumulate``): accelerate sees 1
            mixed_precision=precision, log_with=trackers,
            project_config=ProjectConfiguration(project_dir=str(self.run.root), logging_dir=str(self.run.logs)),
            dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=config.seed))  # fmt: skip
        self.accumulation = accumulation = self._accumulation(section.batch_size, section.micro_batch,
                                                              self.accelerator.num_processes)  # fmt: skip
        if self.accelerator.is_main_process:
            self.run.create(weights, resume)
        self.accelerator.wait_for_everyone()
        set_seed(config.seed)
        self.task = build_task(stage, config, weights, self.data)
        weight_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision, torch.float32)
        self.task.place(self.accelerator.device, weight_dtype)
        self.dataset = self.task.dataset(self.data)
        loader = torch.utils.data.DataLoader(self.dataset, batch_size=section.micro_batch, shuffle=True,
                                             num_workers=config.num_workers, drop_last=False,
                                             generator=torch.Generator().manual_seed(config.seed))  # fmt: skip
        params = [p for p in self.task.model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=section.lr, weight_decay=section.weight_decay)
        self.model, self.optimizer, self.loader = self.accelerator.prepare(self.task.model, optimizer, loader)
        self.steps_per_epoch = max(1, math.ceil(len(self.loader) / accumulation))
        self.total_steps = max_steps or self.task.epochs * self.steps_per_epoch
        warmup = section.warmup_steps * self.accelerator.num_processes  # a prepared scheduler steps once per process
        self.lr_scheduler = self.accelerator.prepare(torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: min(1.0, s / warmup) if warmup else 1.0))  # constant after a linear warm-up
        self.accelerator.register_save_state_pre_hook(self._save_hook)
        self.accelerator.register_load_state_pre_hook(self._load_hook)
        self.step = 0
        if resume:
            self._resume()
        if self.accelerator.is_main_process:
            self.curves = CurveLog(self.run.logs, self.step)
            if trackers:
                self.accelerator.init_trackers(f"portraittalk-{stage}", config=_flat(config.to_dict()))

    # -- set-up helpers ------------------------------------------------------------------------
    @staticmethod
    def _accumulation(batch_size: int, micro_batch: int, processes: int) -> int:
        per_step = micro_batch * processes
        if batch_size % per_step:
            raise InputError(f"the batch of {batch_size} is not a multiple of micro_batch x processes = "
                             f"{micro_batch} x {processes}; change micro_batch or batch_size in the config.")  # fmt: skip
        return batch_size // per_step

    def _save_hook(self, models: list, weights: list, output_dir: str) -> None:
        from safetensors.torch import save_file

        for model in models:
            if self.accelerator.is_main_process:
                save_file(trainable_state(self.accelerator.unwrap_model(model)), str(Path(output_dir) / TRAINABLE_FILE))
            if weights:
                weights.pop()  # accelerate saves nothing else of the model: frozen parts come from the base

    def _load_hook(self, models: list, input_dir: str) -> None:
        from safetensors.torch import load_file

        state = load_file(str(Path(input_dir) / TRAINABLE_FILE))
        while models:
            load_trainable_state(self.accelerator.unwrap_model(models.pop()), state)

    def _resume(self) -> None:
        latest = self.run.latest_checkpoint()
        if latest is None:
            raise InputError(f"{self.run.root} has no checkpoint to resume from yet; start it again without --resume.")
        step, folder = latest
        self.accelerator.load_state(str(folder))
        self.step = int(json.loads((folder / STATE_FILE).read_text())["step"])
        log.info("resumed %s from step %d", self.run.root, self.step)

    # -- training ------------------------------------------------------------------------------
    def batches(self):
        """Micro-batches from the current step on, epoch after epoch (skipping what a resumed run did)."""
        epoch, done = divmod(self.step, self.steps_per_epoch)
        while True:
            self.dataset.set_epoch(epoch)
            self.loader.set_epoch(epoch)
            skip = done * self.accumulation
            loader = self.accelerator.skip_first_batches(self.loader, skip) if skip else self.loader
            yield from loader
            epoch, done = epoch + 1, 0

    def accumulate(self, micro_batches: list[dict]) -> tuple[float, dict[str, float]]:
        """Forward and backward over one step's micro-batches: ``.grad`` holds the gradient of their
        mean loss, averaged across processes (gradients synchronise on the last one only)."""
        from contextlib import nullcontext

        total, parts, n = 0.0, {}, max(1, len(micro_batches))
        for i, batch in enumerate(micro_batches):
            with self.accelerator.no_sync(self.model) if i + 1 < n else nullcontext():
                loss, terms = self.task.loss(self.model, batch, self.step)
                self.accelerator.backward(loss / n)
            total += float(loss.detach())
            for k, v in terms.items():
                parts[k] = parts.get(k, 0.0) + v
        n = max(1, len(micro_batches))
        return total / n, {k: v / n for k, v in parts.items()}

    def optimiser_step(self) -> None:
        if self.section.max_grad_norm:
            self.accelerator.clip_grad_norm_(self.model.parameters(), self.section.max_grad_norm)
        self.optimizer.step()
        self.lr_scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1

    def fit(self) -> TrainResult:
        from tqdm import tqdm

        acc = self.accelerator
        started = time.perf_counter()
        bar = tqdm(total=self.total_steps, initial=self.step, unit="step", desc=f"train {self.stage}",
                   disable=not (self.progress and acc.is_main_process), dynamic_ncols=True)  # fmt: skip
        last = float("nan")
        pending: list[dict] = []
        batches = self.batches()
        while self.step < self.total_steps:
            pending.append(next(batches))
            if len(pending) < self.accumulation and not self._epoch_end(pending):
                continue
            loss, terms = self.accumulate(pending)
            pending = []
            self.optimiser_step()
            last = float(acc.reduce(torch.tensor(loss, device=acc.device), reduction="mean"))
            lr = self.lr_scheduler.get_last_lr()[0]
            bar.update(1)
            bar.set_postfix(loss=f"{last:.4g}", lr=f"{lr:.2g}")
            if acc.is_main_process and (self.step % self.config.log_every == 0 or self.step == self.total_steps):
                values = {"loss": last, **terms, "lr": lr}
                self.curves.log(self.step, values)
                acc.log(values, step=self.step)
            if self.step % self.config.checkpoint_every == 0 or self.step == self.total_steps:
                self.checkpoint()
        bar.close()
        acc.end_training()
        return TrainResult(self.run.root, self.stage, self.step, self.total_steps, last, time.perf_counter() - started,
                           acc.is_main_process)  # fmt: skip

    def _epoch_end(self, pending: list[dict]) -> bool:
        """True when ``pending`` ends an epoch (a short last accumulation, as accelerate's sync rule)."""
        consumed = (self.step % self.steps_per_epoch) * self.accumulation + len(pending)
        return consumed >= len(self.loader)

    def checkpoint(self) -> Path:
        """Save the training state and export the trained component into the run folder."""
        acc = self.accelerator
        folder = self.run.checkpoints / f"step-{self.step:07d}"
        acc.wait_for_everyone()
        acc.save_state(str(folder))
        if acc.is_main_process:
            write_json(folder / STATE_FILE, {"step": self.step, "total_steps": self.total_steps})
            self.run.export(self.task.export)
            self.run.prune_checkpoints(self.config.checkpoints_kept)
            self.run.save_info(step=self.step, total_steps=self.total_steps, **self.task.describe(),
                               processes=acc.num_processes, gradient_accumulation=self.accumulation)  # fmt: skip
            self.curves.plot(f"{self.stage} ({self.run.root.name})")
        acc.wait_for_everyone()
        return folder


def _cpu_forced() -> bool:
    import os

    return os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes")


def _flat(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def train(stage: str, data: Union[str, Path], weights: Weights, output: Union[str, Path],
          config: TrainConfig, max_steps: Optional[int] = None, resume: bool = False,
          explicit_config: bool = False, progress: bool = True) -> TrainResult:  # fmt: skip
    """Run one stage to its end (``max_steps`` or the configured epochs); see :class:`Trainer`. The
    mouth stage fits the shipped mouth model from videos (``data``: a folder of clips; :mod:`.mouth`), the
    causal-mouth stage the causal one live streaming runs (:mod:`.causal_mouth`)."""
    if stage == "mouth":
        from .mouth import train_mouth

        return train_mouth(data, output, max_steps, progress)
    if stage == "causal-mouth":
        from .causal_mouth import train_causal_mouth

        return train_causal_mouth(data, output, max_steps, progress)
    return Trainer(stage, data, weights, output, config, max_steps, resume, explicit_config, progress).fit()
