"""The diffusion render engine: the frame loop around :class:`PortraitTalkFramePipeline`.

Frame 0 is conditioned on the reference (its head contour, and the reference itself as the
"previous frame"); frame t on frame t-1. Every frame starts from the same seeded noise, and, unless
``denoise_strength`` is 1, from another engine's frame for the same track (``start_frames``: the
registry gives it the warp engine; ``stability.py``), so what changes between frames is what the
motion and the conditions change.
"""
from __future__ import annotations

import logging
from typing import Iterator, Optional, Sequence

import numpy as np
import torch

from ...config import Controls, GenerateRequest, RuntimeConfig
from ...errors import InputError, MissingWeightsError
from ...face.reference import Reference
from ...motion.controls import apply_controls
from ...motion.track import MotionTrack
from ...runtime import resolve_device, torch_dtype
from ...weights import Weights
from ..base import Engine, ProgressFn, no_progress
from .checkpoints.adapter_config import DLIB_DIM
from .checkpoints.load import DiffusionModels, load_models
from .checkpoints.status import NEEDED
from .models.denoiser import Denoiser
from .pipeline import PortraitTalkFramePipeline
from .stability import strength_map

log = logging.getLogger(__name__)
SD15_RESOLUTION = 512  # px: the frames Stable Diffusion 1.5 makes (64 latents x 8)


def make_scheduler(name: str, config: dict):
    """A fresh sampler built from the base model's scheduler config."""
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

    if name == "ddim":
        return DDIMScheduler.from_config(config, clip_sample=False)  # latents are not in [-1, 1]
    if name == "dpm++":
        return DPMSolverMultistepScheduler.from_config(config, algorithm_type="dpmsolver++")
    raise InputError(f"scheduler must be 'ddim' or 'dpm++' (got {name!r}).")


def identity_vector(reference: Reference, widths: Sequence[int]) -> np.ndarray:
    """The reference's face embedding from a backend the adapters accept: "auto" (ArcFace when
    present, else dlib) unless only the other width was trained."""
    vector = reference.identity().vector
    if vector.shape[0] in widths:
        return vector
    if DLIB_DIM in widths:
        return reference.identity("dlib").vector
    raise MissingWeightsError(f"these adapters take {'/'.join(map(str, widths))}-d ArcFace embeddings (insightface "
                              "buffalo_l or antelopev2, what IP-Adapter-FaceID was trained on); dlib's 128-d ones "
                              "cannot stand in. Run `portraittalk weights download insightface`.")  # fmt: skip


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    if (image.shape[1], image.shape[0]) == tuple(size):
        return image
    shrink = image.shape[1] > size[0]
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


class DiffusionEngine(Engine):
    name = "diffusion"

    def __init__(self, models: DiffusionModels, runtime: RuntimeConfig = RuntimeConfig(),
                 weights: Optional[Weights] = None, start_frames: Optional[Engine] = None) -> None:  # fmt: skip
        """``start_frames``: the engine whose frames each frame starts from (``denoise_strength`` < 1)."""
        self.models = models
        self.start_frames = start_frames
        self.runtime = runtime
        self.weights = weights
        self.device = torch.device(resolve_device(runtime.device))
        self.dtype = torch_dtype(runtime.dtype, str(self.device))
        models.to("cpu" if self._offload else self.device, self.dtype)
        self.pipe = PortraitTalkFramePipeline(models.vae, models.text_encoder, models.tokenizer,
                                              Denoiser(models.identitynet, models.animatenet),
                                              make_scheduler("dpm++", models.scheduler_config))  # fmt: skip
        if self._offload:
            self.pipe.enable_model_cpu_offload(device=self.device)
        elif runtime.cpu_offload:
            log.info("cpu_offload only applies on a GPU; ignored on %s", self.device)
        animatenet = models.animatenet
        self._eq2_trained = animatenet is not None and animatenet.condition_attention_trained
        self.notes = self._describe()
        self.artifact_advice = self._advice()
        for note in self.notes:
            log.info(note)

    @property
    def _offload(self) -> bool:
        return self.runtime.cpu_offload and self.device.type == "cuda"

    @classmethod
    def from_pretrained(cls, weights: Weights, runtime: RuntimeConfig = RuntimeConfig(),
                        start_frames: Optional[Engine] = None) -> "DiffusionEngine":  # fmt: skip
        """Load ``sd15`` + ``portraittalk`` from ``weights``, placed and cast as ``runtime`` says."""
        resolve_device(runtime.device)  # a missing GPU fails before minutes of loading
        sd15, adapters = (weights.require(name) for name in NEEDED)
        return cls(load_models(sd15, adapters), runtime, weights, start_frames)

    @property
    def resolution(self) -> int:
        """Side of the square frames the model generates (SD1.5: 64 latents x 8 = 512)."""
        return self.pipe.resolution

    def _describe(self) -> tuple[str, ...]:
        """What the user should know about these weights (shown as the generation's notes)."""
        notes = []
        for part, record in self.models.imported.items():
            detail = f", {record['variant']}, {record['tokens_per_face']} tokens per face" if "variant" in record else ""
            notes.append(f"{part}: imported from {record['source']} ({record['kind']}{detail})")
        if self.models.animatenet is None:
            notes.append("no AnimateNet in the weights: the lips and the head follow the warp engine's frames "
                         "(denoise_strength), w1-w3 have no effect.")  # fmt: skip
        elif not self._eq2_trained:
            notes.append("AnimateNet's Eq. (2) attention is untrained (w = 0, an imported ControlNet): the landmark "
                         "ControlNet runs as it is and w1-w3 have no effect until trained weights exist.")  # fmt: skip
        if self.device.type == "cpu":
            notes.append(f"warning: the diffusion engine is running on the CPU (no CUDA GPU): it is slow, minutes per "
                         f"frame at Stable Diffusion's {SD15_RESOLUTION} px; the warp engine renders faster than real "
                         "time on a CPU.")  # fmt: skip
        return tuple(notes)

    def _advice(self) -> str:
        """What the artifact check's warning says to try: these frames were painted, so a flagged video
        is first the render's fault (and with test or untrained weights, surely not the photo's)."""
        if self.resolution < SD15_RESOLUTION:
            return (f"the diffusion engine's render is suspect, not the photo: it ran tiny test weights "
                    f"({self.resolution} px); use real weights or the warp engine")  # fmt: skip
        if self.models.animatenet is None or not self._eq2_trained:
            return ("the diffusion engine's render is suspect, not the photo: its weights are not PortraitTalk-trained "
                    "(see the notes); try another seed or the warp engine")  # fmt: skip
        return "the diffusion engine's render is suspect: try another seed, or the warp engine"

    def drawn(self, track: MotionTrack, request: GenerateRequest) -> MotionTrack:
        """The track at the default controls: here w1–w3 scale attention (Eq. 2), not the motion."""
        return apply_controls(track, Controls(), request.render.smoothing_s)

    def frames(self, references: Sequence[Reference], drawn: MotionTrack, request: GenerateRequest,
               progress: ProgressFn = no_progress) -> Iterator[np.ndarray]:  # fmt: skip
        """Frames along the drawn track (the speech's at the default controls: w1–w3 are the Eq. (2)
        scales here); the SDEdit start is ``start_frames``' frame of the same track."""
        from ...face.contour import head_contour
        from ...face.draw import draw_condition
        from ...face.segmentation import person_mask

        if not references:
            raise InputError("the diffusion engine needs at least one reference portrait.")
        cfg, pipe, animatenet = request.sampling, self.pipe, self.models.animatenet
        pipe.scheduler = make_scheduler(cfg.scheduler, self.models.scheduler_config)
        res = pipe.resolution
        side = res // pipe.vae_scale_factor
        scale = np.array([res / drawn.frame_size[0], res / drawn.frame_size[1]], np.float32)
        landmarks = drawn.landmarks
        prompt, negative = pipe.encode_prompt(request.prompt, request.negative_prompt)
        widths = pipe.denoiser.identitynet.face_projection.embed_dims
        face, no_face = pipe.encode_face(np.stack([identity_vector(r, widths) for r in references]), cfg.identity_mode)
        controls = request.controls
        scales = (controls.w1, controls.w2, controls.w3) if self._eq2_trained else (0.0, 0.0, 0.0)
        start = None
        if cfg.denoise_strength < 1.0:
            if self.start_frames is None:
                raise InputError("denoise_strength below 1 starts each frame from another engine's frame, and this "
                                 "diffusion engine has none: build it with the engine registry, or set "
                                 "denoise_strength to 1.")  # fmt: skip
            start = self.start_frames.frames(references, drawn, request)
        reference = references[0]
        previous = pipe.encode_image(_resize(reference.image, (res, res)))
        contour = _resize(reference.head_contour(), (res, res)) if animatenet is not None else None
        generator = torch.Generator("cpu").manual_seed(request.seed)
        noise = torch.randn((1, self.models.vae.config.latent_channels, side, side), generator=generator)
        total, done = len(drawn) * cfg.steps, 0

        def step_done(_pipe: PortraitTalkFramePipeline, _i: int, _t: torch.Tensor, tensors: dict) -> dict:
            nonlocal done
            done += 1
            progress("rendering", done, total)
            return tensors

        for t in range(len(drawn)):
            points = landmarks[t] * scale
            structure = draw_condition(points, (res, res), style=animatenet.config.drawing_style) if animatenet else None
            init = strength = None
            if start is not None:
                init = pipe.encode_image(_resize(next(start), (res, res)))
                strength = strength_map(points, res, side, cfg.denoise_strength)
            done += cfg.steps - pipe.steps_to_run(cfg.steps, strength)  # steps every pixel skips
            out = pipe(prompt, negative, face, no_face, structure, contour, previous, noise, cfg.steps,
                       cfg.guidance_scale, cfg.identity_scale, scales, cfg.conditioning_scale, init, strength,
                       callback_on_step_end=step_done)  # fmt: skip
            image = out.images[0]
            yield _resize(image, tuple(drawn.frame_size))
            if t + 1 < len(drawn):
                previous = out.latents.to(self.dtype)
                if animatenet is not None:
                    contour = head_contour(image, points, person_mask(image, weights=self.weights))
        pipe.maybe_free_model_hooks()
