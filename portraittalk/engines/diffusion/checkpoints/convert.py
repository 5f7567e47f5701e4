"""Public checkpoints -> PortraitTalk's adapter layout (pure state-dict work; files: ``importer.py``).

IP-Adapter-FaceID (SD1.5, h94/IP-Adapter-FaceID), as published: ``image_proj`` = its ``MLPProjModel``
(``proj.0`` Linear 512 -> 1024, GELU, ``proj.2`` Linear 1024 -> C·K, ``norm`` LayerNorm(C)) and
``ip_adapter`` = ``<i>.to_k_ip.weight`` / ``<i>.to_v_ip.weight`` where ``i`` counts *every* entry of
``unet.attn_processors`` in order (so the cross-attention layers are 1, 3, 5, ...), plus, in the
``faceid`` variant, a rank-128 LoRA ``<i>.to_{q,k,v,out}_lora.{down,up}.weight`` on every attention
layer (self and cross). It maps onto IdentityNet as: ``proj.0`` -> ``face_projection.inputs.512``,
``proj.2`` -> ``face_projection.proj``, ``norm`` -> ``face_projection.norm``, ``to_k_ip``/``to_v_ip``
-> the layer's ``to_k_face``/``to_v_face``, and the LoRA -> ``lora.<layer>.<to_q|to_k|to_v|to_out.0>``
(merged into the UNet when loaded).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import torch

from ....errors import InputError

ARCFACE_DIM = 512
LORA_TARGETS = {"to_q_lora": "to_q", "to_k_lora": "to_k", "to_v_lora": "to_v", "to_out_lora": "to_out.0"}
BASES_BY_WIDTH = {768: "Stable Diffusion 1.x", 1024: "Stable Diffusion 2.x", 2048: "SDXL"}


def base_name(width: int) -> str:
    """The base model family a text width (cross-attention dimension) belongs to."""
    return BASES_BY_WIDTH.get(int(width), f"a base with {width}-wide text embeddings")


@dataclass
class FaceIDAdapter:
    """An IP-Adapter-FaceID checkpoint converted for one UNet."""

    variant: str  # "faceid" (with LoRA) | "faceid-portrait"
    projection: dict  # FaceProjection(**projection)
    state: dict[str, torch.Tensor]  # identitynet.safetensors keys (face_projection.*, unet.*.processor.*)
    lora: dict[str, torch.Tensor] = field(default_factory=dict)  # lora.<linear>.down|up

    @property
    def tokens_per_face(self) -> int:
        return int(self.projection["num_tokens"])

    @property
    def lora_rank(self) -> int:
        downs = [v for k, v in self.lora.items() if k.endswith(".down")]
        return int(downs[0].shape[0]) if downs else 0


def split_ip_adapter(state: Mapping[str, torch.Tensor], name: str) -> dict[str, dict[str, torch.Tensor]]:
    """``{"image_proj": {...}, "ip_adapter": {...}}`` from the ``.bin`` layout (nested) or the
    ``.safetensors`` one (flat, ``image_proj.`` / ``ip_adapter.`` prefixes); anything else is refused."""
    if isinstance(state.get("image_proj"), Mapping) and isinstance(state.get("ip_adapter"), Mapping):
        return {"image_proj": dict(state["image_proj"]), "ip_adapter": dict(state["ip_adapter"])}
    parts: dict[str, dict[str, torch.Tensor]] = {"image_proj": {}, "ip_adapter": {}}
    for key, value in state.items():
        head, _, rest = key.partition(".")
        if head in parts and isinstance(value, torch.Tensor):
            parts[head][rest] = value
    if parts["image_proj"] and parts["ip_adapter"]:
        return parts
    keys = [k for k in state if isinstance(k, str)]
    if keys and all("lora" in k for k in keys):
        raise InputError(f"{name} holds only a LoRA (like ip-adapter-faceid_sd15_lora.safetensors), not the adapter; "
                         "import ip-adapter-faceid_sd15.bin, which carries the adapter and its LoRA together.")
    raise InputError(f"{name} is not an IP-Adapter checkpoint (it has no image_proj / ip_adapter weights; "
                     f"first keys: {', '.join(keys[:3]) or 'none'}).")


def convert_faceid(parts: Mapping[str, Mapping[str, torch.Tensor]], unet: torch.nn.Module, name: str) -> FaceIDAdapter:
    """IdentityNet's weights from a split IP-Adapter-FaceID checkpoint, for ``unet`` (only its
    structure is read: a UNet on the meta device will do). Every mismatch is one :class:`InputError`."""
    proj, layers = parts["image_proj"], parts["ip_adapter"]
    width = int(unet.config.cross_attention_dim)
    if any(k.startswith(("perceiver_resampler.", "proj_in.")) for k in proj) or "proj.3.weight" in proj:
        raise InputError(f"{name} is IP-Adapter-FaceID-Plus, which also needs CLIP image embeddings; import the "
                         "plain FaceID (ip-adapter-faceid_sd15.bin) or FaceID-Portrait checkpoint instead.")
    if not {"proj.0.weight", "proj.0.bias", "proj.2.weight", "proj.2.bias", "norm.weight", "norm.bias"} <= set(proj):
        raise InputError(f"{name} is an IP-Adapter for CLIP image embeddings, not IP-Adapter-FaceID "
                         "(its image_proj has no proj.0 / proj.2 / norm); PortraitTalk needs a FaceID checkpoint.")
    ckpt_width = int(proj["norm.weight"].shape[0])
    if ckpt_width != width:
        raise InputError(f"{name} was made for {base_name(ckpt_width)} (text width {ckpt_width}); the base in "
                         f"sd15/ is {base_name(width)} (width {width}). Import the SD1.5 checkpoint (…_sd15.bin).")
    embed_dim, hidden = int(proj["proj.0.weight"].shape[1]), int(proj["proj.0.weight"].shape[0])
    tokens, remainder = divmod(int(proj["proj.2.weight"].shape[0]), width)
    if embed_dim != ARCFACE_DIM or remainder or int(proj["proj.2.weight"].shape[1]) != hidden:
        raise InputError(f"{name} has an unexpected projection ({embed_dim}-d input, proj.2 "
                         f"{tuple(proj['proj.2.weight'].shape)}); it is not an IP-Adapter-FaceID checkpoint.")
    state = {"face_projection.inputs.512.weight": proj["proj.0.weight"],
             "face_projection.inputs.512.bias": proj["proj.0.bias"],
             "face_projection.proj.weight": proj["proj.2.weight"], "face_projection.proj.bias": proj["proj.2.bias"],
             "face_projection.norm.weight": proj["norm.weight"], "face_projection.norm.bias": proj["norm.bias"]}  # fmt: skip
    lora: dict[str, torch.Tensor] = {}
    processors = list(unet.attn_processors)
    if _layer_count(layers) > len(processors):
        raise InputError(f"{name} has weights for {_layer_count(layers)} attention layers but the UNet in sd15/ has "
                         f"{len(processors)}; it was made for another base (SDXL?).")
    for index, processor in enumerate(processors):
        layer = processor.rsplit(".processor", 1)[0]
        attn = unet.get_submodule(layer)
        if processor.endswith("attn2.processor"):
            for ours, theirs in (("to_k_face", "to_k_ip"), ("to_v_face", "to_v_ip")):
                tensor = _take(layers, f"{index}.{theirs}.weight", name, len(processors))
                _check_shape(tensor, attn.to_k.weight.shape, f"{index}.{theirs}", name)
                state[f"unet.{processor}.{ours}.weight"] = tensor
        for theirs, linear in LORA_TARGETS.items():
            if f"{index}.{theirs}.down.weight" not in layers:
                continue
            out_features, in_features = attn.get_submodule(linear).weight.shape
            down = _take(layers, f"{index}.{theirs}.down.weight", name, len(processors))
            up = _take(layers, f"{index}.{theirs}.up.weight", name, len(processors))
            _check_shape(down, (down.shape[0], in_features), f"{index}.{theirs}.down", name)
            _check_shape(up, (out_features, down.shape[0]), f"{index}.{theirs}.up", name)
            lora[f"lora.{layer}.{linear}.down"], lora[f"lora.{layer}.{linear}.up"] = down, up
    if lora and len(lora) != 2 * len(LORA_TARGETS) * len(processors):
        raise InputError(f"{name} has a LoRA on only some attention layers; the file is damaged or for another base.")
    projection = {"embed_dims": [ARCFACE_DIM], "cross_attention_dim": width, "num_tokens": tokens, "hidden_dim": hidden}
    return FaceIDAdapter("faceid" if lora else "faceid-portrait", projection, state, lora)


def _layer_count(layers: Mapping[str, torch.Tensor]) -> int:
    """How many attention layers the checkpoint's ``<i>.`` keys number."""
    indices = [k.split(".", 1)[0] for k in layers]
    if not all(i.isdigit() for i in indices):
        raise InputError(f"unexpected ip_adapter keys ({', '.join(sorted(layers)[:3])}); not an IP-Adapter checkpoint.")
    return 1 + max(map(int, indices), default=-1)


def _take(layers: Mapping[str, torch.Tensor], key: str, name: str, processors: int) -> torch.Tensor:
    if key not in layers:
        raise InputError(f"{name} lacks '{key}': it was made for a UNet with {_layer_count(layers)} attention "
                         f"layers, the one in sd15/ has {processors} (another base, or a damaged file).")
    return layers[key]


def _check_shape(tensor: torch.Tensor, expected: tuple, key: str, name: str) -> None:
    if tuple(tensor.shape) != tuple(expected):
        raise InputError(f"{name}: '{key}' is {tuple(tensor.shape)} where the UNet in sd15/ needs "
                         f"{tuple(expected)}; the checkpoint was made for another base.")


# Fields a ControlNet copies from its UNet (ControlNetModel.from_unet): they must agree with sd15/.
CONTROLNET_MATCHES_UNET = ("in_channels", "block_out_channels", "down_block_types", "layers_per_block",
                           "cross_attention_dim", "attention_head_dim", "use_linear_projection",
                           "transformer_layers_per_block")  # fmt: skip


def check_controlnet_config(config: Mapping, unet_config: Mapping, name: str) -> None:
    """One :class:`InputError` when a ControlNet config was not made for the UNet in sd15/."""
    if config.get("_class_name") not in (None, "ControlNetModel"):
        raise InputError(f"{name} holds a {config.get('_class_name')}, not a diffusers ControlNetModel.")
    width, base = int(config.get("cross_attention_dim", 0)), int(unet_config["cross_attention_dim"])
    if width != base:
        raise InputError(f"{name} is a ControlNet for {base_name(width)} (text width {width}); the base in sd15/ is "
                         f"{base_name(base)}. Use the SD1.5 ControlNet (ControlNetMediaPipeFace's diffusion_sd15/).")
    for key in CONTROLNET_MATCHES_UNET:
        ours, theirs = _norm(unet_config.get(key)), _norm(config.get(key))
        if ours is not None and theirs is not None and ours != theirs:
            raise InputError(f"{name} is a ControlNet for another base: its {key} is {config.get(key)!r}, the "
                             f"UNet in sd15/ has {unet_config.get(key)!r}.")
    if int(config.get("conditioning_channels", 3)) != 3:
        raise InputError(f"{name} takes a {config.get('conditioning_channels')}-channel hint; AnimateNet's structure "
                         "branch takes an RGB drawing.")


def _norm(value):
    """Config values compare equal whether saved as lists or tuples; a per-block value repeated is a scalar."""
    if isinstance(value, (list, tuple)):
        value = tuple(value)
        return value[0] if value and all(v == value[0] for v in value) and not isinstance(value[0], str) else value
    return value
