"""`weights import`: tiny checkpoints in the public layouts convert to IdentityNet / AnimateNet that
compute exactly what diffusers computes with the same files; bad files change nothing."""
from __future__ import annotations

import copy
import hashlib
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from portraittalk.errors import InputError
from portraittalk.weights import Weights

from .public_layouts import LORA, faceid_state, save_faceid, write_controlnet

LINEARS = dict(zip(LORA, ("to_q", "to_k", "to_v", "to_out.0")))


@pytest.fixture(scope="module")
def unet(tiny_dir):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel.from_pretrained(tiny_dir / "sd15" / "unet").eval()


@pytest.fixture()
def base_only(tiny_dir, tmp_path):
    """A weights folder with the SD1.5 base and nothing else."""
    root = tmp_path / "weights"
    root.mkdir()
    os.symlink(tiny_dir / "sd15", root / "sd15")
    return root


def _inputs(seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(2, 4, 8, 8, generator=g), torch.tensor(500), torch.randn(2, 77, 32, generator=g),
            F.normalize(torch.randn(2, 3, 512, generator=g), dim=-1))  # 3 references' ArcFace embeddings


def _diffusers_reference(tiny_dir, state: dict, scale: float):
    """diffusers' own IP-Adapter: ``_load_ip_adapter_weights`` (IPAdapterAttnProcessor2_0 + its
    FaceID projection); the FaceID LoRA applied unmerged, as IP-Adapter's LoRA processors do
    (``to_q(x) + up(down(x))``), on the layers diffusers' ``_load_ip_adapter_loras`` names."""
    from diffusers import UNet2DConditionModel
    from diffusers.models.attention_processor import IPAdapterAttnProcessor2_0

    ref = UNet2DConditionModel.from_pretrained(tiny_dir / "sd15" / "unet").eval()
    ref._load_ip_adapter_weights([copy.deepcopy(state)])
    for proc in ref.attn_processors.values():
        if isinstance(proc, IPAdapterAttnProcessor2_0):
            proc.scale = [scale]
    loras = ref._load_ip_adapter_loras([state]).get(0, {})
    for key in {k.rsplit(".", 2)[0] for k in loras}:  # unet.<processor>.<to_x_lora>
        processor, lora = key[len("unet."):].rsplit(".", 1)
        linear = ref.get_submodule(processor.replace(".processor", "") + "." + LINEARS[lora])
        down, up = loras[f"{key}.down.weight"], loras[f"{key}.up.weight"]
        linear.register_forward_hook(lambda m, inp, out, d=down, u=up: out + F.linear(F.linear(inp[0], d), u))
    return ref


@pytest.mark.parametrize("variant,suffix", [("faceid-portrait", ".bin"), ("faceid", ".safetensors")])
def test_faceid_import_matches_diffusers(variant, suffix, tiny_dir, unet, base_only, tmp_path):
    from portraittalk.engines.diffusion.checkpoints.importer import import_ip_adapter_faceid
    from portraittalk.engines.diffusion.checkpoints.load import load_models

    state = faceid_state(unet, variant)
    record = import_ip_adapter_faceid(save_faceid(state, tmp_path / f"ip-adapter-{variant}_sd15{suffix}"),
                                      Weights(base_only))  # fmt: skip
    assert (record["variant"], record["tokens_per_face"], record["lora_rank"]) == (variant, 16, 128 * (variant == "faceid"))
    identitynet = load_models(base_only / "sd15", base_only / "portraittalk").identitynet
    assert identitynet.face_projection.proj.in_features == 1024  # the checkpoint's hidden width
    reference = _diffusers_reference(tiny_dir, state, scale=0.7)
    x, t, text, faces = _inputs()
    with torch.no_grad():
        ours = identitynet(x, t, text, identitynet.face_projection.tokens(faces, "concat"), 0.7)
        theirs = reference(x, t, encoder_hidden_states=text, added_cond_kwargs={"image_embeds": [faces]}).sample
        plain = unet(x, t, encoder_hidden_states=text).sample
    assert (ours - theirs).abs().max() <= 1e-5
    assert (ours - plain).abs().max() > 1e-2  # the adapter (and LoRA) act


def test_bin_and_safetensors_convert_alike(unet, tmp_path):
    from portraittalk.engines.diffusion.checkpoints.convert import convert_faceid, split_ip_adapter
    from portraittalk.engines.diffusion.checkpoints.importer import read_checkpoint

    state = faceid_state(unet, "faceid")
    converted = []
    for suffix in (".bin", ".safetensors"):
        path = save_faceid(state, tmp_path / f"x{suffix}")
        converted.append(convert_faceid(split_ip_adapter(read_checkpoint(path), path.name), unet, path.name))
    a, b = converted
    assert a.projection == b.projection and a.state.keys() == b.state.keys() and a.lora.keys() == b.lora.keys()
    assert all(torch.equal(a.state[k], b.state[k]) for k in a.state) and all(torch.equal(a.lora[k], b.lora[k]) for k in a.lora)
    names = list(unet.attn_processors)  # every cross-attention layer, named by module, from index i
    assert {k for k in a.state if k.startswith("unet.")} == {f"unet.{n}.to_{kv}_face.weight" for n in names
                                                            if n.endswith("attn2.processor") for kv in "kv"}  # fmt: skip
    assert torch.equal(a.state[f"unet.{names[1]}.to_k_face.weight"], state["ip_adapter"]["1.to_k_ip.weight"])
    assert torch.equal(a.state[f"unet.{names[1]}.to_v_face.weight"], state["ip_adapter"]["1.to_v_ip.weight"])


def test_controlnet_import_is_exactly_the_controlnet(tiny_dir, unet, base_only, tmp_path):
    """Imported, AnimateNet computes the ControlNet's residuals (Eq. (2) switched on but untrained,
    the contour branch fed and still inert), at the recorded × per-call conditioning scale."""
    import json

    from diffusers import ControlNetModel

    from portraittalk.engines.diffusion.models.animatenet import AnimateNet
    from portraittalk.engines.diffusion.checkpoints.importer import import_controlnet

    folder = write_controlnet(tmp_path / "ControlNetMediaPipeFace" / "diffusion_sd15", unet)
    record = import_controlnet(folder, Weights(base_only), conditioning_scale=0.8)
    animatenet = AnimateNet.from_pretrained(base_only / "portraittalk" / "animatenet").eval()
    assert (animatenet.config.drawing_style, animatenet.config.conditioning_scale) == ("laion-face", 0.8)
    assert not animatenet.condition_attention_trained
    saved = json.loads((base_only / "portraittalk" / "config.json").read_text())["imported"]["animatenet"]
    assert saved == record and record["drawing_style"] == "laion-face" and record["conditioning_scale"] == 0.8
    controlnet = ControlNetModel.from_pretrained(folder).eval()
    g = torch.Generator().manual_seed(2)
    x, t, text = torch.randn(2, 4, 8, 8, generator=g), torch.tensor(300), torch.randn(2, 77, 32, generator=g)
    hint, contour = torch.rand(2, 3, 64, 64, generator=g), torch.rand(2, 1, 64, 64, generator=g)
    for scale in (1.0, 0.5):
        with torch.no_grad():
            ours = animatenet(x, t, text, hint, contour, torch.randn(2, 4, 8, 8, generator=g), (1.0, 1.0, 1.0), scale)
            theirs = controlnet(x, t, encoder_hidden_states=text, controlnet_cond=hint, conditioning_scale=0.8 * scale,
                                return_dict=False)  # fmt: skip
        pairs = list(zip([*ours[0], ours[1]], [*theirs[0], theirs[1]]))
        assert len(pairs) == 1 + len(controlnet.controlnet_down_blocks)
        assert max(float((a - b).abs().max()) for a, b in pairs) <= 1e-5
        assert float(theirs[1].abs().max()) > 1e-3  # residuals that matter


def _tree(root) -> dict:
    """Every path under ``root`` with its inode, size and content hash (symlinks not followed)."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            digest = hashlib.sha1(open(path, "rb").read()).hexdigest() if os.path.isfile(path) and not os.path.islink(path) else ""
            found[os.path.relpath(path, root)] = (st.st_ino, st.st_size, digest)
    return found


def test_bad_files_get_one_clear_error_and_change_nothing(unet, base_only, tmp_path, monkeypatch):
    import safetensors.torch

    from portraittalk.engines.diffusion.checkpoints.importer import import_controlnet, import_ip_adapter_faceid

    weights = Weights(base_only)
    import_ip_adapter_faceid(save_faceid(faceid_state(unet), tmp_path / "good.bin"), weights)  # something to keep
    import_controlnet(write_controlnet(tmp_path / "good_cn", unet), weights)
    lora_only = tmp_path / "ip-adapter-faceid_sd15_lora.safetensors"
    safetensors.torch.save_file({"lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight":
                                 torch.zeros(128, 32), "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_"
                                 "attn1_to_q.lora_up.weight": torch.zeros(32, 128)}, str(lora_only))  # fmt: skip
    sdxl = faceid_state(unet, tokens=4, width=2048)
    sdxl = {part: {k: v.half() for k, v in d.items()} for part, d in sdxl.items()}
    truncated = {}
    for suffix in (".bin", ".safetensors"):
        good = save_faceid(faceid_state(unet), tmp_path / f"whole{suffix}")
        truncated[suffix] = tmp_path / f"truncated{suffix}"
        truncated[suffix].write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    broken_cn = write_controlnet(tmp_path / "broken_cn", unet)
    weights_file = broken_cn / "diffusion_pytorch_model.safetensors"
    weights_file.write_bytes(weights_file.read_bytes()[:5000])
    cases = [
        (import_ip_adapter_faceid, lora_only, "holds only a LoRA"),
        (import_ip_adapter_faceid, save_faceid(sdxl, tmp_path / "ip-adapter-faceid_sdxl.bin"), "SDXL"),
        (import_ip_adapter_faceid, truncated[".bin"], "truncated"),
        (import_ip_adapter_faceid, truncated[".safetensors"], "truncated"),
        (import_ip_adapter_faceid, tmp_path / "missing.bin", "does not exist"),
        (import_controlnet, write_controlnet(tmp_path / "sd21", unet, cross_attention_dim=1024),
         "ControlNet for Stable Diffusion 2.x"),
        (import_controlnet, broken_cn, "cannot load the ControlNet"),
        (import_controlnet, tmp_path, "no config.json"),
    ]  # fmt: skip
    before = _tree(base_only)
    for importer, path, message in cases:
        with pytest.raises(InputError) as err:
            importer(path, weights)
        assert message in str(err.value) and "\n" not in str(err.value), (path, str(err.value))
        assert _tree(base_only) == before, path
    failed_write = lambda tensors, file, metadata=None: (open(file, "wb").write(b"half"), 1 / 0)  # noqa: E731
    monkeypatch.setattr(safetensors.torch, "save_file", failed_write)  # a disk error mid-write
    with pytest.raises(ZeroDivisionError):
        import_ip_adapter_faceid(save_faceid(faceid_state(unet, seed=3), tmp_path / "other.bin"), weights)
    assert _tree(base_only) == before


def test_an_import_keeps_the_other_part(unet, base_only, tmp_path):
    import json

    from portraittalk.engines.diffusion.checkpoints.importer import import_controlnet, import_ip_adapter_faceid

    weights = Weights(base_only)
    folder = write_controlnet(tmp_path / "cn", unet, variant="fp16")  # only the .fp16.safetensors file
    import_controlnet(folder, weights)
    animatenet = base_only / "portraittalk" / "animatenet" / "diffusion_pytorch_model.safetensors"
    inode = animatenet.stat().st_ino
    from safetensors import safe_open

    with safe_open(str(animatenet), "pt") as f:  # kept in the source's precision
        assert f.get_slice("controlnet.conv_in.weight").get_dtype() == "F16"
    assert not weights.present("portraittalk")  # no IdentityNet yet
    import_ip_adapter_faceid(save_faceid(faceid_state(unet), tmp_path / "p.bin"), weights)
    assert weights.present("portraittalk") and animatenet.stat().st_ino == inode  # linked, not copied
    imported = json.loads((base_only / "portraittalk" / "config.json").read_text())["imported"]
    assert set(imported) == {"identitynet", "animatenet"}
    assert not [p for p in base_only.iterdir() if p.name.startswith(".")]  # no staging folders left


def test_imported_weights_render_in_the_controlnets_drawing_style(unet, base_only, tmp_path, references, monkeypatch):
    """The engine draws what the imported ControlNet was trained on, says what it runs, and refuses
    dlib embeddings for the FaceID adapter."""
    from portraittalk.config import GenerateRequest, RuntimeConfig
    from portraittalk.engines.diffusion import DiffusionEngine, diffusion_status
    from portraittalk.engines.diffusion.checkpoints.importer import import_controlnet, import_ip_adapter_faceid
    from portraittalk.errors import MissingWeightsError
    from portraittalk.face import draw
    from portraittalk.face.identity import identity_encoder

    from tiny_onnx import write_tiny_arcface

    from .conftest import stub_track

    weights = Weights(base_only)
    import_ip_adapter_faceid(save_faceid(faceid_state(unet), tmp_path / "p.bin"), weights)
    import_controlnet(write_controlnet(tmp_path / "cn", unet), weights)
    ok, why = diffusion_status(weights)
    assert not ok and "ArcFace" in why and "insightface" in why
    ref = references[0]
    engine = DiffusionEngine.from_pretrained(weights, RuntimeConfig(device="cpu"))
    assert any("untrained" in note for note in engine.notes) and any("p.bin" in note for note in engine.notes)
    request = GenerateRequest(seed=1).updated(steps=1, denoise_strength=1.0)
    with pytest.raises(MissingWeightsError, match="ArcFace"):  # dlib (the offline backend) cannot stand in
        next(engine.render([ref], stub_track(ref, 1, (64, 64)), request))
    write_tiny_arcface(base_only / "insightface" / "models" / "buffalo_l" / "w600k_r50.onnx")
    assert diffusion_status(weights)[0]
    styles = []
    drawn = draw.draw_condition
    monkeypatch.setattr(draw, "draw_condition", lambda *a, **kw: (styles.append(kw.get("style")), drawn(*a, **kw))[1])
    identity_encoder.cache_clear()
    try:
        with_arcface = copy.copy(ref)
        with_arcface.weights, with_arcface._cache = weights, {}
        frames = list(engine.render([with_arcface], stub_track(ref, 2, (64, 64)), request))
    finally:
        identity_encoder.cache_clear()
    assert styles == ["laion-face", "laion-face"] and len(frames) == 2 and frames[0].shape == (64, 64, 3)
    assert np.isfinite(frames[1]).all()
