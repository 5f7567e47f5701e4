"""Model configurations ("tiny" for tests and CPU, "sd15" for the real architecture) and the
random tiny weight set that ``portraittalk weights make-tiny DIR`` writes in the real layout.

No pretrained weights can be downloaded in tests, so the tiny set is built locally: a small UNet,
VAE and CLIP text encoder, a byte-level CLIP tokenizer written from scratch, fresh adapters and an
audio-to-motion model. Everything is saved with the same ``save_pretrained`` calls real weights use.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

SCHEDULER = {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
             "num_train_timesteps": 1000, "skip_prk_steps": True, "steps_offset": 1,
             "set_alpha_to_one": False}  # fmt: skip  (SD1.5's scheduler_config)

MODEL_INDEX = {"_class_name": "StableDiffusionPipeline", "scheduler": ["diffusers", "PNDMScheduler"],
               "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
               "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
               "safety_checker": [None, None], "feature_extractor": [None, None],
               "requires_safety_checker": False}  # fmt: skip

UNET = {
    "tiny": {"sample_size": 8, "block_out_channels": (32, 64), "layers_per_block": 1,
             "down_block_types": ("CrossAttnDownBlock2D", "DownBlock2D"),
             "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D"), "cross_attention_dim": 32,
             "attention_head_dim": 8, "norm_num_groups": 32},
    "sd15": {"sample_size": 64, "block_out_channels": (320, 640, 1280, 1280), "layers_per_block": 2,
             "down_block_types": ("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
             "up_block_types": ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3, "cross_attention_dim": 768,
             "attention_head_dim": 8, "norm_num_groups": 32},
}  # fmt: skip
VAE = {
    "tiny": {"block_out_channels": (8, 8, 16, 16), "layers_per_block": 1, "norm_num_groups": 8, "sample_size": 64},
    "sd15": {"block_out_channels": (128, 256, 512, 512), "layers_per_block": 2, "norm_num_groups": 32,
             "sample_size": 512},
}  # fmt: skip
TEXT = {
    "tiny": {"vocab_size": 514, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
             "num_attention_heads": 2, "projection_dim": 32, "bos_token_id": 512, "eos_token_id": 513},
    "sd15": {"vocab_size": 49408, "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
             "num_attention_heads": 12, "projection_dim": 768, "bos_token_id": 49406, "eos_token_id": 49407},
}  # fmt: skip
ADAPTERS = {
    "tiny": {"animatenet": {"hint_channels": (8, 8, 16, 16), "contour_channels": (4, 4, 8, 8), "token_grid": 4},
             "face_tokens": 2},
    "sd15": {"animatenet": {}, "face_tokens": 4},
}  # fmt: skip


def build_unet(size: str):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(**UNET[size])


def build_vae(size: str):
    from diffusers import AutoencoderKL

    blocks = len(VAE[size]["block_out_channels"])
    return AutoencoderKL(down_block_types=("DownEncoderBlock2D",) * blocks,
                         up_block_types=("UpDecoderBlock2D",) * blocks, latent_channels=4, **VAE[size])  # fmt: skip


def build_text_encoder(size: str):
    from transformers import CLIPTextConfig, CLIPTextModel

    return CLIPTextModel(CLIPTextConfig(max_position_embeddings=77, hidden_act="quick_gelu", pad_token_id=1,
                                        **TEXT[size]))  # fmt: skip


def build_adapters(unet, size: str):
    """Fresh IdentityNet + AnimateNet around ``unet`` with the ``size`` adapter settings."""
    from .models.animatenet import AnimateNet
    from .models.identitynet import IdentityNet

    identitynet = IdentityNet.from_unet(unet, num_tokens=ADAPTERS[size]["face_tokens"])
    animatenet = AnimateNet.from_unet(unet, **ADAPTERS[size]["animatenet"])
    return identitynet, animatenet


def _bytes_to_unicode() -> list[str]:
    """CLIP's byte-level alphabet (printable bytes map to themselves, the rest above U+0100)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    extra = [b for b in range(256) if b not in printable]
    return [chr(c) for c in printable] + [chr(256 + n) for n in range(len(extra))]


def write_tokenizer(folder: Path) -> None:
    """A byte-level CLIP tokenizer with no merges (514 tokens), in the SD1.5 tokenizer layout."""
    folder.mkdir(parents=True, exist_ok=True)
    chars = _bytes_to_unicode()
    vocab = chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 77,
                                                              "tokenizer_class": "CLIPTokenizer"}))  # fmt: skip


def make_tiny_weights(root: Path, seed: int = 0) -> Path:
    """Write ``sd15/``, ``portraittalk/`` and ``audio2motion/`` with random tiny models under ``root``.

    AnimateNet's zero convs and the motion decoder's output layer are given small random values so
    that every path has an effect (freshly initialised, both are no-ops by design).
    """
    from diffusers import PNDMScheduler

    from ...motion.vae import Audio2Motion, Audio2MotionConfig
    from .checkpoints.load import quiet_transformers, save_adapters

    root = Path(root)
    torch.manual_seed(seed)
    unet, vae, text_encoder = build_unet("tiny"), build_vae("tiny"), build_text_encoder("tiny")
    base = root / "sd15"
    with quiet_transformers():
        for name, part in (("unet", unet), ("vae", vae), ("text_encoder", text_encoder)):
            part.save_pretrained(base / name, safe_serialization=True)
    PNDMScheduler(**SCHEDULER).save_pretrained(base / "scheduler")
    write_tokenizer(base / "tokenizer")
    (base / "model_index.json").write_text(json.dumps(MODEL_INDEX, indent=2) + "\n")
    identitynet, animatenet = build_adapters(unet, "tiny")
    with torch.no_grad():
        for name, param in animatenet.named_parameters():
            if "controlnet_down_blocks" in name or "controlnet_mid_block" in name or "conv_out" in name:
                param.normal_(0.0, 0.02)
    save_adapters(root / "portraittalk", identitynet, animatenet)
    motion = Audio2Motion(Audio2MotionConfig.tiny())
    with torch.no_grad():
        motion.dec_out.weight.normal_(0.0, 0.002)  # visible but bounded random motion (~ 1 % of face height)
    motion.save_pretrained(root / "audio2motion")
    return root
