"""Audio-to-motion: 50 Hz features, 25 fps frames, 478-point offsets in face heights, save/load."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from portraittalk.config import GenerateRequest


@pytest.fixture()
def model():
    from portraittalk.motion.vae import Audio2Motion, Audio2MotionConfig

    torch.manual_seed(0)
    m = Audio2Motion(Audio2MotionConfig.tiny())
    with torch.no_grad():
        m.dec_out.weight.normal_(0.0, 0.01)
    return m.eval()


def _reference(roll_degrees: float = 0.0) -> np.ndarray:
    from portraittalk.face import mesh

    pts = np.random.default_rng(0).uniform(100, 300, (478, 2)).astype(np.float32)
    a = np.deg2rad(roll_degrees)
    pts[mesh.RIGHT_IRIS_CENTER] = [200, 200]
    pts[mesh.LEFT_IRIS_CENTER] = [200 + 60 * np.cos(a), 200 + 60 * np.sin(a)]
    return pts


@pytest.mark.parametrize("seconds", [0.05, 0.32, 1.0, 2.37])
def test_features_are_aligned_to_video_frames(seconds):
    from portraittalk.motion.features import audio_features, log_mel

    samples = np.random.default_rng(1).normal(0, 0.1, int(16000 * seconds)).astype(np.float32)
    assert log_mel(samples).shape == (int(16000 * seconds) // 320, 80)
    frames = max(1, round(seconds * 25))
    assert audio_features(samples, "mel", frames).shape == (2 * frames, 80)


@pytest.mark.parametrize("seconds", [0.04, 0.32, 1.37])
def test_predict_motion_shapes_and_seed(model, seconds):
    from portraittalk.motion.vae import predict_motion

    audio = np.random.default_rng(2).normal(0, 0.1, int(16000 * seconds)).astype(np.float32)
    a = predict_motion(audio, _reference(), seed=1, model=model)
    assert a.shape == (max(1, round(seconds * 25)), 478, 2) and a.dtype == np.float32
    assert np.array_equal(a, predict_motion(audio, _reference(), seed=1, model=model))
    assert predict_motion(audio, _reference(), fps=30.0, model=model).shape[0] == max(1, round(seconds * 30))


def test_offsets_follow_the_reference_roll(model):
    from portraittalk.motion.vae import predict_motion

    audio = np.random.default_rng(3).normal(0, 0.1, 16000).astype(np.float32)
    upright = predict_motion(audio, _reference(0.0), model=model)
    tilted = predict_motion(audio, _reference(90.0), model=model)
    assert np.allclose(tilted[..., 0], -upright[..., 1], atol=1e-5)
    assert np.allclose(tilted[..., 1], upright[..., 0], atol=1e-5)
    assert np.allclose(np.linalg.norm(tilted, axis=-1), np.linalg.norm(upright, axis=-1), atol=1e-5)


def test_untrained_model_predicts_the_rest_pose():
    from portraittalk.motion.vae import Audio2Motion, Audio2MotionConfig, predict_motion

    audio = np.random.default_rng(4).normal(0, 0.1, 8000).astype(np.float32)
    assert not predict_motion(audio, _reference(), model=Audio2Motion(Audio2MotionConfig.tiny()).eval()).any()


def test_save_load_round_trip_and_training_pass(model, tmp_path):
    from portraittalk.motion.vae import Audio2Motion, predict_motion

    audio = np.random.default_rng(5).normal(0, 0.1, 12000).astype(np.float32)
    loaded = Audio2Motion.from_pretrained(model.save_pretrained(tmp_path / "a2m"))
    assert np.array_equal(predict_motion(audio, _reference(), model=loaded), predict_motion(audio, _reference(), model=model))
    feats, motion = torch.randn(2, 16, 80), torch.randn(2, 8, 478, 2)
    recon, mean, logvar = model.train()(feats, motion)
    assert recon.shape == motion.shape and mean.shape == logvar.shape == (2, 4, 2)


def test_registry_loading_and_missing_weights(tiny_dir, tmp_path):
    from portraittalk.errors import AudioError, MissingWeightsError
    from portraittalk.media.audio import Audio
    from portraittalk.motion.vae import predict_motion

    audio = Audio.from_array(np.random.default_rng(6).normal(0, 0.1, 16000))
    from portraittalk.weights import Weights

    motion = predict_motion(audio, _reference(), weights=Weights(tiny_dir))
    assert motion.shape == (25, 478, 2) and 0 < np.abs(motion).max() < 0.5
    with pytest.raises(MissingWeightsError, match="audio-to-motion"):
        predict_motion(audio, _reference(), weights=Weights(tmp_path))
    with pytest.raises(AudioError, match="16 kHz"):
        predict_motion(Audio.from_array(audio.samples, 48000), _reference(), weights=Weights(tiny_dir))


def test_hubert_features_when_the_component_is_present(tmp_path):
    """A tiny random HuBERT saved in the registry layout drives a model trained on "hubert" features."""
    from transformers import HubertConfig, HubertModel

    from portraittalk.motion.features import audio_features
    from portraittalk.motion.vae import Audio2Motion, Audio2MotionConfig, predict_motion

    config = HubertConfig(hidden_size=1024, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                          conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)
    HubertModel(config).save_pretrained(tmp_path / "hubert-large-ls960-ft")
    audio = np.random.default_rng(7).normal(0, 0.1, 16000).astype(np.float32)
    from portraittalk.weights import Weights

    feats = audio_features(audio, "hubert", 25, weights=Weights(tmp_path))
    assert feats.shape == (50, 1024) and np.isfinite(feats).all()
    model = Audio2Motion(replace(Audio2MotionConfig.tiny(), features="hubert")).eval()
    assert predict_motion(audio, _reference(), weights=Weights(tmp_path), model=model).shape == (25, 478, 2)


def test_the_motion_model_is_a_setting_and_the_seed_reaches_it(tiny_dir, tmp_path):
    """auto = learned when audio2motion is in the weights folder, whatever the engine; the seed draws the
    learned model's latent (its lips change with it), while the acoustic lips do not depend on it; the
    learned track's mouth_open is the opening its own lips are drawn with."""
    from portraittalk import PortraitTalk
    from portraittalk.config import MotionConfig
    from portraittalk.errors import MissingWeightsError
    from portraittalk.media import load_audio
    from portraittalk.motion.geometry import LOWER_LIP_INNER_SET, MAX_GAP, FaceRig
    from portraittalk.weights import Weights

    from shared_inputs import PORTRAIT, SPEECH

    pt = PortraitTalk(Weights(tiny_dir))
    ref = pt.analyse([PORTRAIT], 128, 0.9)[0]
    audio = load_audio(SPEECH)

    def lips(model: str, seed: int) -> np.ndarray:
        request = GenerateRequest(seed=seed, motion=MotionConfig(motion_model=model))
        return pt.motion(audio, ref, request).expression[:, LOWER_LIP_INNER_SET]

    assert np.array_equal(lips("auto", 1), lips("learned", 1))
    assert not np.allclose(lips("learned", 1), lips("acoustic", 1), atol=1e-2)
    assert not np.allclose(lips("learned", 1), lips("learned", 2), atol=1e-2)
    assert np.allclose(lips("acoustic", 1), lips("acoustic", 2), atol=1e-3)  # pixels; head sway differs
    assert np.allclose(lips("fitted", 1), PortraitTalk(Weights(tmp_path)).motion(audio, ref, GenerateRequest(
        seed=1)).expression[:, LOWER_LIP_INNER_SET], atol=1e-3)  # no audio2motion: auto = fitted
    with pytest.raises(MissingWeightsError, match="audio-to-motion"):
        PortraitTalk(Weights(tmp_path)).motion(audio, ref, GenerateRequest(motion=MotionConfig(motion_model="learned")))
    learned = pt.motion(audio, ref, GenerateRequest(motion=MotionConfig(motion_model="learned")))
    drawn = FaceRig(learned.reference).opening(learned.expression)  # the opening its lips are drawn with
    assert np.ptp(drawn) > 0.01 and np.allclose(learned.mouth_open, np.clip(drawn / MAX_GAP, 0, 1.5), atol=1e-3)
