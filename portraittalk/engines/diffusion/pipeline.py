"""One PortraitTalk frame as a diffusers ``DiffusionPipeline``: text, face tokens and the frame's
conditions in, a denoised latent and its image out. The engine keeps only the loop over frames.

Being a ``DiffusionPipeline`` gives the usual machinery: ``register_modules`` (components, ``to``),
``enable_model_cpu_offload`` (``model_cpu_offload_seq``: text encoder -> denoiser -> VAE),
``_execution_device`` and ``callback_on_step_end`` (progress and cancel: a callback may raise).
A frame does not end with ``maybe_free_model_hooks`` (the offload chain keeps each model where it
is needed next from one frame to the next); the engine calls it once when the video is done.
Schedulers are swappable by config: ``pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from diffusers import AutoencoderKL, DiffusionPipeline
from diffusers.schedulers import KarrasDiffusionSchedulers
from diffusers.utils import BaseOutput
from transformers import CLIPTextModel, CLIPTokenizer

from .models.denoiser import Denoiser
from .stability import start_steps


@dataclass
class FrameOutput(BaseOutput):
    """``images``: (1, H, W, 3) uint8 RGB, or None for ``output_type="latent"``; ``latents``: (1, 4, h, w)."""

    images: Optional[np.ndarray]
    latents: torch.Tensor


class PortraitTalkFramePipeline(DiffusionPipeline):
    model_cpu_offload_seq = "text_encoder->denoiser->vae"
    _callback_tensor_inputs = ["latents"]

    def __init__(self, vae: AutoencoderKL, text_encoder: CLIPTextModel, tokenizer: CLIPTokenizer,
                 denoiser: Denoiser, scheduler: KarrasDiffusionSchedulers) -> None:  # fmt: skip
        super().__init__()
        self.register_modules(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, denoiser=denoiser,
                              scheduler=scheduler)  # fmt: skip

    @property
    def vae_scale_factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def resolution(self) -> int:
        """Side of the square frames (SD1.5: 64 latents x 8 = 512)."""
        return int(self.denoiser.identitynet.unet.config.sample_size) * self.vae_scale_factor

    @property
    def dtype(self) -> torch.dtype:
        return self.denoiser.dtype

    @torch.no_grad()
    def encode_prompt(self, prompt: str, negative_prompt: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(prompt embeddings, negative prompt embeddings), each (1, 77, C)."""
        ids = self.tokenizer([negative_prompt, prompt], padding="max_length", truncation=True, return_tensors="pt",
                             max_length=self.tokenizer.model_max_length).input_ids  # fmt: skip
        states = self.text_encoder(ids.to(self._execution_device))[0].to(self.dtype)
        return states[1:], states[:1]

    @torch.no_grad()
    def encode_face(self, embeddings: np.ndarray, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(face tokens, unconditional face tokens) for (R, D) reference embeddings; the unconditional
        branch projects a zero embedding (IP-Adapter's dropped face), never omits the tokens."""
        projection = self.denoiser.identitynet.face_projection
        embeds = torch.from_numpy(np.asarray(embeddings, np.float32))[None]
        embeds = embeds.to(next(projection.parameters()).device)  # under offload it stays on the CPU: tiny
        tokens = projection.tokens(torch.cat([embeds, torch.zeros_like(embeds)]), mode).to(self.dtype)
        return tokens[:1], tokens[1:]

    @torch.no_grad()
    def encode_image(self, image: np.ndarray) -> torch.Tensor:
        """(H, W, 3) uint8 RGB -> (1, 4, h, w) scaled latent (the posterior mean)."""
        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 127.5 - 1.0
        latent = self.vae.encode(x.to(self._execution_device, self.vae.dtype)).latent_dist.mean
        return latent * self.vae.config.scaling_factor

    @torch.no_grad()
    def decode_latents(self, latents: torch.Tensor) -> np.ndarray:
        """(1, 4, h, w) scaled latents -> (1, H, W, 3) uint8 RGB."""
        images = self.vae.decode((latents / self.vae.config.scaling_factor).to(self._execution_device, self.vae.dtype))
        images = ((images.sample.float().clamp(-1, 1) + 1) * 127.5).round().byte()
        return images.permute(0, 2, 3, 1).cpu().numpy()

    def steps_to_run(self, num_inference_steps: int, strength: Optional[np.ndarray]) -> int:
        """How many of the steps a frame runs (the ones before every pixel's start are skipped)."""
        if strength is None:
            return num_inference_steps
        return num_inference_steps - int(start_steps(strength, num_inference_steps).min())

    @torch.no_grad()
    def __call__(self, prompt_embeds: torch.Tensor, negative_prompt_embeds: torch.Tensor, face_tokens: torch.Tensor,
                 negative_face_tokens: torch.Tensor, structure: Optional[np.ndarray], contour: Optional[np.ndarray],
                 previous_latents: torch.Tensor, noise: torch.Tensor, num_inference_steps: int = 25,
                 guidance_scale: float = 5.0, identity_scale: float = 0.6,
                 condition_scales: Sequence[float] = (1.0, 1.0, 1.0), conditioning_scale: float = 1.0,
                 init_latents: Optional[torch.Tensor] = None, strength: Optional[np.ndarray] = None,
                 output_type: str = "np",
                 callback_on_step_end: Optional[Callable[["PortraitTalkFramePipeline", int, torch.Tensor, dict], dict]] = None,
                 callback_on_step_end_tensor_inputs: Sequence[str] = ("latents",)) -> FrameOutput:  # fmt: skip
        """Denoise one frame.

        ``structure`` (H, W, 3) uint8 landmark drawing and ``contour`` (H, W) uint8 head outline feed
        AnimateNet (ignored without one); ``previous_latents`` is the previous frame's latent.
        ``noise`` (1, 4, h, w) is the frame's starting noise. With ``init_latents`` and a per-pixel
        ``strength`` (h, w) the frame is re-drawn from ``init_latents`` (``stability.py``): a pixel
        is held at ``init_latents`` noised to the current step until its start step.
        Classifier-free guidance (``guidance_scale > 1``) batches [negative, positive].
        """
        for name in callback_on_step_end_tensor_inputs:
            if name not in self._callback_tensor_inputs:
                raise ValueError(f"callback_on_step_end_tensor_inputs may only name {self._callback_tensor_inputs}")
        device, dtype = self._execution_device, self.dtype
        guided = guidance_scale > 1.0
        text = torch.cat([negative_prompt_embeds, prompt_embeds]) if guided else prompt_embeds
        face = torch.cat([negative_face_tokens, face_tokens]) if guided else face_tokens
        text, face, batch = text.to(device, dtype), face.to(device, dtype), 2 if guided else 1

        def as_batch(x: torch.Tensor) -> torch.Tensor:
            return x.to(device, dtype).expand(batch, *x.shape[1:])

        conditions = {"structure": None, "contour": None, "previous_latent": as_batch(previous_latents)}
        if self.denoiser.animatenet is not None:
            conditions["structure"] = as_batch(torch.from_numpy(structure).permute(2, 0, 1)[None].float() / 255.0)
            conditions["contour"] = as_batch(torch.from_numpy(contour)[None, None].float() / 255.0)

        self.scheduler.set_timesteps(num_inference_steps, device=device)
        timesteps = self.scheduler.timesteps
        noise = noise.to(device, torch.float32)
        latents = noise * self.scheduler.init_noise_sigma  # latents and the scheduler stay fp32
        start = torch.zeros(noise.shape[-2:], dtype=torch.long, device=device)
        if init_latents is not None:
            start = torch.from_numpy(start_steps(strength, num_inference_steps)).to(device)
            init_latents = init_latents.to(device, torch.float32)
        first = int(start.min())
        for i, t in enumerate(timesteps[first:], first):
            if init_latents is not None:  # pixels that have not started yet sit on the noised init
                held = self.scheduler.add_noise(init_latents, noise, t.reshape(1))
                latents = torch.where(start >= i, held, latents)
            model_in = self.scheduler.scale_model_input(torch.cat([latents] * batch), t).to(dtype)
            pred = self.denoiser(model_in, t, text, face, identity_scale, conditions["structure"],
                                 conditions["contour"], conditions["previous_latent"], condition_scales,
                                 conditioning_scale).float()  # fmt: skip
            if guided:
                uncond, cond = pred.chunk(2)
                pred = uncond + guidance_scale * (cond - uncond)
            latents = self.scheduler.step(pred, t, latents, return_dict=False)[0]
            if callback_on_step_end is not None:
                tensors = {"latents": latents}
                kwargs = {name: tensors[name] for name in callback_on_step_end_tensor_inputs}
                latents = callback_on_step_end(self, i, t, kwargs).pop("latents", latents)
        if init_latents is not None:  # pixels that never started are the init itself
            latents = torch.where(start >= num_inference_steps, init_latents, latents)
        images = None if output_type == "latent" else self.decode_latents(latents)
        return FrameOutput(images=images, latents=latents)
