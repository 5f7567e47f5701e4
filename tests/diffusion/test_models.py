"""IdentityNet / AnimateNet on tiny configs: what a fresh or switched-off part must (not) change."""
from __future__ import annotations

import copy

import pytest
import torch

from .conftest import inputs, open_zero_convs


def _run(identitynet, animatenet, x, face_scale=1.0, scales=(1.0, 1.0, 1.0)):
    from portraittalk.engines.diffusion.models.denoiser import Denoiser

    face = identitynet.face_projection.tokens(x["face_embeds"], "concat")
    with torch.no_grad():
        return Denoiser(identitynet, animatenet)(x["sample"], x["timestep"], x["text_embeds"], face, face_scale,
                                                 x["structure"], x["contour"], x["previous_latent"], scales)


def test_fresh_animatenet_changes_nothing(tiny_nets):
    _, identitynet, animatenet = tiny_nets
    x = inputs()
    assert torch.equal(_run(identitynet, animatenet, x), _run(identitynet, None, x))


def test_face_scale_zero_is_the_plain_unet(tiny_nets):
    plain, identitynet, _ = tiny_nets
    x = inputs()
    with torch.no_grad():
        expected = plain(x["sample"], x["timestep"], encoder_hidden_states=x["text_embeds"]).sample
    assert torch.allclose(_run(identitynet, None, x, face_scale=0.0), expected, atol=1e-6)
    assert not torch.allclose(_run(identitynet, None, x, face_scale=1.0), expected, atol=1e-3)


def test_zero_condition_weights_remove_the_tri_attention(tiny_nets):
    from portraittalk.engines.diffusion.models.attention import PlainAttnProcessor

    _, identitynet, animatenet = tiny_nets
    open_zero_convs(animatenet)
    text_only = copy.deepcopy(animatenet)
    text_only.controlnet.set_attn_processor(PlainAttnProcessor())
    x = inputs()
    off = _run(identitynet, animatenet, x, scales=(0.0, 0.0, 0.0))
    assert torch.allclose(off, _run(identitynet, text_only, x), atol=1e-6)
    for on in ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)):
        assert not torch.allclose(_run(identitynet, animatenet, x, scales=on), off, atol=1e-4), on


def test_learned_weights_scale_the_condition_attention(tiny_nets):
    """Slider 2.0 with learned w = 1 equals slider 1.0 with learned w = 2 (caller multiplies learned)."""
    _, identitynet, animatenet = tiny_nets
    open_zero_convs(animatenet)
    x = inputs()
    doubled = _run(identitynet, animatenet, x, scales=(2.0, 2.0, 2.0))
    with torch.no_grad():
        for name, p in animatenet.named_parameters():
            if ".w_" in name:
                p.fill_(2.0)
    assert torch.allclose(_run(identitynet, animatenet, x), doubled, atol=1e-5)


def test_processors_accept_kwargs_on_every_layer(tiny_nets):
    from portraittalk.engines.diffusion.models.attention import AnimateAttnProcessor, FaceAttnProcessor, PlainAttnProcessor

    _, identitynet, animatenet = tiny_nets
    for model, cross in ((identitynet.unet, FaceAttnProcessor), (animatenet.controlnet, AnimateAttnProcessor)):
        for name, proc in model.attn_processors.items():
            assert isinstance(proc, cross if name.endswith("attn2.processor") else PlainAttnProcessor), name


def _tokens_by_hand(proj, embedding: torch.Tensor) -> torch.Tensor:
    """IP-Adapter-FaceID's MLPProjModel written out for one (D,) embedding: (K, C) tokens."""
    import math

    v = embedding / embedding.norm()
    first = proj.inputs[str(embedding.shape[0])]
    h = first.weight @ v + first.bias
    h = 0.5 * h * (1 + torch.erf(h / math.sqrt(2)))  # exact GELU
    x = (proj.proj.weight @ h + proj.proj.bias).view(proj.num_tokens, proj.cross_attention_dim)
    x = (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + proj.norm.eps)
    return x * proj.norm.weight + proj.norm.bias


def test_concat_and_blend_against_hand_computed_tokens(tiny_nets):
    _, identitynet, _ = tiny_nets
    proj = identitynet.face_projection
    embeds = torch.randn(2, 3, 512, generator=torch.Generator().manual_seed(4)) * torch.tensor([1.0, 3.0, 0.2])[:, None]
    with torch.no_grad():
        concat, blend = proj.tokens(embeds, "concat"), proj.tokens(embeds, "blend")
        for b in range(2):  # concat: each face's tokens, in reference order
            expected = torch.cat([_tokens_by_hand(proj, embeds[b, r]) for r in range(3)])
            assert torch.allclose(concat[b], expected, atol=1e-5)
            unit = embeds[b] / embeds[b].norm(dim=-1, keepdim=True)  # blend: every reference counts the same
            assert torch.allclose(blend[b], _tokens_by_hand(proj, unit.mean(0)), atol=1e-5)
    zero = proj(torch.zeros(1, 128))  # the unconditional branch: finite, not an omitted argument
    assert torch.isfinite(zero).all()
    from portraittalk.errors import InputError

    with pytest.raises(InputError):
        proj(torch.zeros(1, 64))


def test_sd15_sized_model_builds_on_meta():
    from portraittalk.engines.diffusion.tiny import build_adapters, build_text_encoder, build_unet, build_vae

    with torch.device("meta"):
        unet = build_unet("sd15")
        counts = {"unet": sum(p.numel() for p in unet.parameters())}
        identitynet, animatenet = build_adapters(unet, "sd15")
        counts["vae"] = sum(p.numel() for p in build_vae("sd15").parameters())
        counts["text"] = sum(p.numel() for p in build_text_encoder("sd15").parameters())
    assert counts == {"unet": 859_520_964, "vae": 83_653_863, "text": 123_060_480}  # the published SD1.5 sizes
    adapters = sum(p.numel() for n, p in identitynet.named_parameters() if not n.startswith("unet.") or ".processor." in n)
    assert 10e6 < adapters < 40e6  # projection + face K/V (IP-Adapter-FaceID SD1.5 is ~22 M)
    assert 360e6 < sum(p.numel() for p in animatenet.parameters()) < 500e6  # ControlNet (361 M) + conditions


def test_animatenet_starts_as_a_copy_of_the_unet_encoder(tiny_nets):
    plain, _, animatenet = tiny_nets
    unet, copied = plain.state_dict(), animatenet.controlnet.state_dict()
    shared = [k for k in copied if k.split(".")[0] in ("conv_in", "time_embedding", "down_blocks", "mid_block")
              and ".processor." not in k]  # fmt: skip
    assert len(shared) > 50 and all(torch.equal(copied[k], unet[k]) for k in shared)
    attn = animatenet.controlnet.down_blocks[0].attentions[0].transformer_blocks[0].attn2
    for name in ("structure", "identity", "temporal"):
        assert torch.equal(getattr(attn.processor, f"to_k_{name}").weight, attn.to_k.weight)
        assert torch.equal(getattr(attn.processor, f"to_v_{name}").weight, attn.to_v.weight)
