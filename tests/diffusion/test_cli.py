"""The command line: `weights make-tiny` writes a usable set; public checkpoints import; `generate --engine
diffusion` renders with them."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, weights: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # tiny ops: one thread is faster on a shared CPU
    env.pop("PORTRAITTALK_WEIGHTS", None)
    return subprocess.run([sys.executable, "-m", "portraittalk", *args], capture_output=True, text=True,
                          timeout=400, cwd=ROOT, env=env)  # fmt: skip


def test_make_tiny_writes_the_registry_layout(tmp_path):
    result = _cli("weights", "make-tiny", str(tmp_path / "w"))
    assert result.returncode == 0, result.stderr
    env = {**os.environ, "PORTRAITTALK_WEIGHTS": str(tmp_path / "w")}
    status = subprocess.run([sys.executable, "-m", "portraittalk", "weights", "status"], capture_output=True,
                            text=True, cwd=ROOT, env=env, timeout=120)  # fmt: skip
    lines = {line.split()[0]: line.split()[1] for line in status.stdout.splitlines()[1:] if line.startswith("  ") and
             line.split()[0] in ("sd15", "portraittalk", "audio2motion")}  # fmt: skip
    assert lines == {"sd15": "present", "portraittalk": "present", "audio2motion": "present"}, status.stdout


def _main(capsys, *args: str) -> tuple[int, str, str]:
    """The CLI's own entry point in this process (diffusers is already imported here: a subprocess
    would spend most of its time importing it again). ``-v`` keeps the process's stderr as it is."""
    from portraittalk.cli import main

    code = main(["-v", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_public_checkpoints_import_and_generate(tiny_dir, tmp_path, capsys):
    """Fresh clone, no network: tiny checkpoints in the public layouts import with the two commands,
    `weights status` lists the result and `generate --engine diffusion` renders with it."""
    import soundfile as sf
    from diffusers import UNet2DConditionModel

    from portraittalk.media import probe_video

    from tiny_onnx import write_tiny_arcface

    from .public_layouts import faceid_state, save_faceid, write_controlnet

    weights = tmp_path / "weights"
    weights.mkdir()
    os.symlink(tiny_dir / "sd15", weights / "sd15")
    write_tiny_arcface(weights / "insightface" / "models" / "buffalo_l" / "w600k_r50.onnx")
    unet = UNet2DConditionModel.from_pretrained(tiny_dir / "sd15" / "unet")
    faceid = save_faceid(faceid_state(unet, "faceid"), tmp_path / "ip-adapter-faceid_sd15.bin")
    controlnet = write_controlnet(tmp_path / "ControlNetMediaPipeFace" / "diffusion_sd15", unet)
    code, out, err = _main(capsys, "weights", "import", "ip-adapter-faceid", str(faceid), "--weights", str(weights))
    assert code == 0 and "faceid (16 tokens per face, its rank-128 LoRA" in out, err
    code, out, err = _main(capsys, "weights", "import", "controlnet", str(controlnet), "--weights", str(weights),
                           "--conditioning-scale", "0.9")  # fmt: skip
    assert code == 0 and "laion-face drawing, conditioning scale 0.9" in out, err
    code, status, _ = _main(capsys, "weights", "status", "--weights", str(weights))
    assert re.search(r"portraittalk +present", status) and re.search(r"controlnet-face +missing", status)
    code, _, err = _main(capsys, "weights", "import", "controlnet", str(tmp_path), "--weights", str(weights))
    assert code == 2 and err.startswith("error: ") and "no config.json" in err and len(err.splitlines()) == 1
    speech, rate = sf.read(str(ROOT / "assets/speech/en_mbp.wav"))
    sf.write(str(tmp_path / "one_second.wav"), speech[:rate], rate)
    video = tmp_path / "x.mp4"
    code, out, err = _main(capsys, "generate", "--engine", "diffusion", "--weights", str(weights),
                           "--ref", str(ROOT / "assets/portraits/astronaut.png"), "--audio",
                           str(tmp_path / "one_second.wav"), "--out", str(video), "--steps", "2", "--size", "128",
                           "--quiet")  # fmt: skip
    assert code == 0, err
    assert "engine: diffusion" in err and "imported from ip-adapter-faceid_sd15.bin" in err
    assert "Eq. (2) attention is untrained" in err
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert any("diffusion engine is running on the CPU" in w and "slow" in w for w in warnings), err
    # Random tiny weights draw no mouth: the artifact check flags it, and blames the render, not the photo.
    flagged = [w for w in warnings if "of the frames" in w]
    assert flagged and all("the diffusion engine's render is suspect, not the photo" in w for w in flagged), err
    assert not any("sharper, front-facing photo" in w for w in flagged)
    info = probe_video(video)
    assert (info.width, info.height) == (128, 128) and info.audio_codec is not None and info.frame_count == 25
