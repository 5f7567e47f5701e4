"""The render loop on tiny weights: frames, sizes, progress, seeds, schedulers, CFG, references."""
from __future__ import annotations

import numpy as np
import pytest

from portraittalk.config import GenerateRequest, RuntimeConfig, SamplingConfig
from portraittalk.weights import Weights

from .conftest import stub_reference, stub_track


@pytest.fixture(scope="module")
def engine(tiny_dir):
    """Built as the pipeline builds it: by the registry, with the warp engine's frames to start from."""
    from portraittalk.engines.registry import build_engine

    return build_engine("diffusion", Weights(tiny_dir), RuntimeConfig(device="cpu"))


def _render(engine, refs=None, track=None, progress=None, **sampling):
    """Stub references have no photo for the warp engine: they render from noise (denoise_strength 1)."""
    refs = refs or [stub_reference()]
    track = track or stub_track(refs[0])
    req = GenerateRequest(prompt="a portrait", sampling=SamplingConfig(**{"steps": 2, "denoise_strength": 1.0,
                                                                          **sampling}), seed=3)  # fmt: skip
    return list(engine.render(refs, track, req, progress or (lambda *a: None)))


def test_frames_have_the_track_size_and_come_one_per_landmark_frame(engine):
    ref = stub_reference()
    track = stub_track(ref, frames=3, size=(80, 96))
    seen = []
    frames = _render(engine, [ref], track, progress=lambda *a: seen.append(a))
    assert len(frames) == 3
    assert all(f.shape == (96, 80, 3) and f.dtype == np.uint8 for f in frames)
    assert seen == [("rendering", k, 6) for k in range(1, 7)]
    assert engine.resolution == 64


def test_frames_stream_as_they_are_produced(engine):
    ref = stub_reference()
    seen = []
    req = GenerateRequest(sampling=SamplingConfig(steps=2, denoise_strength=1.0))
    it = engine.render([ref], stub_track(ref, frames=3), req, lambda *a: seen.append(a[1]))
    next(it)
    assert seen == [1, 2]  # the first frame arrives before the second is sampled


def test_seeded_renders_repeat_and_settings_matter(engine):
    first = _render(engine)
    assert all(np.array_equal(a, b) for a, b in zip(first, _render(engine)))
    for other in ({"scheduler": "ddim"}, {"guidance_scale": 1.0}, {"identity_scale": 0.0}, {"conditioning_scale": 0.0}):
        assert not np.array_equal(_render(engine, **other)[0], first[0]), other


def test_negative_prompt_and_controls_change_the_output(engine):
    ref = stub_reference()
    track = stub_track(ref, frames=1)
    base = GenerateRequest(prompt="a portrait", sampling=SamplingConfig(steps=2, denoise_strength=1.0))
    a = next(engine.render([ref], track, base))
    b = next(engine.render([ref], track, base.updated(negative_prompt="blurry")))
    c = next(engine.render([ref], track, base.updated(w1=0.0, w2=0.0, w3=0.0)))
    assert not np.array_equal(a, b) and not np.array_equal(a, c)


def test_several_references_concat_or_blend(engine):
    refs = [stub_reference(0), stub_reference(1)]
    track = stub_track(refs[0], frames=1)
    concat = _render(engine, refs, track, identity_mode="concat")[0]
    blend = _render(engine, refs, track, identity_mode="blend")[0]
    assert concat.shape == blend.shape and not np.array_equal(concat, blend)


def test_bad_settings_are_user_errors(engine):
    from portraittalk.errors import InputError

    with pytest.raises(InputError, match="scheduler"):
        _render(engine, scheduler="euler")
    with pytest.raises(InputError, match="identity_mode"):
        _render(engine, identity_mode="mix")


def test_dtype_choice():
    import torch

    from portraittalk.runtime import torch_dtype

    assert torch_dtype("auto", "cpu") == torch.float32
    assert torch_dtype("auto", "cuda") == torch.bfloat16
    assert torch_dtype("fp16", "cpu") == torch.float32
    assert torch_dtype("bf16", "cpu") == torch.float32
    assert torch_dtype("fp32", "cuda:1") == torch.float32


def test_bf16_render_on_cpu(tiny_dir, monkeypatch):
    """bf16 is a GPU precision; with the resolver told it may use it on the CPU, the render runs in bf16."""
    import torch

    from portraittalk.engines.diffusion import DiffusionEngine, engine as engine_module

    monkeypatch.setattr(engine_module, "torch_dtype", lambda name, device: torch.bfloat16)
    engine = DiffusionEngine.from_pretrained(Weights(tiny_dir), RuntimeConfig(device="cpu", dtype="bf16"))
    assert engine.dtype == torch.bfloat16
    frame = _render(engine, track=stub_track(stub_reference(), frames=1))[0]
    assert frame.shape == (96, 80, 3)


def test_importing_the_package_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, portraittalk, portraittalk.engines.diffusion as d; from portraittalk.weights import Weights; "
            "from portraittalk.engines.registry import choose_engine, engine_status; from portraittalk.config "
            "import RuntimeConfig; w = Weights.resolve('/nonexistent'); d.diffusion_status(w); engine_status(w); "
            "choose_engine('auto', w, RuntimeConfig()); assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_offload_hooks_give_the_same_frames(tiny_dir, monkeypatch):
    """diffusers' ``enable_model_cpu_offload`` chain (text encoder -> denoiser -> VAE), exercised with
    the CPU as the execution device since offloading only switches itself on with a GPU. Equal up to
    float rounding (the hooked forward differs by ~1e-6 in the noise prediction)."""
    from portraittalk.engines.diffusion import DiffusionEngine

    track = stub_track(stub_reference(), frames=2)
    plain = _render(DiffusionEngine.from_pretrained(Weights(tiny_dir), RuntimeConfig(device="cpu")), track=track)
    monkeypatch.setattr(DiffusionEngine, "_offload", property(lambda self: True))
    offloaded = DiffusionEngine.from_pretrained(Weights(tiny_dir), RuntimeConfig(device="cpu", cpu_offload=True))
    pipe = offloaded.pipe
    assert all(hasattr(m, "_hf_hook") for m in (pipe.text_encoder, pipe.denoiser, pipe.vae))
    again = _render(offloaded, track=track)
    assert all(np.abs(a.astype(int) - b).max() <= 1 for a, b in zip(plain, again))


def test_identity_backend_follows_the_trained_projection():
    from portraittalk.engines.diffusion.engine import identity_vector
    from portraittalk.errors import MissingWeightsError
    from portraittalk.face.identity import IdentityEmbedding

    class TwoBackends:
        def __init__(self, auto_dim: int) -> None:
            self.auto_dim = auto_dim

        def identity(self, backend: str = "auto") -> IdentityEmbedding:
            dim = self.auto_dim if backend == "auto" else 128
            return IdentityEmbedding(np.ones(dim, np.float32), "insightface" if dim == 512 else "dlib")

    assert identity_vector(TwoBackends(512), (512, 128)).shape == (512,)
    assert identity_vector(TwoBackends(512), (128,)).shape == (128,)  # dlib-trained adapters, insightface present
    assert identity_vector(TwoBackends(128), (512, 128)).shape == (128,)
    with pytest.raises(MissingWeightsError, match="insightface"):
        identity_vector(TwoBackends(128), (512,))  # insightface-trained adapters, insightface missing


def test_a_changed_load_time_setting_rebuilds_the_engine_and_sampling_settings_do_not(tiny_dir):
    """dtype / offload / device are fixed when an engine loads: asking for another rebuilds it; steps,
    guidance and the scheduler are per call and reuse the loaded models."""
    import torch

    from portraittalk import PortraitTalk
    from portraittalk.media import Audio

    from shared_inputs import PORTRAIT

    pt = PortraitTalk(Weights(tiny_dir), GenerateRequest(engine="diffusion").updated(device="cpu", steps=1))
    audio = Audio.from_array(np.zeros(3200, np.float32))  # 0.2 s: 5 frames
    pt.generate([PORTRAIT], audio, size=64)
    first = pt._engines["diffusion"][1]
    pt.generate([PORTRAIT], audio, size=64, steps=2, guidance_scale=2.0, scheduler="ddim")
    assert pt._engines["diffusion"][1] is first
    result = pt.generate([PORTRAIT], audio, size=64, dtype="fp16")  # fp16 means fp32 on a CPU
    rebuilt = pt._engines["diffusion"][1]
    assert rebuilt is not first and rebuilt.runtime.dtype == "fp16" and rebuilt.dtype == torch.float32
    assert result.settings["runtime"]["dtype"] == "fp16"


def test_the_result_and_the_check_use_where_the_diffusion_engine_drew_the_face(tiny_dir, monkeypatch):
    """Here w1–w3 scale attention, so the face is drawn on the track at the default controls: the
    result (the motion overlay reads it) and the artifact check must say so, not the warp engine's
    w-scaled motion."""
    from portraittalk import PortraitTalk
    from portraittalk.config import Controls
    from portraittalk.media import Audio, load_audio
    from portraittalk.motion.controls import apply_controls
    from portraittalk.quality import ArtifactCheck

    from shared_inputs import PORTRAIT, SPEECH

    audio = Audio.from_array(load_audio(SPEECH).samples[8000:14400])  # 0.4 s of speech: 10 frames
    pt = PortraitTalk(Weights(tiny_dir), GenerateRequest(engine="diffusion").updated(device="cpu", steps=1))
    judged = _spy(monkeypatch, ArtifactCheck, "update")
    result = pt.generate([PORTRAIT], audio, size=64, w1=2.0, w2=0.0)
    assert result.engine == "diffusion"
    at_default = apply_controls(result.track, Controls(), 0.04).landmarks
    scaled = apply_controls(result.track, Controls(w1=2.0, w2=0.0), 0.04).landmarks
    assert np.abs(at_default - scaled).max() > 0.5  # the controls would move the face
    assert np.array_equal(result.drawn.landmarks, at_default)
    assert np.array_equal(np.stack([args["landmarks"] for args, _ in judged]), at_default)


def _spy(monkeypatch, cls, method: str) -> list:
    """Record the bound arguments and the result of every call of ``cls.method``."""
    import inspect

    calls = []
    original = getattr(cls, method)
    signature = inspect.signature(original)

    def spy(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        calls.append((signature.bind(self, *args, **kwargs).arguments, result))
        return result

    monkeypatch.setattr(cls, method, spy)
    return calls


def test_frame_t_uses_landmarks_t_and_the_latent_and_contour_of_frame_t_minus_1(engine, references, monkeypatch):
    """Spies on the frame pipeline: what each frame is conditioned on, against values computed
    here with the same public functions (and the warp engine's own frames as the SDEdit start)."""
    import torch

    from portraittalk.config import Controls
    from portraittalk.engines.diffusion.pipeline import PortraitTalkFramePipeline
    from portraittalk.engines.diffusion.stability import strength_map
    from portraittalk.engines.warp import WarpEngine
    from portraittalk.face.contour import head_contour
    from portraittalk.face.draw import draw_condition
    from portraittalk.face.segmentation import person_mask
    from portraittalk.motion.controls import apply_controls

    ref = references[0]
    track = stub_track(ref, frames=3, size=(64, 64))  # the face moves 1 px a frame
    request = GenerateRequest(prompt="a portrait", seed=3).updated(steps=2, denoise_strength=0.6, w1=0.5)
    calls = _spy(monkeypatch, PortraitTalkFramePipeline, "__call__")
    progress = []
    frames = list(engine.render([ref], track, request, lambda *a: progress.append(a)))
    assert progress[-1] == ("rendering", 6, 6)  # steps every pixel skips count too
    pipe, style = engine.pipe, engine.models.animatenet.config.drawing_style
    # w1-w3 are attention scales here: motion, drawing and warp frames are those of the default controls
    landmarks = apply_controls(track, Controls(), request.render.smoothing_s).landmarks
    warp = list(WarpEngine().render([ref], track, GenerateRequest()))
    assert len(calls) == 3 and not np.array_equal(landmarks[0], landmarks[2])
    for t, (args, out) in enumerate(calls):
        assert np.array_equal(args["structure"], draw_condition(landmarks[t], (64, 64), style=style)), t
        assert np.array_equal(args["strength"], strength_map(landmarks[t], 64, 8, 0.6)), t
        assert torch.equal(args["init_latents"], pipe.encode_image(warp[t])), t
        if t == 0:
            assert torch.equal(args["previous_latents"], pipe.encode_image(ref.image))
            assert np.array_equal(args["contour"], ref.head_contour())
        else:
            before = calls[t - 1][1]
            assert torch.equal(args["previous_latents"], before.latents), t
            image = before.images[0]
            assert np.array_equal(args["contour"], head_contour(image, landmarks[t - 1], person_mask(image))), t
        assert np.array_equal(frames[t], out.images[0])
    assert not np.array_equal(calls[1][0]["contour"], calls[0][0]["contour"])


def test_every_reference_reaches_the_face_tokens_in_order(engine, monkeypatch):
    import torch

    from portraittalk.engines.diffusion.pipeline import PortraitTalkFramePipeline

    refs = [stub_reference(0), stub_reference(1), stub_reference(2)]
    calls = _spy(monkeypatch, PortraitTalkFramePipeline, "encode_face")
    _render(engine, refs, stub_track(refs[0], frames=1), identity_mode="blend")
    (args, (tokens, uncond)), = calls
    assert np.array_equal(args["embeddings"], np.stack([r.vector for r in refs])) and args["mode"] == "blend"
    proj = engine.models.identitynet.face_projection
    embeds = torch.from_numpy(args["embeddings"])[None]
    with torch.no_grad():  # the conditional half is the references, the unconditional one a zero embedding
        assert torch.allclose(tokens, proj.tokens(embeds, "blend"), atol=1e-6)
        assert torch.allclose(uncond, proj.tokens(torch.zeros_like(embeds), "blend"), atol=1e-6)


def test_prompt_embeddings_are_the_prompts(engine):
    import torch

    tokenizer, encoder = engine.models.tokenizer, engine.models.text_encoder
    prompt, negative = engine.pipe.encode_prompt("a portrait, grey hair", "blurry")
    with torch.no_grad():
        for text, states in (("a portrait, grey hair", prompt), ("blurry", negative)):
            ids = tokenizer([text], padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
            assert torch.equal(states, encoder(ids)[0])
