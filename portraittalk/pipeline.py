"""The Python API: ``PortraitTalk.from_pretrained(...).generate(...)``.

One direction of data: references -> face analysis; audio -> motion track; track + references ->
engine -> frames streamed into the MP4 writer (and kept for the result). docs/architecture.md
has the whole map.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Optional, Sequence, Union

import numpy as np

from .config import Controls, GenerateRequest, Limits, RuntimeConfig, reference_count_problem
from .engines.base import Engine, ProgressFn, no_progress
from .engines.registry import build_engine, choose_engine, engine_status, ignored_note
from .errors import InputError
from .face.crop import FaceCrop
from .face.reference import Reference, analyse_reference
from .media import Audio, VideoWriter, load_audio, load_image
from .media.frames import FrameStore
from .motion.track import MotionTrack
from .quality import ArtifactCheck, Quality
from .weights import Weights

if TYPE_CHECKING:
    from .batch import Job, JobResult
    from .live import LiveSession

log = logging.getLogger(__name__)
ImageInput = Union[str, os.PathLike, np.ndarray, Reference]  # a Reference: already analysed (see analyse)
AudioInput = Union[str, os.PathLike, Audio]


@dataclass
class GenerationResult:
    """A finished video and what made it."""

    video_path: Path
    fps: float
    audio: Audio
    track: MotionTrack  # the speech's motion (no controls): re-render it with other controls
    drawn: MotionTrack  # where the engine drew the face in each frame (the track with its controls applied)
    engine: str
    engine_reason: str
    seed: int
    reference: Reference  # the first reference: its photo, and the face crop the frames were drawn in
    rendered: FrameStore  # the engine's frames (the face crop), exactly as they went to the encoder
    notes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)  # asdict(GenerateRequest): every setting used
    quality: Quality = field(default_factory=Quality)  # the artifact check's verdict (warnings for the user)

    @property
    def crop(self) -> FaceCrop:
        """Where the rendered frames sit in the reference photo (``crop.to_source`` maps their points)."""
        return self.reference.crop

    @property
    def full_frame(self) -> bool:
        """The video shows the whole photo with the face pasted back (else the face crop)."""
        return bool(self.settings["render"]["full_frame"])

    def iter_frames(self) -> Iterator[np.ndarray]:
        """The video's frames one at a time, as encoded (before compression); memory stays flat."""
        for frame in self.rendered:
            yield self.crop.paste(self.reference.photo, frame) if self.full_frame else frame

    @property
    def frames(self) -> np.ndarray:
        """All of the video's frames as one (T, H, W, 3) array (read-only, backed by a temporary file
        unless the video shows the whole photo); use :meth:`iter_frames` for long whole-photo videos."""
        return np.stack(list(self.iter_frames())) if self.full_frame else self.rendered.frames

    def save(self, path: Union[str, os.PathLike]) -> Path:
        """Copy the MP4 to ``path``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.resolve() != self.video_path.resolve():
            shutil.copyfile(self.video_path, path)
        return path


class PortraitTalk:
    """Reference portraits + speech (+ prompt) -> a talking-face video.

    ``defaults`` is the request every :meth:`generate` call starts from; ``weights`` the folder
    every component is read from (never the process environment).
    """

    def __init__(self, weights: Optional[Weights] = None, defaults: GenerateRequest = GenerateRequest(),
                 limits: Limits = Limits()) -> None:  # fmt: skip
        self.weights = weights if weights is not None else Weights.resolve()
        self.defaults = defaults
        self.limits = limits
        self._engines: dict[str, tuple[RuntimeConfig, Engine]] = {}

    @classmethod
    def from_pretrained(cls, weights_dir: Union[str, os.PathLike, None] = None, engine: str = "auto",
                        device: Optional[str] = None, defaults: Optional[GenerateRequest] = None,
                        limits: Optional[Limits] = None) -> "PortraitTalk":  # fmt: skip
        """Set up a generator. ``weights_dir`` (else ``$PORTRAITTALK_WEIGHTS``, else ``weights/``) is
        read once, here, and belongs to this instance alone.

        Nothing heavy loads here: an engine is built the first time it renders.
        """
        defaults = (defaults or GenerateRequest()).updated(engine=engine, device=device)
        return cls(Weights.resolve(weights_dir), defaults, limits or Limits())

    # -- engines -----------------------------------------------------------------------------
    def engine_status(self) -> dict[str, tuple[bool, str]]:
        """Which engines can run here, and why not."""
        return engine_status(self.weights)

    def _engine(self, name: str, runtime: RuntimeConfig) -> Engine:
        """The engine for ``name``, rebuilt when its load-time settings changed (the old one is dropped first)."""
        cached = self._engines.get(name)
        if cached is None or cached[0] != runtime:
            self._engines.pop(name, None)
            self._engines[name] = (runtime, build_engine(name, self.weights, runtime))
        return self._engines[name][1]

    # -- generation --------------------------------------------------------------------------
    def generate(
        self,
        references: Sequence[ImageInput],
        audio: AudioInput,
        prompt: Optional[str] = None,
        negative_prompt: Optional[str] = None,
        controls: Optional[Controls] = None,
        seed: Optional[int] = None,
        progress: Optional[ProgressFn] = None,
        output: Union[str, os.PathLike, None] = None,
        request: Optional[GenerateRequest] = None,
        track: Optional[MotionTrack] = None,
        **settings: Any,
    ) -> GenerationResult:
        """Make the video. ``output`` defaults to a temporary file (see ``result.save``).

        The settings are ``request`` (default: this generator's defaults) with the given arguments
        changed; ``settings`` are further changes by flat name (``size=256``, ``w1=0.5``, ``steps=30``,
        see :data:`portraittalk.config.FLAT`). ``track`` re-renders a saved or edited MotionTrack
        (made with any controls: they are applied when rendering) instead of analysing the audio.
        """
        progress = progress or no_progress
        request = (request or self.defaults).updated(prompt=prompt, negative_prompt=negative_prompt, seed=seed,
                                                     **settings)  # fmt: skip
        if controls is not None:
            request = replace(request, controls=controls)
        render = request.render
        references = self._checked(references)
        engine_name, reason = choose_engine(request.engine, self.weights, request.runtime)
        ignored = ignored_note(engine_name, request)
        notes = [f"engine: {engine_name} ({reason})"] + ([ignored] if ignored else [])
        log.info(notes[0])

        if not isinstance(audio, Audio):
            audio = load_audio(audio, max_seconds=self.limits.max_audio_seconds)
        audio = audio.resampled()  # an Audio made at another rate: the motion models read 16 kHz
        refs = self.analyse(references, render.size, render.crop_margin, request.face_index, progress)
        for r in refs:
            notes.extend(r.notes)

        progress("audio → motion", 0, 1)
        if track is None:
            track = self.motion(audio, refs[0], request)
        elif track.frame_size != (render.size, render.size):
            track = track.scaled(render.size / track.frame_size[0])
        progress("audio → motion", 1, 1)

        engine = self._engine(engine_name, request.runtime)
        notes.extend(engine.notes)
        out_path = Path(output) if output is not None else _temp_output()
        primary = refs[0]
        size = primary.crop.source_size if render.full_frame else (render.size, render.size)
        check = ArtifactCheck(primary.image, primary.landmarks, engine.still_background, engine.artifact_advice)
        drawn = engine.drawn(track, request)
        rendered, written = FrameStore((render.size, render.size)), False
        try:
            with VideoWriter(out_path, render.fps, size, audio) as writer:  # on error it leaves nothing
                for t, frame in enumerate(engine.frames(refs, drawn, request, progress)):
                    check.update(frame, drawn.landmarks[t])
                    rendered.append(frame)
                    writer.write(primary.crop.paste(primary.photo, frame) if render.full_frame else frame)
                progress("encoding", 0, 1)
            written = True
            progress("encoding", 1, 1)
        except BaseException:  # cancelled or failed, even as the file was finished: keep nothing
            rendered.discard()
            if written:
                out_path.unlink(missing_ok=True)
            raise
        quality = check.result()
        for warning in quality.warnings:
            log.info("quality: %s", warning)
        return GenerationResult(out_path, render.fps, audio, track, drawn, engine_name, reason, request.seed, primary,
                                rendered, notes, asdict(request), quality)  # fmt: skip

    def live(self, references: Sequence[ImageInput], request: Optional[GenerateRequest] = None,
             **settings: Any) -> "LiveSession":  # fmt: skip
        """A live session: push speech as it arrives, get the frames back (:mod:`portraittalk.live`).
        The portraits are analysed here, once; the settings are as :meth:`generate`'s (flat names)."""
        from .live import LiveSession

        request = (request or self.defaults).updated(**settings)
        references = self._checked(references)
        refs = self.analyse(references, request.render.size, request.render.crop_margin, request.face_index)
        return LiveSession(refs, request, self.weights)

    def _checked(self, references: Sequence[ImageInput]) -> list[ImageInput]:
        """The references as a list: at least one, at most ``limits.max_references``."""
        references = list(references)
        problem = reference_count_problem(len(references), self.limits.max_references)
        if problem:
            raise InputError(problem)
        return references

    def analyse(self, references: Sequence[ImageInput], size: int, margin: float, face_index: int = 0,
                progress: ProgressFn = no_progress) -> list[Reference]:  # fmt: skip
        """Decode and analyse every reference portrait (one face detector for all).

        A :class:`Reference` (this method's output) is used as it is: analyse a portrait once and
        hand it to many :meth:`generate` calls (it must have been analysed at the same ``size``).
        """
        from .face.landmarks import FaceMeshDetector

        refs: list[Optional[Reference]] = [_analysed(src, size) for src in references]
        if any(r is None for r in refs):
            with FaceMeshDetector(static=True) as det:
                for i, src in enumerate(references):
                    progress("analysing faces", i, len(references))
                    if refs[i] is None:
                        name = f"'{Path(src).name}'" if not isinstance(src, np.ndarray) else f"reference {i + 1}"
                        image = load_image(src, max_pixels=self.limits.max_image_pixels)
                        refs[i] = analyse_reference(image, name, size, margin, face_index, det, self.weights)
        progress("analysing faces", len(references), len(references))
        return refs  # type: ignore[return-value]  # every slot is filled above

    def generate_many(self, jobs: Iterable[Union["Job", Mapping[str, Any]]], out_dir: Union[str, os.PathLike],
                      workers: Optional[int] = None, ray: Optional[str] = None, retry_failed: bool = False,
                      skip_invalid: bool = False) -> Iterator["JobResult"]:  # fmt: skip
        """Run many generations into ``out_dir``, yielding each :class:`~portraittalk.batch.JobResult` as
        it finishes. A job is a :class:`~portraittalk.batch.Job` or a row by flat names (``ref``,
        ``audio``, ``out``, ``prompt``, ``size``...). Resumable: ``out_dir/batch.jsonl`` records each
        finished job and a rerun skips what is done. ``workers`` processes on this machine (default: the
        number of cores), or Ray tasks on the cluster at ``ray`` ("auto", an address). See
        :mod:`portraittalk.batch`.
        """
        from .batch import run_batch

        return run_batch(self, jobs, Path(out_dir), workers=workers, ray=ray, retry_failed=retry_failed,
                         skip_invalid=skip_invalid)  # fmt: skip

    def motion(self, audio: Audio, reference: Reference, request: GenerateRequest) -> MotionTrack:
        """The speech's MotionTrack for ``reference`` (no controls applied: engines apply them); the
        motion model is ``request.motion.motion_model``, chosen in :mod:`.motion.registry`."""
        from .motion.offline import audio_to_motion

        return audio_to_motion(audio, reference.landmarks, (reference.size, reference.size), request.render.fps,
                               request.motion, request.seed, self.weights, reference.depth)  # fmt: skip


def _analysed(src: ImageInput, size: int) -> Optional[Reference]:
    """``src`` when it is an already analysed Reference of the right size; None when it needs analysing."""
    if not isinstance(src, Reference):
        return None
    if src.size != size:
        raise InputError(f"reference {src.name} was analysed at {src.size} px; this video is {size} px "
                         "(analyse it again at that size).")  # fmt: skip
    return src


def _temp_output() -> Path:
    folder = Path(tempfile.gettempdir()) / "portraittalk"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"portraittalk-{uuid.uuid4().hex[:12]}.mp4"
