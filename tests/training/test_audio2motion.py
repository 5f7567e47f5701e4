"""Audio-to-motion training learns a known mapping: synthetic speech whose loudness opens the mouth.

The data is written in the preprocessed layout (manifest, meta.json, landmarks.npz, features.npz)
from synthetic voiced audio and landmarks moved by the warp engine's own mouth rig, under a
wandering head pose; a tiny VAE trained through ``portraittalk train`` must then predict, from
held-out audio alone, mouth openings that correlate with the truth (r >= 0.9).
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from portraittalk.face import mesh
from portraittalk.motion.features import SAMPLE_RATE, audio_features
from portraittalk.training.clips import CLIP_FORMAT, DATA_FORMAT, write_json

FPS = 25


def synthetic_clip(rng: np.random.Generator, rest: np.ndarray, seconds: float):
    """(16 kHz audio, (T, 478, 2) landmarks in pixels, (T,) true mouth opening)."""
    from portraittalk.motion.geometry import FaceRig

    frames = int(seconds * FPS)
    syllables = np.repeat(rng.random(frames // 5 + 1) < 0.55, 5)[:frames].astype(float)
    opening = np.convolve(syllables * rng.uniform(0.5, 1.0, frames), np.hanning(7) / np.hanning(7).sum(), "same")
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    f0 = rng.uniform(100, 220)
    voice = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6)) / k for k in range(1, 8))
    envelope = np.interp(t, np.arange(frames) / FPS, opening)
    audio = (0.3 * envelope * voice + 0.003 * rng.standard_normal(len(t))).astype(np.float32)
    rig = FaceRig(rest)
    local = rest[None] + rig.mouth(opening, np.zeros(frames))
    angle = 0.05 * np.sin(np.arange(frames) / 17 + rng.uniform(0, 6))
    scale = 1 + 0.05 * np.sin(np.arange(frames) / 23)
    rot = np.stack([np.stack([np.cos(angle), -np.sin(angle)], -1), np.stack([np.sin(angle), np.cos(angle)], -1)], -2)
    centre = rest.mean(axis=0)
    landmarks = np.einsum("tij,tnj->tni", rot * scale[:, None, None], local - centre) + centre
    landmarks += np.stack([3 * np.sin(np.arange(frames) / 11), 2 * np.cos(np.arange(frames) / 13)], -1)[:, None]
    return audio, landmarks.astype(np.float32), opening


@pytest.fixture(scope="module")
def synthetic(data_dir, tmp_path_factory):
    from portraittalk.training.clips import TalkingHeadData

    clip = TalkingHeadData.open(data_dir).clips[0].landmarks
    rest = clip[np.argmin(mesh.mouth_aperture(clip))].astype(np.float64)  # lips together: a rest pose
    rng = np.random.default_rng(7)
    root = tmp_path_factory.mktemp("synthetic")
    videos = {}
    for i in range(6):
        audio, landmarks, _ = synthetic_clip(rng, rest, 8.0)
        folder = root / "clips" / f"s{i}"
        folder.mkdir(parents=True)
        np.savez_compressed(folder / "landmarks.npz", points=landmarks, found=np.ones(len(landmarks), bool))
        np.savez_compressed(folder / "features.npz", mel=audio_features(audio, "mel", len(landmarks)))
        np.savez_compressed(folder / "identity.npz", embeddings=np.ones((1, 128), np.float32), frames=np.zeros(1))
        write_json(folder / "meta.json", {"format": CLIP_FORMAT, "fps": FPS, "frames": len(landmarks), "size": 128,
                                          "audio": True, "features": ["mel"], "prompt": ""})  # fmt: skip
        videos[f"s{i}"] = {"status": "done"}
    write_json(root / "manifest.json", {"format": DATA_FORMAT, "settings": {}, "videos": videos})
    return root, rest, rng


def test_audio2motion_learns_the_mouth_from_the_audio(synthetic, base_without_adapters, tmp_path):
    from portraittalk.motion.vae import predict_motion
    from portraittalk.weights import Weights

    from shared_inputs import ROOT

    data, rest, rng = synthetic
    config = tmp_path / "long.toml"
    config.write_text('base = "tiny"\ncheckpoint_every = 1000\n[motion]\nepochs = 1000\n')
    cmd = [sys.executable, "-m", "portraittalk", "train", "--stage", "audio2motion", "--data", str(data), "--weights",
           str(base_without_adapters), "--output", str(tmp_path / "run"), "--config", str(config), "--max-steps",
           "150", "--quiet"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})  # tiny model: threads only contend
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "trained audio2motion to step 150/150" in proc.stdout and "--weights" in proc.stdout
    run = Weights(tmp_path / "run")
    assert run.present("audio2motion") and run.present("sd15")
    info = json.loads((tmp_path / "run" / "training.json").read_text())
    with open(tmp_path / "run" / "logs" / "curves.csv", newline="") as f:
        kl = [float(row["kl"]) for row in csv.DictReader(f)]
    assert kl and min(kl) >= 0.0, kl  # the logged KL term is a divergence: never negative
    assert info["features"] == "mel" and info["initialised_from"] == "a fresh tiny model"
    scores = []
    for _ in range(2):  # held-out clips, predicted through the pipeline's loader from the run folder
        audio, landmarks, _ = synthetic_clip(rng, rest, 6.0)
        offsets = predict_motion(audio, rest, fps=FPS, seed=0, weights=run)
        predicted = mesh.mouth_aperture(rest[None] + offsets * mesh.face_height(rest))
        true = mesh.mouth_aperture(landmarks)  # the mouth the clip shows (the rig's lips are not linear in it)
        scores.append(np.corrcoef(predicted[: len(true)], true[: len(predicted)])[0, 1])
    assert min(scores) >= 0.9, scores
