"""SyncNet: MFCCs equal to python_speech_features', and the real scoring path with a random network."""
from __future__ import annotations

import numpy as np
import pytest
from metrics_clips import ROOT, head_motion, render_frames

from portraittalk.metrics import learned
from portraittalk.metrics.evaluate import evaluate
from portraittalk.metrics.learned.syncnet import mfcc, syncnet_v2
from portraittalk.weights import Weights


def test_mfcc_matches_python_speech_features():
    t = np.arange(8000) / 16000
    x = 8000 * np.sin(2 * np.pi * (200 + 1500 * t) * t) + 2000 * np.sin(2 * np.pi * 3000 * t)
    feats = mfcc(x, 16000)
    # python_speech_features 0.6: mfcc(x, 16000)[[0, 17, 48]][:, [0, 1, 5, 12]]
    expected = np.array([[20.10005973, 0.15527891, -24.10641383, 12.24361042],
                         [20.73459574, 5.40896737, -24.04492108, 14.85507639],
                         [21.60802954, -6.59088505, -2.13269805, 32.26013677]])  # fmt: skip
    assert feats.shape == (49, 13)
    assert np.allclose(feats[[0, 17, 48]][:, [0, 1, 5, 12]], expected, atol=1e-6)


@pytest.fixture
def syncnet_weights(tmp_path) -> Weights:
    import torch

    weights = Weights(tmp_path / "weights")
    folder = weights.path("syncnet")
    folder.mkdir(parents=True)
    torch.manual_seed(0)
    state = {k: v for k, v in syncnet_v2().state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(state, folder / "syncnet_v2.model")  # as old PyTorch saved it
    return weights


def talking_clip(path, with_audio: bool):
    from portraittalk.media import Audio, VideoWriter, load_audio

    frames = render_frames(256, head_motion(25, seed=4))
    audio = None
    if with_audio:
        speech = load_audio(ROOT / "assets" / "speech" / "en_mbp.wav")
        audio = Audio.from_array(speech.samples[:16000], speech.sample_rate)
    with VideoWriter(path, 25.0, (256, 256), audio=audio) as writer:
        for f in frames:
            writer.write(f)
    return path


def test_syncnet_scores_the_generated_audio_track(syncnet_weights, tmp_path):
    clip = talking_clip(tmp_path / "talk.mp4", with_audio=True)
    out = evaluate(clip, clip, weights=syncnet_weights).learned["syncnet"]
    assert out["available"] is True, out
    assert out["windows"] in (19, 20) and out["frames_without_face"] == 0  # 25 frames − 5 (AAC may trim a few ms)
    assert out["value"] == out["confidence"] >= 0 and out["distance"] > 0
    assert -15 <= out["offset_frames"] <= 15


def test_syncnet_unavailable_without_audio_or_v2_weights(syncnet_weights, tmp_path):
    clip = talking_clip(tmp_path / "silent.mp4", with_audio=False)
    out = evaluate(clip, clip, weights=syncnet_weights).learned["syncnet"]
    assert out["available"] is False and out["reason"].startswith("the generated video has no usable audio track")
    folder = syncnet_weights.path("syncnet")
    (folder / "syncnet_v2.model").rename(folder / "latentsync_syncnet.pt")
    _, skipped = learned.build_metrics(None, None, clip, weights=syncnet_weights)
    assert "only LatentSync's StableSyncNet" in skipped["syncnet"]["reason"]
