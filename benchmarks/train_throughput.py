"""Training throughput and peak memory per stage, with random weights of the chosen size.

No pretrained weights or data are needed: the architecture is built at the chosen size ("sd15" =
Stable Diffusion 1.5 + PortraitTalk adapters, "tiny" = the test configuration) with random
parameters, which cost exactly as much compute as trained ones, and each stage's real loss
(:mod:`portraittalk.training`) runs on a synthetic micro-batch through accelerate, as
``portraittalk train`` does (bf16 autocast and gradient checkpointing on GPUs by default). Prints
one JSON object.

    python benchmarks/train_throughput.py --config sd15 --device cuda                 # full size, bf16
    python benchmarks/train_throughput.py --config tiny --device cpu --steps 5
    python benchmarks/train_throughput.py --config sd15 --device cuda --stages joint --micro-batch 2
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

STAGES = ("identity", "animate", "joint", "audio2motion")


def build_models(config: str, resolution: int):
    import torch
    from diffusers import PNDMScheduler, UNet2DConditionModel
    from transformers import CLIPTokenizer

    from portraittalk.engines.diffusion.tiny import (SCHEDULER, UNET, build_adapters, build_text_encoder,
                                                     build_vae, write_tokenizer)  # fmt: skip
    from portraittalk.engines.diffusion.checkpoints.load import DiffusionModels

    torch.manual_seed(0)
    unet = UNet2DConditionModel(**dict(UNET[config], sample_size=resolution // 8))
    identitynet, animatenet = build_adapters(unet, config)
    with tempfile.TemporaryDirectory() as tmp:  # a byte-level tokenizer: token ids are all the models see
        write_tokenizer(Path(tmp))
        tokenizer = CLIPTokenizer.from_pretrained(tmp, local_files_only=True)
    return DiffusionModels(tokenizer, build_text_encoder(config), build_vae(config), identitynet, animatenet,
                           dict(PNDMScheduler(**SCHEDULER).config)).eval()  # fmt: skip


def diffusion_batch(micro: int, resolution: int):
    import torch

    g = torch.Generator().manual_seed(0)
    image = lambda c: torch.rand(micro, c, resolution, resolution, generator=g)  # noqa: E731
    return {"image": image(3) * 2 - 1, "masked": image(3) * 2 - 1, "previous": image(3) * 2 - 1,
            "structure": image(3), "contour": image(1), "face": torch.randn(micro, 512, generator=g),
            "prompt": ["a portrait photo of a person talking"] * micro,
            "seed": torch.arange(micro, dtype=torch.int64)}  # fmt: skip


def motion_batch(micro: int, window: int, dims: int):
    import torch

    g = torch.Generator().manual_seed(0)
    return {"features": torch.randn(micro, 2 * window, dims, generator=g),
            "motion": 0.01 * torch.randn(micro, window, 478, 2, generator=g),
            "seed": torch.arange(micro, dtype=torch.int64)}  # fmt: skip


def peak_memory(cuda: bool) -> float:
    import torch

    return (torch.cuda.max_memory_allocated() if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024) / 2**30


def time_stage(stage: str, args, models, train_config):
    import torch
    from accelerate import Accelerator

    from portraittalk.motion.vae import Audio2Motion, Audio2MotionConfig
    from portraittalk.training.diffusion_task import DiffusionTask
    from portraittalk.training.motion_task import MotionTask

    cuda = args.device.startswith("cuda")
    precision = args.precision if cuda else "no"
    acc = Accelerator(mixed_precision=precision, cpu=not cuda)
    weight_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision, torch.float32)
    if stage == "audio2motion":
        arch = Audio2MotionConfig.tiny() if args.config == "tiny" else Audio2MotionConfig()
        task = MotionTask(train_config, Audio2Motion(arch))
        micro = args.motion_micro_batch
        batch = motion_batch(micro, train_config.motion.window, 80)
    else:
        task = DiffusionTask(stage, train_config, models, 512)
        micro = args.micro_batch
        batch = diffusion_batch(micro, args.resolution)
    task.place(acc.device, weight_dtype)
    params = [p for p in task.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-6)
    model, optimizer = acc.prepare(task.model, optimizer)
    batch = {k: v.to(acc.device) if hasattr(v, "to") else v for k, v in batch.items()}

    def step() -> float:
        loss, _ = task.loss(model, batch, 0)
        acc.backward(loss)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    step()  # warm-up: kernels, allocator, optimiser state
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    if cuda:
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - started) / args.steps
    out = {"micro_batch": micro, "seconds_per_step": round(seconds, 4), "samples_per_second": round(micro / seconds, 3),
           "peak_memory_gb": round(peak_memory(cuda), 2), "loss": round(loss, 4),
           "trainable_parameters_millions": round(sum(p.numel() for p in params) / 1e6, 2)}  # fmt: skip
    acc.free_memory(model, optimizer)
    if cuda:
        torch.cuda.empty_cache()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=("tiny", "sd15"), default="tiny")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--resolution", type=int, help="training frame side (default: 512 for sd15, 64 for tiny)")
    parser.add_argument("--micro-batch", type=int, default=4, help="diffusion samples per forward pass")
    parser.add_argument("--motion-micro-batch", type=int, default=32, help="audio-to-motion windows per pass")
    parser.add_argument("--steps", type=int, default=5, help="timed optimiser steps per stage (after one warm-up)")
    parser.add_argument("--precision", choices=("bf16", "fp16", "no"), default="bf16", help="autocast on GPUs")
    parser.add_argument("--no-checkpointing", action="store_true", help="keep activations (more memory)")
    args = parser.parse_args()
    args.resolution = args.resolution or (512 if args.config == "sd15" else 64)

    import torch

    from diffusion_latency import device_name
    from portraittalk.training.config import preset

    cfg = preset("paper" if args.config == "sd15" else "tiny")
    cfg = replace(cfg, diffusion=replace(cfg.diffusion, resolution=args.resolution, micro_batch=args.micro_batch,
                                         gradient_checkpointing=not args.no_checkpointing,
                                         adapters=args.config))  # fmt: skip
    started = time.perf_counter()
    models = build_models(args.config, args.resolution) if set(args.stages) - {"audio2motion"} else None
    build_s = time.perf_counter() - started
    results = {stage: time_stage(stage, args, models, cfg) for stage in args.stages}
    cuda = args.device.startswith("cuda")
    print(json.dumps({
        "config": args.config, "device": args.device, "device_name": device_name(args.device),
        "precision": args.precision if cuda else "fp32", "resolution": args.resolution,
        "gradient_checkpointing": not args.no_checkpointing, "timed_steps": args.steps, "stages": results,
        "peak_memory_kind": "torch.cuda.max_memory_allocated per stage" if cuda else "process max RSS (cumulative)",
        "global_batch_in_config": cfg.diffusion.batch_size, "build_seconds": round(build_s, 1), "torch": torch.__version__,
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
