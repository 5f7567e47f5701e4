"""Latency and memory of the diffusion engine per generated frame, with random weights.

No pretrained weights are needed: the architecture is built at the chosen size ("tiny" = the test
configuration, "sd15" = Stable Diffusion 1.5 + adapters) with random parameters, which cost exactly
as much compute as trained ones. ``--adapters public`` shapes them as the imported public
checkpoints are (IP-Adapter-FaceID-Portrait: 16 tokens per face, 1024-wide projection; a ControlNet
whose Eq. (2) attention is untrained, hence skipped), ``portraittalk`` as PortraitTalk's own. The
full engine runs: warp frame + VAE encode (``--denoise-strength`` < 1), CFG sampling, VAE decode,
head contour. Prints one JSON object.

    python benchmarks/diffusion_latency.py --config sd15 --device cuda            # 512², 25 steps, CFG 5, bf16
    python benchmarks/diffusion_latency.py --config sd15 --device cuda --cpu-offload
    python benchmarks/diffusion_latency.py --config tiny --device cpu --steps 4
    python benchmarks/diffusion_latency.py --config sd15 --device cpu --steps 2 --size 256 --frames 1
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def public_shapes(identitynet, animatenet) -> None:
    """Reshape fresh adapters as the imported public checkpoints are (see the module docstring)."""
    import torch

    from portraittalk.engines.diffusion.models.face_projection import FaceProjection

    width = identitynet.face_projection.cross_attention_dim
    identitynet.face_projection = FaceProjection((512,), width, num_tokens=16, hidden_dim=1024)
    with torch.no_grad():
        for name, param in animatenet.named_parameters():
            if name.rsplit(".", 1)[-1].startswith("w_"):
                param.zero_()


def build_engine(config: str, device: str, dtype: str, size: int | None, adapters: str, offload: bool):
    import torch
    from diffusers import PNDMScheduler, UNet2DConditionModel
    from transformers import CLIPTokenizer

    from portraittalk.config import RuntimeConfig
    from portraittalk.engines.diffusion.engine import DiffusionEngine
    from portraittalk.engines.diffusion.tiny import (SCHEDULER, UNET, build_adapters, build_text_encoder,
                                                     build_vae, write_tokenizer)  # fmt: skip
    from portraittalk.engines.diffusion.checkpoints.load import DiffusionModels

    torch.manual_seed(0)
    unet_cfg = dict(UNET[config], **({"sample_size": size // 8} if size else {}))
    unet = UNet2DConditionModel(**unet_cfg)
    identitynet, animatenet = build_adapters(unet, config)
    if adapters == "public":
        public_shapes(identitynet, animatenet)
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
    return DiffusionEngine(models, RuntimeConfig(device=device, dtype=dtype, cpu_offload=offload)), counts


def reference_and_track(resolution: int, frames: int, identity_dim: int):
    """The astronaut portrait and a speech track for it (real speech, the offline motion model); its
    identity embedding is a random unit vector of the width the adapters take (no ArcFace needed)."""
    from portraittalk.config import MotionConfig
    from portraittalk.face.identity import IdentityEmbedding
    from portraittalk.face.reference import analyse_reference
    from portraittalk.media import load_audio
    from portraittalk.media.image import load_image
    from portraittalk.motion.offline import audio_to_motion

    ref = analyse_reference(load_image(ROOT / "assets" / "portraits" / "astronaut.png"), "astronaut", resolution)
    vector = np.random.default_rng(0).normal(size=identity_dim).astype(np.float32)
    ref._cache["identity:auto"] = IdentityEmbedding(vector / np.linalg.norm(vector), "insightface")
    audio = load_audio(ROOT / "assets" / "speech" / "en_mbp.wav")
    track = audio_to_motion(audio, ref.landmarks, (resolution, resolution), 25.0, MotionConfig(), 0)
    per_frame = {f: getattr(track, f)[:frames] for f in ("expression", "mouth_open", "blink", "head", "energy")}
    return ref, replace(track, **per_frame)


def device_name(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return f"{line.split(':', 1)[1].strip()} ({torch.get_num_threads()} threads)"
    return platform.processor() or platform.machine()


def main() -> None:
    from portraittalk.config import SamplingConfig

    defaults = SamplingConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=("tiny", "sd15"), default="tiny")
    parser.add_argument("--adapters", choices=("public", "portraittalk"), default="public",
                        help="adapters shaped as the imported public checkpoints, or as PortraitTalk's own")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--guidance", type=float, default=defaults.guidance_scale, help="CFG scale (1 = no CFG)")
    parser.add_argument("--denoise-strength", type=float, default=defaults.denoise_strength,
                        help="1 = no warp frame (every frame from noise)")
    parser.add_argument("--frames", type=int, default=2, help="timed frames (after one warm-up frame)")
    parser.add_argument("--size", type=int, help="frame side in pixels (default: the model's, 512 for sd15)")
    parser.add_argument("--dtype", default="auto", choices=("auto", "fp32", "fp16", "bf16"))
    parser.add_argument("--scheduler", default=defaults.scheduler, choices=("dpm++", "ddim"))
    parser.add_argument("--cpu-offload", action="store_true", help="diffusers' model CPU offload (CUDA only)")
    args = parser.parse_args()

    import torch

    from portraittalk.config import GenerateRequest

    started = time.perf_counter()
    engine, counts = build_engine(args.config, args.device, args.dtype, args.size, args.adapters, args.cpu_offload)
    build_s = time.perf_counter() - started
    ref, track = reference_and_track(engine.resolution, args.frames + 1,
                                     engine.models.identitynet.face_projection.embed_dims[0])  # fmt: skip
    request = GenerateRequest(prompt="a portrait photo").updated(
        steps=args.steps, scheduler=args.scheduler, guidance_scale=args.guidance, denoise_strength=args.denoise_strength)
    cuda = args.device.startswith("cuda")
    steps_run: list[int] = []
    frames = engine.render([ref], track, request, lambda stage, done, total: steps_run.append(done))
    next(frames)  # warm-up: kernels, allocator, first person-mask model load
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    first_timed = len(steps_run)
    t0 = time.perf_counter()
    for _ in frames:
        pass
    if cuda:
        torch.cuda.synchronize()
    per_frame = (time.perf_counter() - t0) / args.frames
    model_steps = (len(steps_run) - first_timed) / args.frames  # denoiser calls a frame (locked steps skipped)
    peak = torch.cuda.max_memory_allocated() if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({
        "config": args.config, "adapters": args.adapters, "device": args.device,
        "device_name": device_name(args.device), "dtype": str(engine.dtype).replace("torch.", ""),
        "cpu_offload": args.cpu_offload, "resolution": engine.resolution, "steps": args.steps,
        "model_steps_per_frame": model_steps, "denoise_strength": args.denoise_strength,
        "scheduler": args.scheduler, "guidance_scale": args.guidance, "timed_frames": args.frames,
        "seconds_per_frame": round(per_frame, 4), "seconds_per_model_step": round(per_frame / max(model_steps, 1), 4),
        "peak_memory_gb": round(peak / 2**30, 3),
        "peak_memory_kind": "torch.cuda.max_memory_allocated" if cuda else "process max RSS",
        "build_seconds": round(build_s, 1), "parameters_millions": {k: round(v / 1e6, 2) for k, v in counts.items()},
        "torch": torch.__version__,
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
