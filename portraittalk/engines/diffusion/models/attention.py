"""Attention processors: IdentityNet's decoupled face attention and AnimateNet's Eq. (2) tri-attention.

diffusers hands a processor only the ``cross_attention_kwargs`` its ``__call__`` names, and sends the
same kwargs to self-attention (``attn1``) and cross-attention (``attn2``). So every processor here
names every PortraitTalk kwarg and ignores the ones that are not its own. Learned weights live on the
processors (they are ``nn.Module``s registered under ``...attn2.processor``), so state dicts are
keyed by module name, never by processor order.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention
from torch import nn

CONDITIONS = ("structure", "identity", "temporal")  # Eq. (2) order: w1, w2, w3


def _attend(attn: Attention, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
            mask: Optional[torch.Tensor] = None) -> torch.Tensor:  # fmt: skip
    """Multi-head scaled dot-product attention on (B, N, C) projections; returns (B, N, C)."""
    b, _, inner = key.shape
    head = inner // attn.heads
    q = query.view(b, -1, attn.heads, head).transpose(1, 2)
    k = key.view(b, -1, attn.heads, head).transpose(1, 2)
    v = value.view(b, -1, attn.heads, head).transpose(1, 2)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=0.0, is_causal=False)
    return out.transpose(1, 2).reshape(b, -1, attn.heads * head).to(query.dtype)


class _Processor:
    """Standard attention (as ``AttnProcessor2_0``) plus extra streams that share its query."""

    def _extra(self, attn: Attention, query: torch.Tensor, kwargs: dict) -> Optional[torch.Tensor]:
        return None

    def _run(self, attn: Attention, hidden_states: torch.Tensor, encoder_hidden_states: Optional[torch.Tensor],
             attention_mask: Optional[torch.Tensor], temb: Optional[torch.Tensor], kwargs: dict) -> torch.Tensor:  # fmt: skip
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        ndim = hidden_states.ndim
        if ndim == 4:
            b, c, h, w = hidden_states.shape
            hidden_states = hidden_states.view(b, c, h * w).transpose(1, 2)
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        batch, length, _ = context.shape
        if attention_mask is not None:
            attention_mask = attn.prepare_attention_mask(attention_mask, length, batch)
            attention_mask = attention_mask.view(batch, attn.heads, -1, attention_mask.shape[-1])
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        query = attn.to_q(hidden_states)
        if encoder_hidden_states is not None and attn.norm_cross:
            context = attn.norm_encoder_hidden_states(context)
        out = _attend(attn, query, attn.to_k(context), attn.to_v(context), attention_mask)
        if encoder_hidden_states is not None:  # extra streams exist only in cross-attention
            extra = self._extra(attn, query, kwargs)
            if extra is not None:
                out = out + extra
        out = attn.to_out[1](attn.to_out[0](out))
        if ndim == 4:
            out = out.transpose(-1, -2).reshape(b, c, h, w)
        if attn.residual_connection:
            out = out + residual
        return out / attn.rescale_output_factor


class PlainAttnProcessor(_Processor):
    """Self-attention (and any attention without extra streams): accepts and ignores our kwargs."""

    def __call__(self, attn: Attention, hidden_states: torch.Tensor, encoder_hidden_states=None,
                 attention_mask=None, temb=None, face_tokens=None, face_scale=None, structure_tokens=None,
                 identity_tokens=None, temporal_tokens=None, condition_scales=None) -> torch.Tensor:  # fmt: skip
        return self._run(attn, hidden_states, encoder_hidden_states, attention_mask, temb, {})


class FaceAttnProcessor(nn.Module, _Processor):
    """IdentityNet's decoupled cross-attention: ``text_attn + face_scale * attn(Q, K_face, V_face)``.

    Face K/V are bias-free projections of their own (IP-Adapter); without ``face_tokens`` or with
    ``face_scale == 0`` the layer is exactly the base UNet's cross-attention.
    """

    def __init__(self, hidden_size: int, cross_attention_dim: int) -> None:
        super().__init__()
        self.to_k_face = nn.Linear(cross_attention_dim, hidden_size, bias=False)
        self.to_v_face = nn.Linear(cross_attention_dim, hidden_size, bias=False)

    def _extra(self, attn: Attention, query: torch.Tensor, kwargs: dict) -> Optional[torch.Tensor]:
        tokens, scale = kwargs["face_tokens"], kwargs["face_scale"]
        if tokens is None or scale == 0:
            return None
        return scale * _attend(attn, query, self.to_k_face(tokens), self.to_v_face(tokens))

    def __call__(self, attn: Attention, hidden_states: torch.Tensor, encoder_hidden_states=None,
                 attention_mask=None, temb=None, face_tokens=None, face_scale=1.0, structure_tokens=None,
                 identity_tokens=None, temporal_tokens=None, condition_scales=None) -> torch.Tensor:  # fmt: skip
        kwargs = {"face_tokens": face_tokens, "face_scale": face_scale}
        return self._run(attn, hidden_states, encoder_hidden_states, attention_mask, temb, kwargs)


class AnimateAttnProcessor(nn.Module, _Processor):
    """AnimateNet's cross-attention, Eq. (2) added to the copied text attention:

    ``Z = CA_text + w1·CA_structure + w2·CA_identity + w3·CA_temporal``

    One shared query, separate bias-free K/V per condition, learnable scalar ``w_<condition>``
    (one parameter each so training stage 2 can freeze the temporal one alone). The caller's
    ``condition_scales`` (the app's sliders, 1.0 = as trained) multiply the learned weights; all
    zero leaves only the text attention the encoder was copied with.
    """

    def __init__(self, hidden_size: int, cross_attention_dim: int) -> None:
        super().__init__()
        for name in CONDITIONS:
            self.add_module(f"to_k_{name}", nn.Linear(cross_attention_dim, hidden_size, bias=False))
            self.add_module(f"to_v_{name}", nn.Linear(cross_attention_dim, hidden_size, bias=False))
            self.register_parameter(f"w_{name}", nn.Parameter(torch.ones(())))

    def _extra(self, attn: Attention, query: torch.Tensor, kwargs: dict) -> Optional[torch.Tensor]:
        scales = kwargs["condition_scales"] or (1.0, 1.0, 1.0)
        total = None
        for name, scale in zip(CONDITIONS, scales):
            tokens = kwargs[name]
            if tokens is None or scale == 0:
                continue
            k, v = getattr(self, f"to_k_{name}")(tokens), getattr(self, f"to_v_{name}")(tokens)
            term = (scale * getattr(self, f"w_{name}")).to(query.dtype) * _attend(attn, query, k, v)
            total = term if total is None else total + term
        return total

    def __call__(self, attn: Attention, hidden_states: torch.Tensor, encoder_hidden_states=None,
                 attention_mask=None, temb=None, face_tokens=None, face_scale=None, structure_tokens=None,
                 identity_tokens=None, temporal_tokens=None, condition_scales=None) -> torch.Tensor:  # fmt: skip
        kwargs = {"structure": structure_tokens, "identity": identity_tokens, "temporal": temporal_tokens,
                  "condition_scales": condition_scales}  # fmt: skip
        return self._run(attn, hidden_states, encoder_hidden_states, attention_mask, temb, kwargs)


def _layer_sizes(model: nn.Module, name: str) -> tuple[int, int]:
    """(hidden size, cross-attention width) of the ``Attention`` owning processor ``name``."""
    attn = model.get_submodule(name.rsplit(".processor", 1)[0])
    return attn.to_q.out_features, attn.to_k.in_features


def install_processors(model: nn.Module, cross_cls: type) -> None:
    """Give every ``attn2`` a fresh ``cross_cls`` whose K/V start as copies of the layer's own
    ``to_k``/``to_v`` (IP-Adapter's initialisation), and every other layer a ``PlainAttnProcessor``."""
    procs = {}
    for name in model.attn_processors:
        if name.endswith("attn2.processor"):
            hidden, cross = _layer_sizes(model, name)
            proc = cross_cls(hidden, cross)
            attn = model.get_submodule(name.rsplit(".processor", 1)[0])
            with torch.no_grad():
                for p_name, param in proc.named_parameters():
                    if p_name.startswith("to_k_"):
                        param.copy_(attn.to_k.weight)
                    elif p_name.startswith("to_v_"):
                        param.copy_(attn.to_v.weight)
            procs[name] = proc.to(device=attn.to_k.weight.device, dtype=attn.to_k.weight.dtype)
        else:
            procs[name] = PlainAttnProcessor()
    model.set_attn_processor(procs)
