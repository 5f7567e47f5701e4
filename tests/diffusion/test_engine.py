"""The render loop on tiny weights: frames, sizes, progress, seeds, schedulers, CFG, references."""
from __future__ import annotations

import numpy as np
import pytest

from portraittalk.config import GenerateRequest, RuntimeConfig, SamplingConfig
from portraittalk.weights import Weights

from .conftest import stub_reference, stub_track


@pytest.fixture(scope="module")
def engine(tiny_dir):
    from portraittalk.engines.diffusion import DiffusionEngine

    return DiffusionEngine.from_pretrained(Weights(tiny_dir), RuntimeConfig(device="cpu"))


def _render(engine, refs=None, track=None, progress=None, **sampling):
    refs = refs or [stub_reference()]
    track = track or stub_track(refs[0])
    req = GenerateRequest(prompt="a portrait", sampling=SamplingConfig(**{"steps": 2, **sampling}), seed=3)
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
    req = GenerateRequest(sampling=SamplingConfig(steps=2))
    it = engine.render([ref], stub_track(ref, frames=3), req, lambda *a: seen.append(a[1]))
    next(it)
    assert seen == [1, 2]  # the first frame arrives before the second is sampled


def test_seeded_renders_repeat_and_settings_matter(engine):
    first = _render(engine)
    assert all(np.array_equal(a, b) for a, b in zip(first, _render(engine)))
    for other in ({"scheduler": "ddim"}, {"guidance_scale": 1.0}, {"identity_scale": 0.0}):
        assert not np.array_equal(_render(engine, **other)[0], first[0]), other


def test_negative_prompt_and_controls_change_the_output(engine):
    ref = stub_reference()
    track = stub_track(ref, frames=1)
    base = GenerateRequest(prompt="a portrait", sampling=SamplingConfig(steps=2))
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
    """The accelerate hook chain (text encoder -> denoiser -> VAE), exercised with the CPU as the
    execution device since offloading only switches itself on with a GPU."""
    from portraittalk.engines.diffusion import DiffusionEngine

    track = stub_track(stub_reference(), frames=2)
    plain = _render(DiffusionEngine.from_pretrained(Weights(tiny_dir), RuntimeConfig(device="cpu")), track=track)
    monkeypatch.setattr(DiffusionEngine, "_offload", property(lambda self: True))
    offloaded = DiffusionEngine.from_pretrained(Weights(tiny_dir), RuntimeConfig(device="cpu", cpu_offload=True))
    assert all(np.array_equal(a, b) for a, b in zip(plain, _render(offloaded, track=track)))


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
