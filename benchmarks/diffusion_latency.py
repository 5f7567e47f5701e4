"""Latency and memory of the diffusion engine per generated frame, with random weights.

No pretrained weights are needed: the architecture is built at the chosen size ("tiny" = the test
configuration, "sd15" = Stable Diffusion 1.5 + PortraitTalk adapters) with random parameters, which
cost exactly as much compute as trained ones. Prints one JSON object.

    python benchmarks/diffusion_latency.py --config tiny --device cpu --steps 4
    python benchmarks/diffusion_latency.py --config sd15 --device cuda --steps 25
    python benchmarks/diffusion_latency.py --config sd15 --device cpu --steps 1 --size 256 --frames 1
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build_engine(config: str, device: str, dtype: str, size: int | None):
    import torch
    from diffusers import PNDMScheduler, UNet2DConditionModel
    from transformers import CLIPTokenizer

    from portraittalk.config import RuntimeConfig
    from portraittalk.engines.diffusion.engine import DiffusionEngine
    from portraittalk.engines.diffusion.tiny import (SCHEDULER, UNET, build_adapters, build_text_encoder,
                                                     build_vae, write_tokenizer)  # fmt: skip
    from portraittalk.engines.diffusion.weights import DiffusionModels

    torch.manual_seed(0)
    unet_cfg = dict(UNET[config], **({"sample_size": size // 8} if size else {}))
    unet = UNet2DConditionModel(**unet_cfg)
    identitynet, animatenet = build_adapters(unet, config)
    with tempfile.TemporaryDirectory() as tmp:  # a byte-level tokenizer: token ids are all the UNet sees
        write_tokenizer(Path(tmp))
        tokenizer = CLIPTokenizer.from_pretrained(tmp, local_files_only=True)
    models = DiffusionModels(tokenizer, build_text_encoder(config), build_vae(config), identitynet, animatenet,
                             dict(PNDMScheduler(**SCHEDULER).config)).eval()  # fmt: skip
    adapter = lambda n: not n.startswith("unet.") or ".processor." in n  # noqa: E731
    counts = {"unet": sum(p.numel() for n, p in identitynet.named_parameters() if not adapter(n)),
              "identity_adapters": sum(p.numel() for n, p in identitynet.named_parameters() if adapter(n)),
        "animatenet": animatenet.num_parameters(), "vae": models.vae.num_parameters(),
        "text_encoder": models.text_encoder.num_parameters()}  # fmt: skip
    return DiffusionEngine(models, RuntimeConfig(device=device, dtype=dtype)), counts


def reference_and_track(resolution: int, frames: int):
    from portraittalk.face.reference import analyse_reference
    from portraittalk.media.image import load_image
    from portraittalk.motion.track import MotionTrack

    ref = analyse_reference(load_image(ROOT / "assets" / "portraits" / "astronaut.png"), "astronaut", resolution)
    lm = np.repeat(ref.landmarks[None], frames, axis=0)
    z = np.zeros(frames, np.float32)
    return ref, MotionTrack(lm, 25.0, (resolution, resolution), ref.landmarks, z, z, np.zeros((frames, 4)), z)


def device_name(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return f"{line.split(':', 1)[1].strip()} ({torch.get_num_threads()} threads)"
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=("tiny", "sd15"), default="tiny")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--frames", type=int, default=2, help="timed frames (after one warm-up frame)")
    parser.add_argument("--size", type=int, help="frame side in pixels (default: the model's, 512 for sd15)")
    parser.add_argument("--dtype", default="auto", choices=("auto", "fp32", "fp16", "bf16"))
    parser.add_argument("--scheduler", default="dpm++", choices=("dpm++", "ddim"))
    args = parser.parse_args()

    import torch

    from portraittalk.config import GenerateRequest

    started = time.perf_counter()
    engine, counts = build_engine(args.config, args.device, args.dtype, args.size)
    build_s = time.perf_counter() - started
    ref, track = reference_and_track(engine.resolution, args.frames + 1)
    request = GenerateRequest(prompt="a portrait photo").updated(steps=args.steps, scheduler=args.scheduler)
    cuda = args.device.startswith("cuda")
    frames = engine.render([ref], track, request)
    next(frames)  # warm-up: kernels, allocator, first person-mask model load
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in frames:
        pass
    if cuda:
        torch.cuda.synchronize()
    per_frame = (time.perf_counter() - t0) / args.frames
    peak = torch.cuda.max_memory_allocated() if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({
        "config": args.config, "device": args.device, "device_name": device_name(args.device),
        "dtype": str(engine.dtype).replace("torch.", ""), "resolution": engine.resolution, "steps": args.steps,
        "scheduler": args.scheduler, "guidance_scale": request.sampling.guidance_scale, "timed_frames": args.frames,
        "seconds_per_frame": round(per_frame, 4), "seconds_per_step": round(per_frame / args.steps, 4),
        "peak_memory_gb": round(peak / 2**30, 3),
        "peak_memory_kind": "torch.cuda.max_memory_allocated" if cuda else "process max RSS",
        "build_seconds": round(build_s, 1), "parameters_millions": {k: round(v / 1e6, 2) for k, v in counts.items()},
        "torch": torch.__version__,
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
