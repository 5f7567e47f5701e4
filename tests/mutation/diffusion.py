"""Plausible bugs in the diffusion engine, its importers and its drawing; each must make a test fail.

    .venv/bin/python tests/mutation/mutate.py --only "diffusion:"
"""
from __future__ import annotations

from mutation.mutate import Mutant

D = "portraittalk/engines/diffusion/"
ENGINE = ("tests/diffusion/test_engine.py",)
PIPELINE = ("tests/diffusion/test_pipeline.py",)
IMPORT = ("tests/diffusion/test_import.py",)
MODELS = ("tests/diffusion/test_models.py",)
DRAW = ("tests/diffusion/test_draw.py",)


def _m(name: str, path: str, old: str, new: str, tests: tuple[str, ...]) -> Mutant:
    return Mutant(f"diffusion: {name}", path, old, new, tests)


MUTANTS: list[Mutant] = [
    # sampling
    _m("CFG halves swapped", D + "pipeline.py", "uncond, cond = pred.chunk(2)", "cond, uncond = pred.chunk(2)",
       PIPELINE),
    _m("face tokens of the two CFG halves swapped", D + "pipeline.py", "return tokens[:1], tokens[1:]",
       "return tokens[1:], tokens[:1]", ENGINE),
    _m("prompt and negative prompt swapped", D + "pipeline.py", "return states[1:], states[:1]",
       "return states[:1], states[1:]", ENGINE),
    _m("identity scale ignored", D + "engine.py", "cfg.guidance_scale, cfg.identity_scale, scales",
       "cfg.guidance_scale, 0.6, scales", ENGINE),
    _m("conditioning scale not passed on", D + "engine.py", "scales, cfg.conditioning_scale, init", "scales, 1.0, init",
       ENGINE),
    # the frame loop
    _m("track ignored: frame 0's landmarks every frame", D + "engine.py", "points = landmarks[t] * scale",
       "points = landmarks[0] * scale", ENGINE),
    _m("structure drawn from the w-scaled track", D + "engine.py",
       "        return apply_controls(track, Controls(), request.render.smoothing_s)\n",
       "        return apply_controls(track, request.controls, request.render.smoothing_s)\n", ENGINE),
    _m("controls applied again to the drawn track", D + "engine.py", "        landmarks = drawn.landmarks\n",
       "        landmarks = apply_controls(drawn, request.controls, request.render.smoothing_s).landmarks\n", ENGINE),
    Mutant("pipeline: the check and the result judge the warp engine's meaning of w1-w3", "portraittalk/pipeline.py",
           "        drawn = engine.drawn(track, request)\n",
           "        from .engines.warp import WarpEngine\n        drawn = WarpEngine.drawn(engine, track, request)\n",
           ENGINE),
    _m("previous latent never updated", D + "engine.py", "                previous = out.latents.to(self.dtype)\n",
       "                pass\n", ENGINE),
    _m("contour never updated", D + "engine.py",
       "contour = head_contour(image, points, person_mask(image, weights=self.weights))", "contour = contour", ENGINE),
    _m("warp frames rendered with the user's w1-w3", D + "engine.py",
       "start = self.start_frames.frames(references, drawn, request)",
       "start = self.start_frames.render(references, drawn, request)", ENGINE),
    _m("progress forgets the skipped steps", D + "engine.py",
       "            done += cfg.steps - pipe.steps_to_run(cfg.steps, strength)  # steps every pixel skips\n", "",
       ENGINE),
    _m("dlib embeddings fed to an ArcFace-only adapter", D + "engine.py", "    if DLIB_DIM in widths:\n",
       "    if True:\n", IMPORT),
    _m("recorded drawing style ignored by the engine", D + "engine.py",
       "draw_condition(points, (res, res), style=animatenet.config.drawing_style)",
       "draw_condition(points, (res, res))", IMPORT),
    # stability: differential SDEdit from the warp frames
    _m("held pixels not noised", D + "pipeline.py",
       "held = self.scheduler.add_noise(init_latents, noise, t.reshape(1))", "held = init_latents", PIPELINE),
    _m("warp frame never used", D + "pipeline.py", "latents = torch.where(start >= i, held, latents)",
       "latents = latents", PIPELINE),
    _m("a pixel starts one step late", D + "pipeline.py", "latents = torch.where(start >= i, held, latents)",
       "latents = torch.where(start > i, held, latents)", PIPELINE),
    _m("never-started pixels not the warp latent", D + "pipeline.py",
       "latents = torch.where(start >= num_inference_steps, init_latents, latents)", "latents = latents", PIPELINE),
    _m("mouth not freer than the rest", D + "stability.py", "MOUTH_EXTRA = 0.5", "MOUTH_EXTRA = 0.0", PIPELINE),
    # identity tokens
    _m("face K and V swapped in the processor", D + "models/attention.py",
       "_attend(attn, query, self.to_k_face(tokens), self.to_v_face(tokens))",
       "_attend(attn, query, self.to_v_face(tokens), self.to_k_face(tokens))", IMPORT),
    _m("face attention scale ignored", D + "models/attention.py",
       "return scale * _attend(attn, query, self.to_k_face(tokens), self.to_v_face(tokens))",
       "return _attend(attn, query, self.to_k_face(tokens), self.to_v_face(tokens))", IMPORT),
    _m("blend uses only the first reference", D + "models/face_projection.py",
       "return self(F.normalize(embeds.float(), dim=-1).mean(dim=1))", "return self(embeds[:, 0])", MODELS),
    _m("concat mixes up faces and tokens", D + "models/face_projection.py", "return self(embeds.reshape(b * r, d)).reshape(",
       "return self(embeds.transpose(0, 1).reshape(b * r, d)).reshape(", MODELS),
    _m("embeddings not normalised", D + "models/face_projection.py",
       "x = F.normalize(embeds.to(self.proj.weight.dtype), dim=-1)", "x = embeds.to(self.proj.weight.dtype)", MODELS),
    # IP-Adapter-FaceID converter
    _m("face K and V swapped in the converter", D + "checkpoints/convert.py",
       '(("to_k_face", "to_k_ip"), ("to_v_face", "to_v_ip"))', '(("to_k_face", "to_v_ip"), ("to_v_face", "to_k_ip"))',
       IMPORT),
    _m("wrong processor order in the converter", D + "checkpoints/convert.py", "processors = list(unet.attn_processors)",
       "processors = sorted(unet.attn_processors)", IMPORT),
    _m("LoRA on the wrong projections", D + "checkpoints/convert.py", '"to_k_lora": "to_k", "to_v_lora": "to_v"',
       '"to_k_lora": "to_v", "to_v_lora": "to_k"', IMPORT),
    _m("checkpoint's hidden width ignored", D + "checkpoints/convert.py", '"num_tokens": tokens, "hidden_dim": hidden}',
       '"num_tokens": tokens, "hidden_dim": None}', IMPORT),
    _m("LoRA not merged", D + "models/identitynet.py", "        merge_lora(self.unet, lora)\n", "", IMPORT),
    # ControlNet -> AnimateNet
    _m("imported Eq. (2) attention not inert", D + "models/animatenet.py", "                    param.zero_()\n",
       "                    pass\n", IMPORT),
    _m("per-call conditioning scale ignored", D + "models/animatenet.py",
       "conditioning_scale=conditioning_scale * self.config.conditioning_scale,",
       "conditioning_scale=self.config.conditioning_scale,", IMPORT),
    _m("recorded conditioning scale ignored", D + "models/animatenet.py",
       "conditioning_scale=conditioning_scale * self.config.conditioning_scale,",
       "conditioning_scale=conditioning_scale,", IMPORT),
    _m("drawing style not recorded", D + "models/animatenet.py",
       "model = cls(cfg, drawing_style=drawing_style, conditioning_scale=conditioning_scale,",
       "model = cls(cfg, conditioning_scale=conditioning_scale,", IMPORT),
    # importing: nothing half-written
    _m("failed import leaves its staging folder", D + "checkpoints/importer.py", "        shutil.rmtree(stage, ignore_errors=True)\n",
       "        pass\n", IMPORT),
    _m("replaced files hard-linked into the stage", D + "checkpoints/importer.py",
       'if entry.name not in (*replaces, "config.json"):', 'if entry.name != "config.json":', IMPORT),
    # the LAION-Face drawing
    _m("LAION-Face lines anti-aliased", "portraittalk/face/draw.py", "colour, LAION_FACE_THICKNESS)",
       "colour, LAION_FACE_THICKNESS, cv2.LINE_AA)", DRAW),
    _m("LAION-Face pupils not drawn", "portraittalk/face/draw.py",
       "            canvas[y - half:y + half, x - half:x + half] = colour\n", "            pass\n", DRAW),
    _m("LAION-Face colours left in BGR", "portraittalk/face/draw.py",
       "return np.ascontiguousarray(canvas[..., ::-1])", "return canvas", DRAW),
    _m("LAION-Face points rounded, not floored", "portraittalk/face/draw.py",
       "np.floor(fractions * [width, height])", "np.round(fractions * [width, height])", DRAW),
]

# The engine registry and what the CLI says about engines (tests/test_engine_registry.py, tests/test_cli.py)
R = "portraittalk/engines/registry.py"
MUTANTS += [
    Mutant("engines: the warp engine's drawn track ignores w1-w3", "portraittalk/engines/warp/__init__.py",
           "        return apply_controls(track, request.controls, request.render.smoothing_s)\n", "        return track\n",
           ("tests/test_settings.py",)),
    Mutant("engine registry: an entry's ignored settings not read by the note", R,
           "for name in entry(engine).ignored_settings if", "for name in () if", ("tests/app/test_engine_settings.py",)),
    Mutant("engine registry: auto picks an engine that cannot run", R,
           "        ok, why = e.auto(weights, runtime)\n        if ok:\n",
           "        ok, why = e.auto(weights, runtime)\n        if True:\n", ("tests/test_warp_and_api.py",)),
    Mutant("engine registry: the config's choices miss a registered engine", R, "    return (AUTO,) + engine_names()\n",
           "    return (AUTO, 'warp', 'diffusion')\n", ("tests/test_engine_registry.py",)),
    Mutant("engine registry: the diffusion engine built with no start frames", R,
           "DiffusionEngine.from_pretrained(weights, runtime, start_frames=entry(", "DiffusionEngine.from_pretrained("
           "weights, runtime, start_frames=None and entry(", ENGINE),
    _m("status names only the first missing component", D + "checkpoints/status.py", "    if len(names) == 1:\n",
       "    if names:\n",
       ("tests/test_cli.py::test_asking_for_the_diffusion_engine_without_weights_names_everything_missing",)),
    _m("no warning that the CPU is slow", D + "engine.py", '        if self.device.type == "cpu":\n',
       "        if False:\n", ("tests/diffusion/test_cli.py",)),
    Mutant("pipeline: the artifact warning blames the photo whatever the engine", "portraittalk/pipeline.py",
           "engine.still_background, engine.artifact_advice)", "engine.still_background)", ("tests/diffusion/test_cli.py",)),
    Mutant("cli: every run tells of the engines it did not use", "portraittalk/cli/generate.py",
           '(f" ({reason})" if others else "")', 'f" ({reason})"',
           ("tests/test_cli.py::test_generate_with_track_and_two_references",)),
]
