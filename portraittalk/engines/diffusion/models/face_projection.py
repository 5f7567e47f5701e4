"""Face-recognition embedding -> K tokens in the text encoder's width (IP-Adapter-FaceID's projection)."""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ....errors import InputError


class FaceProjection(nn.Module):
    """``embedding -> Linear -> GELU -> Linear -> (K, C) -> LayerNorm`` (IP-Adapter-FaceID's ``MLPProjModel``).

    One input layer per supported embedding width (dlib 128-d, ArcFace 512-d) so the same
    checkpoint can accept either backend; the rest is shared. Embeddings are L2-normalised first so
    both backends arrive on one scale (ArcFace's ``normed_embedding`` is already unit length, so an
    imported IP-Adapter-FaceID sees exactly its training input); a zero embedding (the
    unconditional branch) stays zero. ``hidden_dim`` is the MLP's width: ``cross_attention_dim *
    mult`` for PortraitTalk's own, 1024 for the public FaceID checkpoints.
    """

    def __init__(self, embed_dims: Sequence[int] = (512, 128), cross_attention_dim: int = 768,
                 num_tokens: int = 4, mult: int = 2, hidden_dim: Optional[int] = None) -> None:  # fmt: skip
        super().__init__()
        hidden = int(hidden_dim or cross_attention_dim * mult)
        self.embed_dims = tuple(int(d) for d in embed_dims)
        self.num_tokens = num_tokens
        self.cross_attention_dim = cross_attention_dim
        self.inputs = nn.ModuleDict({str(d): nn.Linear(d, hidden) for d in self.embed_dims})
        self.proj = nn.Linear(hidden, cross_attention_dim * num_tokens)
        self.norm = nn.LayerNorm(cross_attention_dim)

    @property
    def config(self) -> dict:
        return {"embed_dims": list(self.embed_dims), "cross_attention_dim": self.cross_attention_dim,
                "num_tokens": self.num_tokens, "hidden_dim": self.proj.in_features}  # fmt: skip

    def forward(self, embeds: torch.Tensor) -> torch.Tensor:
        """(B, D) embeddings -> (B, K, C) tokens."""
        width = int(embeds.shape[-1])
        if str(width) not in self.inputs:
            raise InputError(f"the face projection takes {self.embed_dims}-d identity embeddings, not {width}-d; "
                             "use the face-recognition backend these weights were trained with.")  # fmt: skip
        x = F.normalize(embeds.to(self.proj.weight.dtype), dim=-1)
        x = self.proj(F.gelu(self.inputs[str(width)](x)))
        return self.norm(x.view(-1, self.num_tokens, self.cross_attention_dim))

    def tokens(self, embeds: torch.Tensor, mode: str) -> torch.Tensor:
        """(B, R, D) embeddings of R references -> (B, K·R, C) ("concat": each face's tokens in
        reference order, IP-Adapter-FaceID-Portrait's multi-face input) or (B, K, C) ("blend": the
        mean of the L2-normalised embeddings, each reference weighted equally; the paper's blending)."""
        if mode == "blend":
            return self(F.normalize(embeds.float(), dim=-1).mean(dim=1))
        if mode != "concat":
            raise InputError(f"identity_mode must be 'concat' or 'blend' (got {mode!r}).")
        b, r, d = embeds.shape
        return self(embeds.reshape(b * r, d)).reshape(b, r * self.num_tokens, self.cross_attention_dim)
