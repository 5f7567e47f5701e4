"""PortraitTalk's Gradio app: reference portraits + speech (+ a prompt) -> a talking-face video.

Thin over the package: layout here, callbacks in :mod:`portraittalk.ui.handlers`. ``import app``
is cheap (no Gradio, no torch); :func:`build_app` builds the Blocks; ``python app.py`` launches.

    python app.py [--host 127.0.0.1] [--port 7860] [--share]
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, Optional, Sequence

ROOT = Path(__file__).resolve().parent
ASSETS = ROOT / "assets"
OUTPUTS = ROOT / "outputs" / "app"

CSS = """
#engine label[data-testid$="(unavailable)-radio-label"] { opacity: .45; pointer-events: none; }
footer { display: none !important; }
"""

INTRO = """# PortraitTalk
Reference portraits + a speech recording (+ an optional prompt) → a video of that person speaking.
Add 1–8 photos of one person, add speech, press **Generate**."""


def build_app(manager: Any = None, limits: Any = None, output_root: Path = OUTPUTS):
    """Build the Blocks (not launched); ``manager`` defaults to the process's shared one."""
    import gradio as gr

    from portraittalk.config import ENGINE_CHOICES, FLAT
    from portraittalk.ui.handlers import Handlers, ServeLimits
    from portraittalk.ui.manager import WEIGHTS_HEADERS, shared_manager
    from portraittalk.ui.widgets import setting_slider

    os.environ.setdefault("GRADIO_EXAMPLES_CACHE", str(output_root.parent / "app-examples"))
    limits = limits or ServeLimits()
    h = Handlers(manager or shared_manager(), limits, output_root)
    engines = h.manager.engine_status()
    engine_choices = [(name if engines.get(name, (True, ""))[0] else f"{name} (unavailable)", name)
                      for name in ENGINE_CHOICES]  # fmt: skip
    engine_info = "; ".join(f"{n}: {why}" for n, (ok, why) in engines.items() if not ok) or "all engines available"
    diffusion_ok, diffusion_why = engines.get("diffusion", (False, "unknown engine"))
    slider = setting_slider

    with gr.Blocks(title="PortraitTalk", delete_cache=(1800, 2 * 3600)) as demo:
        gr.Markdown(INTRO)
        last = gr.State(None)
        with gr.Tabs():
            with gr.Tab("Generate"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=5, min_width=300):
                        references = gr.File(label=f"Reference portraits (1–{limits.max_references})",
                                             file_count="multiple", file_types=["image"], elem_id="references",
                                             height=130)
                        thumbs = gr.Gallery(show_label=False, columns=7, fit_columns=False, height=118, object_fit="cover",
                                            interactive=False, elem_id="thumbnails", allow_preview=False)
                        audio = gr.Audio(label=f"Speech (up to {limits.max_audio_seconds:.0f} s)",
                                         sources=["upload", "microphone"], type="filepath", elem_id="audio")
                        prompt = gr.Textbox(label="Prompt", placeholder="e.g. oil painting, warm light", lines=1)
                        with gr.Row():
                            run = gr.Button("Generate", variant="primary", elem_id="generate-btn", scale=3)
                            cancel = gr.Button("Cancel", variant="stop", elem_id="cancel-btn", scale=1)
                        engine = gr.Radio(engine_choices, value=FLAT["engine"].default, label="Engine", info=engine_info,
                                          elem_id="engine")
                        with gr.Accordion("More controls: negative prompt, w1–w3, identity, seed, size, fps",
                                          open=False):
                            negative = gr.Textbox(FLAT["negative_prompt"].default, label="Negative prompt", lines=1)
                            w1 = slider("w1", "w1 · structure", 0.05)
                            w2 = slider("w2", "w2 · head placement", 0.05)
                            w3 = slider("w3", "w3 · temporal", 0.05)
                            identity_mode = gr.Radio([("concatenate", "concat"), ("blend", "blend")],
                                                     value=FLAT["identity_mode"].default,
                                                     label="Identity mode (several references)")  # fmt: skip
                            with gr.Row():
                                steps = slider("steps", "Diffusion steps", 1, info=None)
                                guidance = slider("guidance_scale", "Guidance", 0.5, info=None)
                            with gr.Row(equal_height=True):
                                seed = gr.Number(FLAT["seed"].default, label="Seed", precision=0, minimum=0)
                                random_seed = gr.Button("🎲 Random", size="sm", scale=0, min_width=100)
                            with gr.Row():
                                size = slider("size", "Output size (px)", 64, minimum=256, maximum=1024, info=None)
                                fps = slider("fps", "Frames per second", 1, minimum=10, info=None)
                            full_frame = gr.Checkbox(FLAT["full_frame"].default, label="Whole photo (paste the face back)")
                    with gr.Column(scale=6, min_width=300):
                        video = gr.Video(label="Result", interactive=False, elem_id="result-video", height=420,
                                         buttons=["download"])
                        note = gr.Markdown(label="engine_note", elem_id="engine-note")
                        with gr.Row():
                            download = gr.DownloadButton("Download MP4", variant="secondary", scale=2)
                            seed_used = gr.Number(label="Seed used", interactive=False, precision=0, scale=1)
                        with gr.Accordion("Settings used", open=False):
                            settings = gr.JSON(label="Settings used", show_label=False)
                        with gr.Accordion("Evaluate against a ground-truth video (ADFD)", open=False):
                            truth = gr.Video(label="Ground-truth video", sources=["upload"], elem_id="truth")
                            evaluate = gr.Button("Compute metrics")
                            metrics = gr.Dataframe(headers=["metric", "value", "note"], label="Metrics",
                                                   interactive=False, wrap=True, elem_id="metrics")
                            curves = gr.LinePlot(x="time_s", y="value", color="curve", label="Per-frame curves",
                                                 x_title="time (s)", y_lim=[0, 1], height=260, elem_id="curves")
                gr.Examples(
                    examples=[[[str(ASSETS / "portraits/astronaut.png")], str(ASSETS / "speech/en_mbp.wav"), ""],
                              [[str(ASSETS / "portraits/man.jpg")], str(ASSETS / "speech/en_voice2.wav"), ""],
                              [[str(ASSETS / "portraits/astronaut.png")], str(ASSETS / "speech/es_sentence.wav"),
                               "oil painting"]],
                    inputs=[references, audio, prompt], outputs=[video, download, seed_used, settings, note],
                    fn=h.example, cache_examples=True, cache_mode="lazy",
                )  # fmt: skip
            with gr.Tab("Motion"):
                gr.Markdown("The landmark track (MotionTrack) of the last result, drawn over its frames.")
                motion_btn = gr.Button("Draw the landmark track")
                motion_video = gr.Video(label="Landmark track", interactive=False, elem_id="motion-video", height=480)
            with gr.Tab("Conflict explorer"):
                gr.Markdown("First frames for each prompt × identity scale: where the prompt and the "
                            "identity pull apart.")  # fmt: skip
                if not diffusion_ok:
                    gr.Markdown(f"**Needs the diffusion engine, which is unavailable here:** {diffusion_why}\n\n"
                                f"{h.manager.how_to_get()}\n\nPut them in the server's weights folder (or point "
                                "`PORTRAITTALK_WEIGHTS` at a folder that has them) and restart the app.",
                                elem_id="conflict-help")
                with gr.Row(visible=diffusion_ok):
                    with gr.Column(min_width=280):
                        c_ref = gr.Image(label="Reference portrait", type="filepath")
                        c_prompts = gr.Textbox(label="Prompts (one per line)", lines=4,
                                               value="a photo\nan oil painting\na pencil sketch")
                        c_scales = gr.Textbox(label="Identity scales", value="0.3, 0.6, 0.9")
                        with gr.Row():
                            c_seed = gr.Number(0, label="Seed", precision=0, minimum=0)
                            c_steps = slider("steps", "Diffusion steps", 1, info=None)
                        c_run = gr.Button("Render grid", variant="primary")
                    c_grid = gr.Image(label="First frames", interactive=False, min_width=300)
            with gr.Tab("Status"):
                status_md = gr.Markdown(elem_id="status")
                weights = gr.Dataframe(headers=WEIGHTS_HEADERS, label="Weights", interactive=False, wrap=True,
                                       column_widths=["120px", "80px", "360px", "260px", "320px", "320px"],
                                       elem_id="weights")
                refresh = gr.Button("Refresh", size="sm")

        gen_inputs = [references, audio, prompt, negative, engine, w1, w2, w3, identity_mode, steps, guidance,
                      seed, size, fps, full_frame]
        gen = run.click(h.generate, gen_inputs, [video, download, seed_used, settings, note, last],
                        api_name="generate", concurrency_id="render", concurrency_limit=1)
        cancel.click(h.cancel, None, note, cancels=[gen], api_visibility="private", queue=False)
        random_seed.click(h.random_seed, None, seed, api_visibility="private", queue=False)
        references.change(h.thumbnails, references, thumbs, api_visibility="private", queue=False)
        evaluate.click(h.evaluate, [video, truth, references], [metrics, curves], api_name="evaluate")
        motion_btn.click(h.motion, last, motion_video, api_visibility="private", concurrency_id="render")
        c_run.click(h.conflicts, [c_ref, c_prompts, c_scales, c_seed, c_steps], c_grid, api_visibility="private",
                    concurrency_id="render")
        refresh.click(h.status, None, [status_md, weights], api_visibility="private", queue=False)
        demo.load(h.status, None, [status_md, weights], api_visibility="private", queue=False)
    demo.queue(max_size=limits.queue_size, default_concurrency_limit=1)
    return demo


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
