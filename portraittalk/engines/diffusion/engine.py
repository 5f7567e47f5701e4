"""The diffusion render engine: frame-by-frame sampling with IdentityNet + AnimateNet.

Frame 0 is conditioned on the reference (its head contour, and the reference itself as the
"previous frame"); frame t on frame t-1. Every frame starts from the same seeded noise, so what
changes between frames is what the conditions change (less flicker than fresh noise per frame).
"""
from __future__ import annotations

import logging
from typing import Iterator, Optional, Sequence

import numpy as np
import torch

from ...config import Controls, GenerateRequest, RuntimeConfig, SamplingConfig
from ...errors import InputError, MissingWeightsError
from ...face.reference import Reference
from ...motion.controls import apply_controls
from ...motion.track import MotionTrack
from ...runtime import resolve_device, torch_dtype
from ...weights import Weights
from ..base import Engine, ProgressFn, no_progress
from .denoiser import Denoiser
from .status import NEEDED
from .weights import DiffusionModels, load_models

log = logging.getLogger(__name__)

DLIB_DIM = 128  # the offline face-recognition backend's embedding width


def make_scheduler(name: str, config: dict):
    """A fresh sampler built from the base model's scheduler config."""
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

    if name == "ddim":
        return DDIMScheduler.from_config(config, clip_sample=False)  # latents are not in [-1, 1]
    if name == "dpm++":
        return DPMSolverMultistepScheduler.from_config(config, algorithm_type="dpmsolver++")
    raise InputError(f"scheduler must be 'ddim' or 'dpm++' (got {name!r}).")


def identity_vector(reference: Reference, widths: Sequence[int]) -> np.ndarray:
    """The reference's face embedding from a backend the adapters accept: "auto" (insightface when
    present, else dlib) unless only the other width was trained."""
    vector = reference.identity().vector
    if vector.shape[0] in widths:
        return vector
    if DLIB_DIM in widths:
        return reference.identity("dlib").vector
    raise MissingWeightsError(f"these PortraitTalk adapters take {'/'.join(map(str, widths))}-d insightface "
                              "embeddings; run `portraittalk weights download insightface`.")  # fmt: skip


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    if (image.shape[1], image.shape[0]) == tuple(size):
        return image
    shrink = image.shape[1] > size[0]
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


class DiffusionEngine(Engine):
    name = "diffusion"

    def __init__(self, models: DiffusionModels, runtime: RuntimeConfig = RuntimeConfig(),
                 weights: Optional[Weights] = None) -> None:  # fmt: skip
        self.models = models
        self.runtime = runtime
        self.weights = weights
        self.device = torch.device(resolve_device(runtime.device))
        self.dtype = torch_dtype(runtime.dtype, str(self.device))
        self.denoiser = Denoiser(models.identitynet, models.animatenet)
        models.to("cpu" if self._offload else self.device, self.dtype)
        if self._offload:
            from accelerate import cpu_offload_with_hook

            hook = None
            for module in (models.text_encoder, self.denoiser, models.vae):
                _, hook = cpu_offload_with_hook(module, self.device, prev_module_hook=hook)
        elif runtime.cpu_offload:
            log.info("cpu_offload only applies on a GPU; ignored on %s", self.device)

    @property
    def _offload(self) -> bool:
        return self.runtime.cpu_offload and self.device.type == "cuda"

    @classmethod
    def from_pretrained(cls, weights: Weights, runtime: RuntimeConfig = RuntimeConfig()) -> "DiffusionEngine":
        """Load ``sd15`` + ``portraittalk`` from ``weights``, placed and cast as ``runtime`` says."""
        resolve_device(runtime.device)  # a missing GPU fails before minutes of loading
        sd15, adapters = (weights.require(name) for name in NEEDED)
        return cls(load_models(sd15, adapters), runtime, weights)

    @property
    def _vae_scale(self) -> int:
        return 2 ** (len(self.models.vae.config.block_out_channels) - 1)

    @property
    def resolution(self) -> int:
        """Side of the square frames the model generates (SD1.5: 64 latents x 8 = 512)."""
        return int(self.models.identitynet.unet.config.sample_size) * self._vae_scale

    @torch.no_grad()
    def _text(self, prompt: str, negative: str) -> torch.Tensor:
        """(2, 77, C) [negative, prompt] text states."""
        tok = self.models.tokenizer
        ids = tok([negative, prompt], padding="max_length", max_length=tok.model_max_length, truncation=True,
                  return_tensors="pt").input_ids  # fmt: skip
        return self.models.text_encoder(ids.to(self._exec_device(self.models.text_encoder)))[0].to(self.dtype)

    def _exec_device(self, module: torch.nn.Module) -> torch.device:
        return self.device if self._offload else next(module.parameters()).device

    @torch.no_grad()
    def _face_tokens(self, references: Sequence[Reference], mode: str) -> torch.Tensor:
        """(2, K·R or K, C) [zero-embedding, reference] face tokens; a dropped face is a zero embedding."""
        proj = self.models.identitynet.face_projection
        vectors = [identity_vector(ref, proj.embed_dims) for ref in references]
        embeds = torch.from_numpy(np.stack(vectors).astype(np.float32))[None]
        embeds = torch.cat([torch.zeros_like(embeds), embeds]).to(next(proj.parameters()).device)
        return proj.tokens(embeds, mode).to(self.dtype)

    @torch.no_grad()
    def _encode(self, image: np.ndarray) -> torch.Tensor:
        vae = self.models.vae
        x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 127.5 - 1.0
        latent = vae.encode(x.to(self._exec_device(vae), self.dtype)).latent_dist.mean
        return latent * vae.config.scaling_factor

    @torch.no_grad()
    def _decode(self, latent: torch.Tensor) -> np.ndarray:
        vae = self.models.vae
        image = vae.decode((latent / vae.config.scaling_factor).to(self._exec_device(vae), self.dtype)).sample
        image = ((image[0].float().clamp(-1, 1) + 1) * 127.5).round().byte()
        return image.permute(1, 2, 0).cpu().numpy()

    def render(self, references: Sequence[Reference], track: MotionTrack, request: GenerateRequest,
               progress: ProgressFn = no_progress) -> Iterator[np.ndarray]:  # fmt: skip
        """Frames along ``track``; w1–w3 are the Eq. (2) scales, so the structure condition is drawn
        from the track as it is (at the default controls), not from a w-scaled one."""
        from ...face.contour import head_contour
        from ...face.draw import draw_condition
        from ...face.segmentation import person_mask

        if not references:
            raise InputError("the diffusion engine needs at least one reference portrait.")
        cfg = request.sampling
        track = apply_controls(track, Controls(), request.render.smoothing_s)
        res = self.resolution
        scale = np.array([res / track.frame_size[0], res / track.frame_size[1]], np.float32)
        text = self._text(request.prompt, request.negative_prompt)
        face = self._face_tokens(references, cfg.identity_mode)
        guided = cfg.guidance_scale > 1.0
        if not guided:
            text, face = text[1:], face[1:]
        controls = request.controls
        scales = (controls.w1, controls.w2, controls.w3)
        reference = references[0]
        previous = self._encode(_resize(reference.image, (res, res)))
        contour = _resize(reference.head_contour(), (res, res))
        generator = torch.Generator("cpu").manual_seed(request.seed)
        side = res // self._vae_scale
        noise = torch.randn((1, self.models.vae.config.latent_channels, side, side), generator=generator)
        total, done = len(track) * cfg.steps, 0
        for t in range(len(track)):
            points = track.landmarks[t] * scale
            structure = draw_condition(points, (res, res))
            latent = None
            for latent, done in self._sample(noise, text, face, structure, contour, previous, cfg, scales, done):
                progress("rendering", done, total)
            image = self._decode(latent)
            yield _resize(image, tuple(track.frame_size))
            if t + 1 < len(track):
                previous = latent.to(self.dtype)
                contour = head_contour(image, points, person_mask(image, weights=self.weights))

    def _sample(self, noise: torch.Tensor, text: torch.Tensor, face: torch.Tensor, structure: np.ndarray,
                contour: np.ndarray, previous: torch.Tensor, cfg: SamplingConfig, scales: tuple[float, ...],
                done: int) -> Iterator[tuple[torch.Tensor, int]]:  # fmt: skip
        """Denoise one frame; yields (latents, steps done so far) after every step."""
        device, batch = self.device, text.shape[0]
        scheduler = make_scheduler(cfg.scheduler, self.models.scheduler_config)
        scheduler.set_timesteps(cfg.steps, device=device)
        as_batch = lambda x: x.to(device, self.dtype).expand(batch, *x.shape[1:])  # noqa: E731
        structure_t = as_batch(torch.from_numpy(structure).permute(2, 0, 1)[None].float() / 255.0)
        contour_t = as_batch(torch.from_numpy(contour)[None, None].float() / 255.0)
        previous_t = as_batch(previous)
        text, face = text.to(device), face.to(device)
        latents = noise.to(device) * scheduler.init_noise_sigma
        for timestep in scheduler.timesteps:
            model_in = scheduler.scale_model_input(torch.cat([latents] * batch), timestep).to(self.dtype)
            pred = self.denoiser(model_in, timestep, text, face, cfg.identity_scale, structure_t, contour_t,
                                 previous_t, scales).float()  # fmt: skip
            if batch == 2:
                uncond, cond = pred.chunk(2)
                pred = uncond + cfg.guidance_scale * (cond - uncond)
            latents = scheduler.step(pred, timestep, latents, return_dict=False)[0]
            done += 1
            yield latents, done

