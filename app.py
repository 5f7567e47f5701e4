"""PortraitTalk's Gradio app: reference portraits + speech (+ a prompt) -> a talking-face video.

Thin over the package: layout here, callbacks in :mod:`portraittalk.ui.handlers`. ``import app``
is cheap (no Gradio, no torch); :func:`build_app` builds the Blocks; ``python app.py`` launches.

    python app.py [--host 127.0.0.1] [--port 7860] [--share]
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Optional, Sequence

ROOT = Path(__file__).resolve().parent
ASSETS = ROOT / "assets"
OUTPUTS = ROOT / "outputs" / "app"

CSS = """
#engine label[data-testid$="(unavailable)-radio-label"] { opacity: .45; pointer-events: none; }
footer { display: none !important; }
#intro h1 { margin: 0 0 .1em; font-size: 1.6em; }
#intro p { margin: 0; }
#references [data-testid=upload-icon], #audio [data-testid=upload-icon] { display: none; }
#references [data-testid=upload-text], #audio [data-testid=upload-text] {
  flex-direction: row; flex-wrap: wrap; justify-content: center; gap: .3em; padding-top: 1.6em; }
.gradio-container { overflow: clip !important; }  /* hidden would make the page's own box the sticky frame */
#actions { position: sticky; bottom: 0; z-index: 20; padding: 6px 0; background: var(--body-background-fill); }
@media (max-width: 720px) {  /* one column: the bar stays on the screen under the result too, where the progress is */
  #actions { position: fixed; left: 0; right: 0; margin: 0; padding: 6px 16px;
             box-shadow: 0 -2px 6px rgb(0 0 0 / 12%); }
  .gradio-container { padding-bottom: 64px !important; } }
#audio .upload-container { min-height: 0 !important; height: 96px !important; }
#examples table { display: block; max-width: 100%; overflow-x: auto; }  /* scrolls inside its box if too wide */
#examples img { max-height: 72px; width: auto; }
#weights table.stacked { width: 100%; border-collapse: collapse; font-size: var(--text-sm); }
#weights .stacked th, #weights .stacked td { text-align: left; vertical-align: top; padding: 6px 8px;
                                             border-bottom: 1px solid var(--border-color-primary); }
@media (max-width: 720px) {  /* a phone: each weights row is a card of labelled lines; the metrics wrap tighter */
  #weights .stacked thead { display: none; }
  #weights .stacked tr { display: block; padding: 6px 0; border-bottom: 1px solid var(--border-color-primary); }
  #weights .stacked td { display: block; border: 0; padding: 2px 4px; overflow-wrap: anywhere; }
  #weights .stacked td::before { content: attr(data-label) ": "; font-weight: 600; }
  #metrics [role=gridcell] *, #metrics th * { font-size: 12px !important; overflow-wrap: normal !important;
                                              word-break: normal !important; }  /* "0.4931" stays whole */
  #metrics [role=gridcell], #metrics th { padding-left: 4px !important; padding-right: 4px !important; } }
#curves-legend .curve-key { display: inline-block; white-space: nowrap; margin: 0 1.2em .2em 0;
                            font-size: var(--text-sm); }
"""

INTRO = """# PortraitTalk
Photos of one person + speech (+ an optional prompt) → a video of them speaking. Add 1–8 photos and speech,
press **Generate**."""

GROUND_TRUTH = """A **ground truth** is a real video of the same person saying the same speech (for example the clip
whose first frame and sound you used). The numbers say how close the result comes to it; the last column says
how to read each one."""

# After Generate, bring the progress (drawn on the result video) into view, and the video again when
# it arrives: on a phone the result sits under the inputs. Nothing moves when it is already in view.
SHOW_RESULT = """() => { const el = document.querySelector('#result-video'); if (!el) return;
  const r = el.getBoundingClientRect();
  if (r.top < 0 || r.bottom > innerHeight) el.scrollIntoView({behavior: 'smooth', block: 'start'}); }"""

WHOLE_PHOTO = ("Slower: every frame is the whole photo, about 3–8× the time of the face alone (measured: 8 s of "
               "speech took 18.8 s instead of 2.4 s); the bigger the photo, the slower.")  # fmt: skip
# Engines that "auto" picks only on a GPU, when this server has none (measured: tiny weights, 3.4 s of speech).
SLOW_ON_CPU = (" This server has no GPU: the {names} engine runs on its CPU, about 30 s per second of speech "
               "(3.4 s took 102 s with tiny test weights).")  # fmt: skip

# (portraits, speech, prompt); an example with a prompt is offered only where an engine that follows a prompt runs.
EXAMPLES = [(["portraits/astronaut.png"], "speech/en_mbp.wav", ""),
            (["portraits/man.jpg"], "speech/en_voice2.wav", ""),
            (["portraits/astronaut.png"], "speech/es_sentence.wav", "oil painting")]  # fmt: skip


def build_app(manager: Any = None, limits: Any = None, output_root: Path = OUTPUTS, live: Any = None):
    """Build the Blocks (not launched); ``manager`` defaults to the process's shared one, ``live`` (the
    Live tab's :class:`~portraittalk.ui.live.LiveHandlers`) to one over it with this server's slots."""
    import gradio as gr

    from portraittalk.ui.handlers import Handlers, ServeLimits
    from portraittalk.ui.live import LiveHandlers, live_tab
    from portraittalk.ui.manager import shared_manager

    os.environ.setdefault("GRADIO_EXAMPLES_CACHE", str(output_root.parent / "app-examples"))
    limits = limits or ServeLimits()
    h = Handlers(manager or shared_manager(), limits, output_root)
    prompt_ok = h.manager.prompt_engine()[1]  # an engine that follows a prompt runs here
    live = live or LiveHandlers(h.manager)

    with gr.Blocks(title="PortraitTalk", delete_cache=(1800, 2 * 3600)) as demo:
        gr.Markdown(INTRO, elem_id="intro")
        last = gr.State(None)  # the last GenerationResult: the Motion tab draws on its frames
        with gr.Tabs():
            with gr.Tab("Generate"):
                _generate_tab(h, limits, prompt_ok, last)
            with gr.Tab("Live"):
                live_tab(live, demo, [str(ASSETS / refs[0]) for refs, _, _ in EXAMPLES[:2]])
            with gr.Tab("Motion"):
                _motion_tab(h, last)
            with gr.Tab("Conflict explorer", visible=prompt_ok):
                _conflict_tab(h)
            with gr.Tab("Status"):
                _status_tab(h, demo)
    demo.queue(max_size=limits.queue_size, default_concurrency_limit=1)
    return demo


def _engine_choice(h: Any) -> tuple[list[tuple[str, str]], str]:
    """The Engine radio's (label, name) choices, unavailable ones marked, and its help line (with a
    warning where an engine meant for a GPU would run on this CPU)."""
    from portraittalk.engines.registry import auto_order, engine_choices

    engines = h.manager.engine_status()
    choices = [(name if engines.get(name, (True, ""))[0] else f"{name} (unavailable)", name)
               for name in engine_choices()]  # fmt: skip
    help_line = h.manager.engine_help()
    slow = [e.name for e in auto_order() if e.auto_when == "on a GPU" and engines.get(e.name, (False, ""))[0]]
    if slow and h.manager.device_info()["device"] == "cpu":
        help_line += SLOW_ON_CPU.format(names=" and ".join(slow))
    return choices, help_line


def _inputs_column(h: Any, limits: Any) -> SimpleNamespace:
    """Portraits, speech, prompt, the action bar, the engine and the settings behind "More controls"."""
    import gradio as gr

    from portraittalk.config import FLAT
    from portraittalk.ui.widgets import engine_info, setting_slider as slider

    in_use = h.manager.engine_in_use(FLAT["engine"].default)
    choices, engine_help = _engine_choice(h)
    c = SimpleNamespace()
    c.references = gr.File(label=f"Reference portraits (1–{limits.max_references})", file_count="multiple",
                           file_types=["image"], elem_id="references", height=100)  # fmt: skip
    c.thumbs = gr.Gallery(show_label=False, columns=8, fit_columns=False, height=100, object_fit="cover",
                          interactive=False, elem_id="thumbnails", allow_preview=False, visible=False)  # fmt: skip
    c.audio = gr.Audio(label=f"Speech (up to {limits.max_audio_seconds:.0f} s)", sources=["upload", "microphone"],
                       type="filepath", elem_id="audio")  # fmt: skip
    c.prompt = gr.Textbox(label="Prompt", placeholder="e.g. oil painting, warm light", lines=1,
                          info=engine_info("prompt", in_use), elem_id="prompt")  # fmt: skip
    with gr.Row(elem_id="actions"):  # sticks to the bottom of the screen while scrolled above
        c.run = gr.Button("Generate", variant="primary", elem_id="generate-btn", scale=3, min_width=150)
        c.cancel = gr.Button("Cancel", variant="stop", elem_id="cancel-btn", scale=1, min_width=90)
    c.engine = gr.Radio(choices, value=FLAT["engine"].default, label="Engine", info=engine_help, elem_id="engine")
    with gr.Accordion("More controls: seed, size, fps, w1–w3, diffusion settings", open=False):
        with gr.Row(equal_height=True):
            c.seed = gr.Number(FLAT["seed"].default, label="Seed", precision=0, minimum=0)
            c.random_seed = gr.Button("🎲 Random", size="sm", scale=0, min_width=100)
        with gr.Row():
            c.size = slider("size", "Output size (px)", 64, minimum=256, maximum=1024, info=None)
            c.fps = slider("fps", "Frames per second", 1, minimum=10, info=None)
        c.full_frame = gr.Checkbox(FLAT["full_frame"].default, label="Whole photo (paste the face back)",
                                   info=WHOLE_PHOTO, elem_id="full-frame")  # fmt: skip
        c.w1 = slider("w1", "w1 · structure", 0.05)
        c.w2 = slider("w2", "w2 · head placement", 0.05)
        c.w3 = slider("w3", "w3 · temporal", 0.05)
        c.negative = gr.Textbox(FLAT["negative_prompt"].default, label="Negative prompt", lines=1,
                                info=engine_info("negative_prompt", in_use))  # fmt: skip
        c.identity_mode = gr.Radio([("concatenate", "concat"), ("blend", "blend")],
                                   value=FLAT["identity_mode"].default, label="Identity mode (several references)",
                                   info=engine_info("identity_mode", in_use))  # fmt: skip
        with gr.Row():
            c.steps = slider("steps", "Diffusion steps", 1, info=engine_info("steps", in_use))
            c.guidance = slider("guidance_scale", "Guidance", 0.5, info=engine_info("guidance_scale", in_use))
    return c


def _result_column() -> SimpleNamespace:
    """The result video, its note, Download, the settings used and the ground-truth comparison."""
    import gradio as gr

    from portraittalk.ui.views import CURVE_COLORS, curve_legend

    c = SimpleNamespace()
    c.video = gr.Video(label="Result", interactive=False, elem_id="result-video", height=400, buttons=["download"])
    # The note under the result: engine, ignored settings, and (to come) a quality warning.
    c.note = gr.Markdown(elem_id="engine-note")
    c.download = gr.DownloadButton("Download MP4", variant="secondary", interactive=False, elem_id="download")
    # /generate's third output for API clients; the page shows the seed in the note (a visible
    # output would draw its own pending timer beside the result's progress).
    c.seed_used = gr.Number(label="Seed used", precision=0, visible=False)
    with gr.Accordion("Settings used", open=False):
        c.settings = gr.JSON(label="Settings used", show_label=False)
    with gr.Accordion("Compare with a ground-truth video (ADFD and other metrics)", open=False, elem_id="adfd"):
        gr.Markdown(GROUND_TRUTH, elem_id="ground-truth-help")
        c.truth = gr.Video(label="Ground-truth video", sources=["upload"], elem_id="truth", height=240)
        c.evaluate = gr.Button("Compute metrics")
        c.metrics = gr.Dataframe(headers=["metric", "value", "how to read it"], label="Metrics", interactive=False,
                                 wrap=True, elem_id="metrics", max_height=1200,
                                 column_widths=["28%", "20%", "52%"])  # fmt: skip
        c.curves = gr.LinePlot(x="time_s", y="value", color="curve", label="Per-frame curves", x_title="time (s)",
                               y_title="score (1 = same)", y_lim=[0, 1], color_map=CURVE_COLORS, colors_in_legend=[],
                               elem_id="curves")  # fmt: skip
        gr.HTML(curve_legend(), elem_id="curves-legend")
    return c


def _generate_tab(h: Any, limits: Any, prompt_ok: bool, last: Any) -> None:
    """The Generate tab: inputs beside the result, the examples under them, and their events."""
    import gradio as gr

    from portraittalk.ui.handlers import ENGINE_DEPENDENT

    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=300):
            i = _inputs_column(h, limits)
        with gr.Column(scale=6, min_width=300):
            r = _result_column()
    preview = gr.Image(type="filepath", label="Portrait", visible=False)  # the examples' thumbnail column
    examples = [[str(ASSETS / refs[0]), [str(ASSETS / p) for p in refs], str(ASSETS / speech), text]
                for refs, speech, text in EXAMPLES if prompt_ok or not text]  # fmt: skip
    gr.Examples(examples=examples, inputs=[preview, i.references, i.audio, i.prompt],
                outputs=[r.video, r.download, r.seed_used, r.settings, r.note], fn=h.example,
                visible_columns=[0, 2, 3] if prompt_ok else [0, 2], cache_examples=True, cache_mode="lazy",
                elem_id="examples")  # fmt: skip
    truth_previews = gr.State(None)  # {name of the player's H.264 copy: the uploaded ground truth}

    inputs = [i.references, i.audio, i.prompt, i.negative, i.engine, i.w1, i.w2, i.w3, i.identity_mode, i.steps,
              i.guidance, i.seed, i.size, i.fps, i.full_frame]  # fmt: skip
    i.run.click(None, js=SHOW_RESULT, queue=False)
    gen = i.run.click(h.generate, inputs, [r.video, r.download, r.seed_used, r.settings, r.note, last],
                      api_name="generate", concurrency_id="render", concurrency_limit=1,
                      show_progress_on=[r.video])  # fmt: skip
    gen.failure(h.generation_failed, None, [r.video, r.note], api_visibility="private", queue=False)
    r.video.change(h.result_shown, r.video, r.download, api_visibility="private", queue=False, show_progress="hidden")
    r.video.change(None, js=SHOW_RESULT, queue=False)  # a result from Generate or from an example
    i.cancel.click(h.cancel, None, r.note, cancels=[gen], api_visibility="private", queue=False)
    i.random_seed.click(h.random_seed, None, i.seed, api_visibility="private", queue=False)
    i.references.change(h.references_changed, i.references, [i.references, i.thumbs], api_visibility="private",
                        show_progress="hidden")  # fmt: skip
    dependent = {"prompt": i.prompt, "negative_prompt": i.negative, "identity_mode": i.identity_mode,
                 "steps": i.steps, "guidance_scale": i.guidance}  # fmt: skip
    i.engine.change(h.setting_infos, i.engine, [dependent[name] for name in ENGINE_DEPENDENT],
                    api_visibility="private", queue=False)  # fmt: skip
    r.truth.upload(h.truth_uploaded, r.truth, [r.truth, truth_previews], api_visibility="private")
    r.evaluate.click(h.evaluate, [r.video, r.truth, i.references, truth_previews], [r.metrics, r.curves],
                     api_name="evaluate")  # fmt: skip


def _motion_tab(h: Any, last: Any) -> None:
    import gradio as gr

    gr.Markdown("The landmark track (MotionTrack) of the last result, drawn over its frames.")
    draw = gr.Button("Draw the landmark track")
    video = gr.Video(label="Landmark track", interactive=False, elem_id="motion-video", height=480)
    draw.click(h.motion, last, video, api_visibility="private", concurrency_id="render")


def _conflict_tab(h: Any) -> None:
    import gradio as gr

    from portraittalk.ui.widgets import setting_slider

    gr.Markdown("First frames for each prompt × identity scale: where the prompt and the identity pull apart.")
    with gr.Row():
        with gr.Column(min_width=280):
            ref = gr.Image(label="Reference portrait", type="filepath")
            prompts = gr.Textbox(label="Prompts (one per line)", lines=4,
                                 value="a photo\nan oil painting\na pencil sketch")  # fmt: skip
            scales = gr.Textbox(label="Identity scales", value="0.3, 0.6, 0.9")
            with gr.Row():
                seed = gr.Number(0, label="Seed", precision=0, minimum=0)
                steps = setting_slider("steps", "Diffusion steps", 1, info=None)
            run = gr.Button("Render grid", variant="primary")
        grid = gr.Image(label="First frames", interactive=False, min_width=300)
    run.click(h.conflicts, [ref, prompts, scales, seed, steps], grid, api_visibility="private",
              concurrency_id="render")  # fmt: skip


def _status_tab(h: Any, demo: Any) -> None:
    import gradio as gr

    status_md = gr.Markdown(elem_id="status")
    gr.Markdown("**Weights**")
    weights = gr.HTML(elem_id="weights")
    refresh = gr.Button("Refresh", size="sm")
    refresh.click(h.status, None, [status_md, weights], api_visibility="private", queue=False)
    demo.load(h.status, None, [status_md, weights], api_visibility="private", queue=False)


def launch(demo: Any, host: str = "127.0.0.1", port: Optional[int] = None, share: bool = False,
           max_file_size: str = "25mb", **kwargs: Any) -> Any:  # fmt: skip
    """Launch with the app's theme, CSS and upload limit; ``kwargs`` go to ``Blocks.launch``."""
    import gradio as gr

    return demo.launch(server_name=host, server_port=port, share=share, max_file_size=max_file_size,
                       theme=gr.themes.Soft(), css=CSS, allowed_paths=[str(ASSETS)], **kwargs)  # fmt: skip


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description="Run the PortraitTalk web app.")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    parser.add_argument("--share", action="store_true", help="also serve through a public gradio.live link")
    args = parser.parse_args(argv)
    from portraittalk.ui.handlers import ServeLimits

    limits = ServeLimits()
    launch(build_app(limits=limits), args.host, args.port, args.share, limits.max_file_size)


if __name__ == "__main__":
    main()
