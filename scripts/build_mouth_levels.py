"""Write ``benchmarks/data/motion_corpus/mel_levels.npz``: each corpus clip's per-band log-mel mean
and standard deviation, which turn the corpus's per-clip normalised log-mel back into the raw log-mel
the causal mouth model reads (:mod:`portraittalk.training.causal_mouth`). 800 KB instead of a second copy of
the corpus's log-mel. Reads the clips' sound from the fit clips and the GRID videos that
``scripts/build_motion_corpus.py`` extracted into ``--work``:

    python scripts/build_mouth_levels.py [--work /tmp/motion_corpus_work]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "benchmarks" / "data" / "motion_corpus"


def source_video(entry: dict, work: Path) -> Path:
    if entry["source"].startswith("fit_"):
        return ROOT / "benchmarks" / "data" / "clips" / "fit" / f"{entry['id']}.mp4"
    return work / ("s1" if entry["source"] == "grid_s1" else "others") / f"{entry['id']}.mpg"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/motion_corpus_work"))
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from portraittalk.media import load_audio
    from portraittalk.motion.causal_mouth import raw_log_mel

    manifest = json.loads((CORPUS / "manifest.json").read_text())
    keys, means, stds = [], [], []
    for entry in manifest["clips"]:
        mel = raw_log_mel(load_audio(source_video(entry, args.work)).resampled().samples)
        keys.append(f"{entry['file']}:{entry['id']}")
        means.append(mel.mean(axis=0))
        stds.append(mel.std(axis=0))
    np.savez_compressed(CORPUS / "mel_levels.npz", key=np.array(keys), mean=np.array(means, np.float32),
                        std=np.array(stds, np.float32))  # fmt: skip
    print(f"{len(keys)} clips -> {CORPUS / 'mel_levels.npz'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
