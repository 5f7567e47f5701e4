"""The Python API: ``PortraitTalk.from_pretrained(...).generate(...)``.

One direction of data: references -> face analysis; audio -> motion track; track + references ->
engine -> frames streamed into the MP4 writer. See DESIGN.md.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence, Union

import numpy as np

from .config import Controls, DiffusionConfig, GenerateConfig
from .engines.base import Engine, ProgressFn, RenderRequest, no_progress
from .errors import CancelledError, EngineUnavailableError, InputError
from .face.reference import Reference, analyse_reference
from .media import Audio, VideoWriter, load_audio, load_image, read_video
from .motion.track import MotionTrack

log = logging.getLogger(__name__)
ImageInput = Union[str, os.PathLike, np.ndarray]
AudioInput = Union[str, os.PathLike, Audio]
ENGINES = ("auto", "warp", "diffusion")


@dataclass
class GenerationResult:
    """A finished video and what made it."""

    video_path: Path
    fps: float
    audio: Audio
    track: MotionTrack
    engine: str
    engine_reason: str
    seed: int
    notes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    def iter_frames(self) -> Iterator[np.ndarray]:
        """Decode the frames one at a time (memory stays flat)."""
        for _, frame in read_video(self.video_path):
            yield frame

    @property
    def frames(self) -> np.ndarray:
        """All frames as one (T, H, W, 3) array; use :meth:`iter_frames` for long videos."""
        return np.stack(list(self.iter_frames()))

    def save(self, path: Union[str, os.PathLike]) -> Path:
        """Copy the MP4 to ``path``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.resolve() != self.video_path.resolve():
            shutil.copyfile(self.video_path, path)
        return path


class PortraitTalk:
    """Reference portraits + speech (+ prompt) -> a talking-face video."""

    def __init__(self, engine: str = "auto", device: Optional[str] = None,
                 config: GenerateConfig = GenerateConfig()) -> None:  # fmt: skip
        if engine not in ENGINES:
            raise InputError(f"unknown engine '{engine}'; choose one of {', '.join(ENGINES)}.")
        self.engine_name = engine
        self.device = device
        self.config = config
        self._engines: dict[str, Engine] = {}

    @classmethod
    def from_pretrained(cls, weights_dir: Union[str, os.PathLike, None] = None, engine: str = "auto",
                        device: Optional[str] = None, config: Optional[GenerateConfig] = None) -> "PortraitTalk":  # fmt: skip
        """Set up a generator. ``weights_dir`` overrides ``$PORTRAITTALK_WEIGHTS`` (process-wide).

        Nothing heavy loads here: an engine is built the first time it renders.
        """
        if weights_dir is not None:
            from .weights import ENV_VAR

            os.environ[ENV_VAR] = str(Path(weights_dir).expanduser().resolve())
        return cls(engine, device, config or GenerateConfig())

    # -- engines -----------------------------------------------------------------------------
    def engine_status(self) -> dict[str, tuple[bool, str]]:
        """Which engines can run here, and why not."""
        ok, why = _diffusion_status()
        return {"warp": (True, "runs on the CPU with no downloads"), "diffusion": (ok, why)}

    def resolve_engine(self, requested: Optional[str] = None) -> tuple[str, str]:
        """(engine, reason) for a request of "auto", "warp" or "diffusion"."""
        requested = requested or self.engine_name
        if requested not in ENGINES:
            raise InputError(f"unknown engine '{requested}'; choose one of {', '.join(ENGINES)}.")
        if requested == "warp":
            return "warp", "requested"
        ok, why = _diffusion_status()
        if requested == "diffusion":
            if not ok:
                raise EngineUnavailableError(f"the diffusion engine cannot run: {why}")
            return "diffusion", "requested"
        if not ok:
            return "warp", f"diffusion engine unavailable: {why}"
        if self._device() != "cuda":
            return "warp", ("diffusion weights are present but there is no CUDA GPU (it would take minutes "
                            "per frame); pass engine='diffusion' to force it")  # fmt: skip
        return "diffusion", "diffusion weights are present and a CUDA GPU is available"

    def _device(self) -> str:
        if self.device:
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def _engine(self, name: str) -> Engine:
        if name not in self._engines:
            if name == "warp":
                from .engines.warp import WarpEngine

                self._engines[name] = WarpEngine()
            else:
                from .engines.diffusion import DiffusionEngine

                self._engines[name] = DiffusionEngine.from_pretrained(
                    device=self._device(), config=self.config.diffusion
                )
        return self._engines[name]

    # -- generation --------------------------------------------------------------------------
    def generate(
        self,
        references: Sequence[ImageInput],
        audio: AudioInput,
        prompt: str = "",
        negative_prompt: str = "",
        controls: Optional[Controls] = None,
        seed: int = 0,
        progress: Optional[ProgressFn] = None,
        output: Union[str, os.PathLike, None] = None,
        size: Optional[int] = None,
        fps: Optional[float] = None,
        full_frame: Optional[bool] = None,
        diffusion: Optional[DiffusionConfig] = None,
        engine: Optional[str] = None,
        face_index: int = 0,
        track: Optional[MotionTrack] = None,
    ) -> GenerationResult:
        """Make the video. ``output`` defaults to a temporary file (see ``result.save``).

        ``track`` re-renders an edited or saved MotionTrack instead of computing one from the audio.
        """
        progress = progress or no_progress
        cfg = self.config
        render = replace(cfg.render, **{k: v for k, v in (("size", size), ("fps", fps), ("full_frame", full_frame))
                                        if v is not None})  # fmt: skip
        if not 64 <= render.size <= 2048:
            raise InputError(f"output size must be between 64 and 2048 pixels (got {render.size}).")
        if not 1 <= render.fps <= 60:
            raise InputError(f"fps must be between 1 and 60 (got {render.fps}).")
        controls = controls or cfg.controls
        references = list(references)
        if not references:
            raise InputError("give at least one reference portrait.")
        if len(references) > cfg.limits.max_references:
            raise InputError(f"at most {cfg.limits.max_references} reference images are accepted (got {len(references)}).")
        engine_name, reason = self.resolve_engine(engine)
        notes = [f"engine: {engine_name} ({reason})"]
        log.info(notes[0])

        if not isinstance(audio, Audio):
            audio = load_audio(audio, max_seconds=cfg.limits.max_audio_seconds)
        refs = self.analyse(references, render.size, render.crop_margin, face_index, progress)
        for r in refs:
            notes.extend(r.notes)

        progress("audio → motion", 0, 1)
        if track is None:
            track = self._motion(audio, refs[0], render.fps, controls, seed, engine_name)
        elif track.frame_size != (render.size, render.size):
            track = track.scaled(render.size / track.frame_size[0])
        progress("audio → motion", 1, 1)

        request = RenderRequest(prompt, negative_prompt, controls, diffusion or cfg.diffusion, seed)
        out_path = Path(output) if output is not None else _temp_output()
        primary = refs[0]
        size = primary.crop.source_size if render.full_frame else (render.size, render.size)
        with VideoWriter(out_path, render.fps, size, audio) as writer:
            for frame in self._engine(engine_name).render(refs, track, request, progress):
                writer.write(primary.crop.paste(primary.photo, frame) if render.full_frame else frame)
            progress("encoding", 0, 1)
        try:
            progress("encoding", 1, 1)
        except CancelledError:  # cancelled as the file was finished: still keep nothing
            out_path.unlink(missing_ok=True)
            raise
        settings = {"engine": engine_name, "size": render.size, "fps": render.fps, "full_frame": render.full_frame,
                    "w1": controls.w1, "w2": controls.w2, "w3": controls.w3, "seed": seed, "prompt": prompt,
                    "negative_prompt": negative_prompt, "references": len(refs)}  # fmt: skip
        if engine_name == "diffusion":
            d = request.diffusion
            settings.update(steps=d.steps, guidance_scale=d.guidance_scale, scheduler=d.scheduler,
                            identity_scale=d.identity_scale, identity_mode=d.identity_mode)  # fmt: skip
        return GenerationResult(out_path, render.fps, audio, track, engine_name, reason, seed, notes, settings)

    def analyse(self, references: Sequence[ImageInput], size: int, margin: float, face_index: int = 0,
                progress: ProgressFn = no_progress) -> list[Reference]:  # fmt: skip
        """Decode and analyse every reference portrait (one face detector for all)."""
        from .face.landmarks import FaceMeshDetector

        refs = []
        with FaceMeshDetector(static=True) as det:
            for i, src in enumerate(references):
                progress("analysing faces", i, len(references))
                name = f"'{Path(src).name}'" if not isinstance(src, np.ndarray) else f"reference {i + 1}"
                image = load_image(src, max_pixels=self.config.limits.max_image_pixels)
                refs.append(analyse_reference(image, name, size, margin, face_index, det))
        progress("analysing faces", len(references), len(references))
        return refs

    def _motion(self, audio: Audio, ref: Reference, fps: float, controls: Controls, seed: int,
                engine_name: str) -> MotionTrack:  # fmt: skip
        from .motion.offline import audio_to_motion
        from .weights import is_present

        motion_cfg = replace(self.config.motion, seed=seed)
        offsets = None
        if engine_name == "diffusion" and is_present("audio2motion"):
            from .motion.vae import predict_motion

            offsets = predict_motion(audio, ref.landmarks, fps=fps)
        return audio_to_motion(audio, ref.landmarks, (ref.size, ref.size), fps, motion_cfg, controls, offsets)


def _diffusion_status() -> tuple[bool, str]:
    from .engines.diffusion import diffusion_status

    return diffusion_status()


def _temp_output() -> Path:
    folder = Path(tempfile.gettempdir()) / "portraittalk"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"portraittalk-{uuid.uuid4().hex[:12]}.mp4"
