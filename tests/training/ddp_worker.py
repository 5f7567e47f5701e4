"""One optimiser step's gradients of a stage, in this process or under torchrun:

    ACCELERATE_USE_CPU=1 python -m torch.distributed.run --standalone --nproc_per_node 2 \
        tests/training/ddp_worker.py STAGE DATA WEIGHTS OUT

The global batch is 4 whatever the number of processes (2 per process, accumulated as needed).
"""
from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import torch


def step_gradients(stage: str, data: Path, weights: Path, out: Path, micro_batch: int = 2):
    """(gradients by parameter name after one accumulated step, the trainer)."""
    from portraittalk.training.config import preset
    from portraittalk.training.trainer import Trainer
    from portraittalk.weights import Weights

    config = preset("tiny")
    config = replace(config, diffusion=replace(config.diffusion, batch_size=4, micro_batch=micro_batch),
                     motion=replace(config.motion, batch_size=4, micro_batch=micro_batch))
    trainer = Trainer(stage, data, Weights(weights), out, config, max_steps=1, progress=False)
    stream = trainer.batches()
    batches = [next(stream) for _ in range(trainer.accumulation)]
    trainer.accumulate(batches)
    model = trainer.accelerator.unwrap_model(trainer.model)
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.requires_grad and p.grad is not None}
    return grads, trainer


def main() -> None:
    from safetensors.torch import save_file

    torch.set_num_threads(1)
    data, weights, out = (Path(a) for a in sys.argv[2:5])
    grads, trainer = step_gradients(sys.argv[1], data, weights, out)
    acc = trainer.accelerator
    if acc.is_main_process:
        save_file(grads, str(out / "gradients.safetensors"))
        backend = torch.distributed.get_backend() if torch.distributed.is_initialized() else "none"
        (out / "world.json").write_text(json.dumps({"processes": acc.num_processes,
                                                    "accumulation": trainer.accumulation, "backend": backend}))
    acc.wait_for_everyone()


if __name__ == "__main__":
    main()
