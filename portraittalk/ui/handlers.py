"""Gradio event handlers: widget values in, package calls, widget values out.

Every :class:`PortraitTalkError` becomes a ``gr.Error`` carrying its (HTML-escaped) message;
anything else is logged with its traceback on the server and shown as one generic sentence,
so no stack trace ever reaches the page. No server path reaches it either: every message from
the package goes through the manager's :meth:`~.manager.ModelManager.public`.
"""
from __future__ import annotations

import functools
import html
import inspect
import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

import gradio as gr
import numpy as np

from ..config import GenerateRequest, Limits, reference_count_problem
from ..errors import CancelledError, ImageError, InputError, PortraitTalkError
from ..media import Audio, load_audio, load_image
from ..media.audio import SAMPLE_RATE
from .jobs import JobControl, JobProgress, OutputFolder
from .manager import WEIGHTS_HEADERS, ModelManager
from .views import label_grid, metric_curves, metrics_table, motion_overlay, playable_preview, stacked_table
from .widgets import engine_info

if TYPE_CHECKING:  # pragma: no cover
    from ..pipeline import GenerationResult

log = logging.getLogger("portraittalk.app")

DEFAULTS = GenerateRequest()
# The settings with a widget whose help line says whether the engine in use ignores them.
ENGINE_DEPENDENT = ("prompt", "negative_prompt", "identity_mode", "steps", "guidance_scale")
CONFLICT_TILE = 256  # px; first frames only, so small renders keep the grid quick


@dataclass(frozen=True)
class ServeLimits:
    """What one public server accepts; stricter than the package's own :class:`Limits`."""

    max_references: int = Limits.max_references
    max_audio_seconds: float = 60.0
    max_file_size: str = "25mb"
    job_time_limit_s: float = 600.0
    queue_size: int = 8
    output_max_age_s: float = 2 * 3600.0
    max_conflict_cells: int = 16


UNEXPECTED = "Something went wrong inside PortraitTalk; the server log has the details."
CANCELLED = "**Cancelled.** Nothing was kept; press Generate to start again."


def user_errors(fn: Callable, public: Callable[[str], str] = str,
                failed: Optional[Callable[[str, str], None]] = None) -> Callable:  # fmt: skip
    """Turn package errors into ``gr.Error`` (their text through ``public``) and hide every other
    error's details from the page; ``failed(session, message)`` keeps the message for the page."""
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except PortraitTalkError as exc:
            message = html.escape(sentence(public(str(exc))), quote=False)
        except Exception:
            log.exception("unexpected error in %s", fn.__name__)
            message = UNEXPECTED
        if failed is not None:
            failed(_session(signature.bind_partial(*args, **kwargs).arguments.get("request")), message)
        raise gr.Error(message, print_exception=False)

    return wrapper


def sentence(message: str) -> str:
    """A package message (written to follow "error: ") as a sentence on its own."""
    return message[:1].upper() + message[1:]


def _gpu(fn: Callable) -> Callable:
    """``spaces.GPU`` on Hugging Face ZeroGPU Spaces; a no-op everywhere else."""
    try:
        import spaces
    except ImportError:
        return fn
    return spaces.GPU(duration=300)(fn)


def _session(request: Optional[gr.Request]) -> str:
    return getattr(request, "session_hash", None) or "api"


class Handlers:
    """The app's callbacks, sharing one model manager, job control and output folder."""

    def __init__(self, manager: ModelManager, limits: ServeLimits, output_root: Path) -> None:
        self.manager = manager
        self.limits = limits
        self.jobs = JobControl(limits.job_time_limit_s)
        self.outputs = OutputFolder(output_root, limits.output_max_age_s)
        public = manager.public
        self.generate = user_errors(_gpu(self._generate), public, self.jobs.failed)  # the app's inputs map onto GenerateRequest
        self.example = user_errors(self._example, public)
        self.evaluate = user_errors(self._evaluate, public)
        self.truth_uploaded = user_errors(self._truth_uploaded, public)
        self.motion = user_errors(self._motion, public)
        self.conflicts = user_errors(_gpu(self._conflicts), public)

    # -- generate -------------------------------------------------------------------------------
    def _references(self, references: Optional[Sequence[str]]) -> list[str]:
        refs = [str(r) for r in (references or [])]
        problem = reference_count_problem(len(refs), self.limits.max_references)
        if problem:
            raise InputError(problem)
        return refs

    def _audio(self, audio: Optional[str]) -> Audio:
        if not audio:
            raise InputError("add a speech recording: upload a file or record one with the microphone.")
        return load_audio(audio, max_seconds=self.limits.max_audio_seconds)

    def _generate(self, references: Optional[list[str]], audio: Optional[str], prompt: Optional[str] = None,
                  negative_prompt: Optional[str] = DEFAULTS.negative_prompt, engine: str = DEFAULTS.engine,
                  w1: float = DEFAULTS.controls.w1, w2: float = DEFAULTS.controls.w2,
                  w3: float = DEFAULTS.controls.w3, identity_mode: str = DEFAULTS.sampling.identity_mode,
                  steps: int = DEFAULTS.sampling.steps, guidance_scale: float = DEFAULTS.sampling.guidance_scale,
                  seed: int = DEFAULTS.seed, size: int = DEFAULTS.render.size, fps: float = DEFAULTS.render.fps,
                  full_frame: bool = DEFAULTS.render.full_frame, request: gr.Request = None,
                  progress: gr.Progress = gr.Progress()) -> tuple[str, str, int, dict, str, dict]:  # fmt: skip
        """The ``/generate`` endpoint: its parameter names are the request's flat setting names and
        its defaults the request's defaults (``portraittalk.config``)."""
        refs = self._references(references)
        speech = self._audio(audio)
        settings = GenerateRequest.from_flat(dict(
            prompt=prompt or "", negative_prompt=negative_prompt or "", engine=engine or "auto", w1=w1, w2=w2, w3=w3,
            identity_mode=identity_mode, steps=steps, guidance_scale=guidance_scale, seed=seed or 0, size=size,
            fps=fps, full_frame=full_frame))  # fmt: skip
        self.outputs.clean()
        session = _session(request)
        flag = self.jobs.start(session)
        progress(0.0, desc="waiting for the model")
        job = JobProgress()

        def report(stage: str, done: int, total: int) -> None:
            fraction, desc = job.update(stage, done, total)
            progress(fraction, desc=desc)

        try:
            with self.manager.run_lock:
                result = self.manager.get().generate(refs, speech, request=settings, output=self.outputs.new_path(),
                                                     progress=self.jobs.progress(flag, report))  # fmt: skip
        except CancelledError:
            if not flag.is_set():  # stopped by the server's time limit: an error
                raise
            gr.Info("Generation cancelled; nothing was kept.", title="Cancelled")
            return None, None, gr.skip(), gr.skip(), CANCELLED, gr.skip()
        finally:
            self.jobs.finish(session, flag)
        video = str(result.video_path)
        public = self.manager.public
        reason, notes = public(result.engine_reason), [public(n) for n in result.notes]
        shown = {**result.settings, "engine": result.engine, "engine_requested": settings.engine,
                 "engine_reason": reason, "references": len(refs), "notes": notes}  # fmt: skip
        # The note under the result: the engine and why, what the artifact check saw in the video
        # (it is kept: the user judges), then the package's notes (settings ignored, references).
        passed_over = self.manager.auto_passed_over(result.engine) if settings.engine == "auto" else ""
        reason = passed_over or reason
        note = f"Rendered with **{result.engine}**: {html.escape(reason, quote=False)}"
        note += f"\n- Seed {result.seed}: the same seed and settings make the same video."
        note += "".join(f"\n- **Check the result:** {html.escape(w, quote=False)}" for w in result.quality.warnings)
        note += "".join(f"\n- {html.escape(sentence(n), quote=False)}" for n in notes if not n.startswith("engine:"))
        return video, video, result.seed, shown, note, result

    def _example(self, thumbnail: Optional[str], references: list[str], audio: str, prompt: Optional[str] = None,
                 request: gr.Request = None, progress: gr.Progress = gr.Progress()) -> tuple:  # fmt: skip
        """Examples pass only their own columns (a thumbnail to show, the references, the speech, the
        prompt); the rest stays at its default."""
        return self.generate(references, audio, prompt, request=request, progress=progress)[:5]

    def cancel(self, request: gr.Request = None) -> Any:
        """Flag this session's job; the note under the result says so (a toast needs the queue)."""
        if self.jobs.cancel(_session(request)):
            return CANCELLED
        return gr.skip()

    def generation_failed(self, request: gr.Request = None) -> tuple[None, Any]:
        """After a failed Generate: an empty result box (not Gradio's bare "Error" badge) and a note under
        it that keeps what went wrong and what to do after the toast has gone. A job Cancel stopped
        failed without a message: its note already says so."""
        message = self.jobs.failure(_session(request))
        return None, f"**Nothing was generated.** {message}" if message else gr.skip()

    @staticmethod
    def random_seed() -> int:
        return random.randrange(2**31)

    @staticmethod
    def result_shown(video: Optional[str]) -> Any:
        """The Download button works only while there is a result."""
        return gr.DownloadButton(interactive=bool(video))

    def setting_infos(self, engine: str) -> list[Any]:
        """New help lines for the :data:`ENGINE_DEPENDENT` widgets when the Engine choice changes."""
        in_use = self.manager.engine_in_use(engine or "auto")
        return [gr.update(info=engine_info(name, in_use)) for name in ENGINE_DEPENDENT]

    def references_changed(self, references: Optional[list[str]]) -> tuple[Any, Any]:
        """(references, thumbnails): an image that cannot be decoded is taken out of the list at
        once, with the package's message, instead of showing a broken thumbnail until Generate."""
        kept, problems = [], []
        for path in [str(r) for r in (references or [])]:
            try:
                load_image(path, max_pixels=Limits.max_image_pixels)
                kept.append(path)
            except ImageError as exc:
                problems.append(sentence(self.manager.public(str(exc))))
        thumbnails = gr.Gallery(kept[: self.limits.max_references], visible=bool(kept))
        if problems:
            gr.Warning(html.escape(" ".join(problems), quote=False) + " It was taken out of the list.")
            return kept, thumbnails
        return gr.skip(), thumbnails

    # -- evaluate -------------------------------------------------------------------------------
    def _truth_uploaded(self, video: Optional[str]) -> tuple[Any, Optional[dict]]:
        """(what the player shows, {preview name: the uploaded file}): a ground truth the browser cannot
        play is shown as an H.264 copy, and the metrics still read the upload."""
        preview = playable_preview(Path(video), self.outputs.new_path(stem="truth")) if video else None
        if preview is None:
            return gr.skip(), None
        return str(preview), {preview.name: video}

    def _evaluate(self, generated: Optional[str], ground_truth: Optional[str],
                  references: Optional[list[str]] = None, previews: Optional[dict] = None) -> tuple[Any, Any]:  # fmt: skip
        """Metrics of the result against a ground-truth video (the upload behind a preview copy);
        identity against the first reference."""
        import pandas as pd

        from ..metrics import evaluate

        if not generated:
            raise InputError("generate a video first (or upload one to evaluate).")
        if not ground_truth:
            raise InputError("upload the ground-truth video of the same speech to compare against.")
        ground_truth = (previews or {}).get(Path(ground_truth).name, ground_truth)
        reference = Path(references[0]) if references else None
        result = evaluate(Path(generated), Path(ground_truth), reference=reference, learned=False)
        return metrics_table(result, self.manager.public), pd.DataFrame(metric_curves(result))

    # -- motion view ----------------------------------------------------------------------------
    def _motion(self, result: Optional[GenerationResult]) -> str:
        if result is None:
            raise InputError("generate a video on the Generate tab first; its landmark track is drawn here.")
        return str(motion_overlay(result, self.outputs.new_path(stem="motion")))

    # -- conflict explorer ----------------------------------------------------------------------
    def _conflicts(self, reference: Optional[str], prompts: str, scales: str, seed: int = 0,
                   steps: int = DEFAULTS.sampling.steps, progress: gr.Progress = gr.Progress()) -> np.ndarray:  # fmt: skip
        """First frames for every prompt × identity scale (λ of the decoupled cross-attention)."""
        engine, ok, why = self.manager.prompt_engine()
        if not ok:
            raise InputError(f"the conflict explorer needs the {engine} engine: {why}")
        ref = self._references([reference] if reference else [])
        prompt_list = [p.strip() for p in (prompts or "").splitlines() if p.strip()]
        try:
            scale_list = [float(s) for s in (scales or "").replace(";", ",").split(",") if s.strip()]
        except ValueError:
            raise InputError("identity scales must be numbers separated by commas, e.g. 0.3, 0.6, 0.9.") from None
        if not prompt_list or not scale_list:
            raise InputError("give at least one prompt (one per line) and one identity scale.")
        cells = len(prompt_list) * len(scale_list)
        if cells > self.limits.max_conflict_cells:
            raise InputError(f"{cells} cells asked for; at most {self.limits.max_conflict_cells} per grid.")
        one_frame = Audio.from_array(np.zeros(int(SAMPLE_RATE / DEFAULTS.render.fps), np.float32))
        self.outputs.clean()
        tiles: list[list[np.ndarray]] = []
        with self.manager.run_lock:
            pt = self.manager.get()
            for i, prompt in enumerate(prompt_list):
                row = []
                for j, scale in enumerate(scale_list):
                    progress((i * len(scale_list) + j, cells), desc=f"{prompt[:30]} · λ={scale:g}", unit="")
                    result = pt.generate(ref, one_frame, prompt=prompt, seed=int(seed or 0), engine=engine,
                                         size=CONFLICT_TILE, output=self.outputs.new_path(stem="conflict"),
                                         identity_scale=scale, steps=steps)  # fmt: skip
                    row.append(result.frames[0])
                tiles.append(row)
        return label_grid(tiles, prompt_list, [f"identity scale {s:g}" for s in scale_list], CONFLICT_TILE)

    # -- status ---------------------------------------------------------------------------------
    def status(self) -> tuple[str, str]:
        """The Status tab: its text, and the weights table as labelled rows that stack on a phone."""
        return self.manager.status_markdown(), stacked_table(WEIGHTS_HEADERS, self.manager.weights_table())
