"""Rebuild ``benchmarks/data/motion_corpus`` (issue 21's motion training data) from its sources.

Sources: the 19 fit clips (``benchmarks/data/clips/fit``; never ``clips/eval``), GRID speaker s1
(``TVR28/LipNet`` @ 7cdd534: ``data/s1/*.mpg`` and ``data/alignments/s1/*.align``) and GRID clips of
other speakers (``rizkiarm/LipNet`` @ bec592a: ``evaluation/samples/GRID/*.mpg``), read from the
bare git mirrors the ``fetch`` tool makes (``--mirrors``, default ``/work/.mirror``).

Three resumable stages, each skipping what is already done:
  1. extract  the GRID videos and alignments out of the mirrors into ``--work``;
  2. track    MediaPipe's 3-D landmarks per 25 fps frame, one cache file per clip in ``--work`` (the
              slow part: ~1 s of CPU per GRID clip);
  3. assemble per-frame features, per-source sound/picture offsets and the manifest into ``--out``.

    nice -n 10 .venv/bin/python scripts/build_motion_corpus.py            # everything
    nice -n 10 .venv/bin/python scripts/build_motion_corpus.py --s1-limit 300

``--s1-limit N`` tracks only the first N s1 clips in a fixed hash order of their names (a sample
spread over all sentences); the committed corpus records the number it used in its manifest.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GRID_S1 = ("TVR28/LipNet", "7cdd534", "data/s1", "data/alignments/s1")
GRID_OTHERS = ("rizkiarm/LipNet", "bec592a", "evaluation/samples/GRID")
FIT_DIR = ROOT / "benchmarks" / "data" / "clips" / "fit"
# Fit clips grouped by the upstream pipeline that encoded them: one sound/picture offset each.
FIT_SOURCES = {"mead": "en_mead_", "obama_styletalk": "en_obama_styletalk", "obama_edtalk": "en_obama_edtalk",
               "latentsync": "_latentsync", "retalking": "retalking_", "klobuchar": "en_klobuchar",
               "theresa_may": "en_theresa_may"}  # fmt: skip


def _git_dir(mirrors: Path, repo: str) -> Path:
    return mirrors / repo.replace("/", "+") / "repo"


def _git(git_dir: Path, *args: str) -> bytes:
    return subprocess.run(["git", f"--git-dir={git_dir}", *args], check=True, capture_output=True).stdout


def _tree(git_dir: Path, commit: str, folder: str) -> dict[str, str]:
    """path -> blob id of the files under ``folder`` at ``commit``."""
    out = {}
    for line in _git(git_dir, "ls-tree", "-r", commit, folder).decode().splitlines():
        meta, path = line.split("\t", 1)
        out[path] = meta.split()[2]
    return out


def s1_order(names: list[str]) -> list[str]:
    """s1 clip names in a fixed pseudo-random order (hash of the name), so a prefix samples all sentences."""
    return sorted(names, key=lambda n: hashlib.sha1(n.encode()).hexdigest())


def extract(mirrors: Path, work: Path) -> dict:
    """Copy GRID videos and alignments out of the mirrors; returns what was found (for the manifest)."""
    repo, commit, videos, aligns = GRID_S1
    git_dir = _git_dir(mirrors, repo)
    found = {"s1": {}, "others": {}}
    for sub, folder in (("s1", videos), ("align", aligns)):
        (work / sub).mkdir(parents=True, exist_ok=True)
        for path, blob in _tree(git_dir, commit, folder).items():
            dest = work / sub / Path(path).name
            if not dest.is_file():
                dest.write_bytes(_git(git_dir, "cat-file", "blob", blob))
            if sub == "s1":
                found["s1"][dest.stem] = blob
    repo, commit, folder = GRID_OTHERS
    git_dir = _git_dir(mirrors, repo)
    (work / "others").mkdir(parents=True, exist_ok=True)
    for path, blob in _tree(git_dir, commit, folder).items():
        if blob in found["s1"].values():  # the same file as an s1 clip: that speaker is s1
            continue
        dest = work / "others" / Path(path).name
        if not dest.is_file():
            dest.write_bytes(_git(git_dir, "cat-file", "blob", blob))
        found["others"][dest.stem] = blob
    return found


def clip_sources(work: Path, s1_limit: int | None) -> list[tuple[str, str, Path]]:
    """(source, clip id, video) of every clip to process, in processing order."""
    from portraittalk.training.motion_corpus import grid_sentence

    clips = []
    for video in sorted(FIT_DIR.glob("*.mp4")):
        source = next(s for s, key in FIT_SOURCES.items() if key in video.stem)
        clips.append((f"fit_{source}", video.stem, video))
    for video in sorted((work / "others").glob("*.mpg")):
        grid_sentence(video.stem)  # a GRID name, or fail here
        clips.append((f"grid_other_{video.stem}", video.stem, video))  # one clip per unnamed speaker
    s1 = s1_order([v.stem for v in (work / "s1").glob("*.mpg")])
    for name in s1[:s1_limit]:
        clips.append(("grid_s1", name, work / "s1" / f"{name}.mpg"))
    return clips


def track(clips: list[tuple[str, str, Path]], work: Path) -> None:
    from portraittalk.training.motion_corpus import track_landmarks

    cache = work / "landmarks"
    cache.mkdir(parents=True, exist_ok=True)
    todo = [c for c in clips if not (cache / f"{c[0]}__{c[1]}.npy").is_file()]
    started = time.time()
    for k, (source, clip_id, video) in enumerate(todo):
        points = track_landmarks(video)
        tmp = cache / f".{source}__{clip_id}.npy"
        np.save(tmp, points.astype(np.float32))
        tmp.rename(cache / f"{source}__{clip_id}.npy")
        if k % 25 == 0 or k == len(todo) - 1:
            print(f"tracked {k + 1}/{len(todo)} ({time.time() - started:.0f} s)", flush=True)


# One npz per group; GRID s1 in two by its sentences' first word (bin/lay, place/set: about 500 clips and
# 6 MB each), so that no committed file passes 8 MiB.
FILES = ("fit.npz", "grid_s1_bin_lay.npz", "grid_s1_place_set.npz", "grid_others.npz")
FORMAT = "portraittalk-motion-corpus/1"
FIELDS = {
    "face_found": "bool: MediaPipe found the face (else pose and expression are NaN)",
    "roll": "degrees, > 0 turns the eye line clockwise on screen",
    "pitch": "degrees, > 0 tips the chin down (0 is not exactly level: forehead-to-nose-base axis)",
    "yaw": "degrees, > 0 turns the nose toward the image's right",
    "dx": "face centre's move right from the clip's median, face heights",
    "dy": "face centre's move down from the clip's median, face heights",
    "scale": "face width / clip median - 1 (as MotionTrack.head's scale)",
    "lip_gap": "inner-lip gap (lm 13-14) in the face's frame, face heights",
    "mouth_width": "mouth corners (lm 61-291) in the face's frame, face heights",
    "jaw_drop": "nose base (lm 2) to chin (lm 152), vertical in the face's frame, face heights",
    "mouth_corner_lift": "mouth corners above the lips' middle (smile > 0), face heights",
    "brow_height": "brows above the eye corners, both sides' mean, face heights",
    "eye_open": "lid gap / eye width, both eyes' mean (blinks dip)",
    "gaze_x": "irises right of the eye corners' middle / eye width",
    "gaze_y": "irises below the eye corners' middle / eye width",
    "mouth_aperture": "project's 2-D image measure |lm13-lm14| / |lm10-lm152| (portraittalk.face.mesh)",
    "mel": "(80,) project's per-clip-normalised log-mel (motion.features), its two 50 Hz frames averaged",
    "loudness_db": "20 log10 RMS over 1.5 frames centred at (k + 0.5) / 25 s (motion.acoustic.rms_envelope)",
    "pitch_hz": "autocorrelation F0, 0 = unvoiced or silent",
}
PER_FRAME = tuple(FIELDS)
UNIT_NOTE = ("face height = the clip's median 3-D forehead-to-chin distance (lm 10-152), which the jaw does not "
             "shorten; frame k shows time k / 25 s")  # fmt: skip


def _group(source: str) -> str:
    return "fit" if source.startswith("fit_") else ("grid_s1" if source == "grid_s1" else "grid_other")


def _file(group: str, clip_id: str) -> str:
    """The npz a clip's features go to (GRID clip names start with their sentence's first letter)."""
    if group == "grid_s1":
        return FILES[1] if clip_id[0] in "bl" else FILES[2]
    return FILES[0] if group == "fit" else FILES[3]


def _per_clip_std(values: list[np.ndarray]) -> float:
    return float(np.median([np.nanstd(v) for v in values]))


def _p99_change(values: list[np.ndarray]) -> float:
    return float(np.nanpercentile(np.concatenate([np.abs(np.diff(v)) for v in values]), 99))


MAX_LAG = 6  # frames searched either way (the issue's ±6)
STD_OF = ("roll", "pitch", "yaw", "brow_height", "lip_gap", "mouth_aperture", "eye_open")  # std over a clip
CHANGE_OF = ("lip_gap", "mouth_aperture")  # 99th percentile of |frame-to-frame change|


def _calibrate_offsets(sources: dict) -> None:
    """Each source's offset (the picture behind the sound, frames). s1's comes from its alignments'
    bilabial releases; its lip/sound lags then measure speakers' natural lead, which every other
    source's lags are corrected by. Reliable where both lags agree within 1.5 frames, neither sits
    at the search's edge and both correlate (r >= 0.1)."""
    anchor = sources.get("grid_s1")
    if anchor is None or "bilabial_release" not in anchor:
        return
    absolute = anchor["bilabial_release"]["median"]
    lead = {k: v["lag"] - absolute for k, v in anchor["lags"].items()}
    for info in sources.values():
        if "bilabial_release" in info:
            info["offset_frames"], info["offset_method"], info["offset_reliable"] = absolute, "bilabial release", True
            continue
        each = {k: v["lag"] - lead[k] for k, v in info["lags"].items()}
        info["offset_frames"] = round(float(np.mean(list(each.values()))), 2)
        info["offset_method"] = "mean of the level and onset lags, each less grid_s1's (lag - bilabial release)"
        clear = all(abs(v["lag"]) < MAX_LAG - 0.5 and v["r"] >= 0.1 for v in info["lags"].values())
        info["offset_reliable"] = bool(clear and abs(each["level"] - each["onset"]) <= 1.5)


def assemble(clips: list[tuple[str, str, Path]], work: Path, out: Path, s1_limit: int | None) -> dict:
    """Features of every tracked clip into one npz per group, offsets and statistics into manifest.json."""
    from portraittalk.media import load_audio
    from portraittalk.training.motion_corpus import (bilabial_release_lags, clip_features, grid_sentence,
                                                     lip_sound_lags, read_alignment, validation_split)  # fmt: skip

    out.mkdir(parents=True, exist_ok=True)
    columns: dict[str, dict[str, list]] = {f: {k: [] for k in PER_FRAME} for f in FILES}
    words: dict[str, dict[str, list]] = {f: {"clip": [], "text": [], "start": [], "end": []} for f in FILES}
    entries, by_source = [], {}
    for source, clip_id, video in clips:
        points = np.load(work / "landmarks" / f"{source}__{clip_id}.npy")
        feats = clip_features(points, load_audio(video))
        group = _group(source)
        file = _file(group, clip_id)
        index = len([e for e in entries if e["file"] == file])
        start = sum(len(c) for c in columns[file]["roll"])
        for k in PER_FRAME:
            columns[file][k].append(feats[k] - 1.0 if k == "scale" else feats[k])
        entry = {"id": clip_id, "source": source, "file": file, "index": index, "start": start,
                 "frames": len(points), "face_found": round(float(feats["face_found"].mean()), 4)}  # fmt: skip
        if group == "fit":
            entry["split"] = "fit"
        else:
            entry["sentence"] = grid_sentence(clip_id)
            entry["split"] = validation_split(entry["sentence"])
        aligned = read_alignment(work / "align" / f"{clip_id}.align") if group == "grid_s1" else []
        if aligned:
            spoken = " ".join(w.text for w in aligned if w.text not in ("sil", "sp"))
            entry["alignment_matches_name"] = spoken == entry["sentence"]
        for w in aligned:
            for key, value in (("clip", index), ("text", w.text), ("start", w.start), ("end", w.end)):
                words[file][key].append(value)
        entries.append(entry)
        by_source.setdefault(source, []).append((feats, aligned))

    sizes = {}
    for name in FILES:
        if not columns[name]["roll"]:
            continue
        arrays = {k: np.concatenate(v).astype(bool if k == "face_found" else np.float16)
                  for k, v in columns[name].items()}  # fmt: skip
        arrays["clip_start"] = np.cumsum([0] + [len(v) for v in columns[name]["roll"]]).astype(np.int64)
        arrays["clip_id"] = np.array([e["id"] for e in entries if e["file"] == name])
        arrays["word_clip"] = np.array(words[name]["clip"], np.int32)
        arrays["word_text"] = np.array(words[name]["text"], dtype="U8")
        arrays["word_start"] = np.array(words[name]["start"], np.float32)
        arrays["word_end"] = np.array(words[name]["end"], np.float32)
        np.savez_compressed(out / name, **arrays)
        sizes[name] = (out / name).stat().st_size

    sources = {}
    pooled = {"fit (all sources)": [i for src, items in by_source.items() if src.startswith("fit_") for i in items],
              "grid (all speakers)": [i for src, items in by_source.items() if src.startswith("grid_") for i in items]}
    stats = {name: {"clips": len(items),
                    "std_per_clip_median": {k: round(_per_clip_std([f[k] for f, _ in items]), 5) for k in STD_OF},
                    "p99_frame_change": {k: round(_p99_change([f[k] for f, _ in items]), 5) for k in CHANGE_OF}}
             for name, items in pooled.items() if items}  # fmt: skip
    for source, items in by_source.items():
        gaps = [f["lip_gap"] for f, _ in items]
        lags = lip_sound_lags(gaps, [f["loudness_db"] for f, _ in items], MAX_LAG)
        frames = sum(len(g) for g in gaps)
        info = {"clips": len(items), "frames": frames, "seconds": round(frames / 25.0, 1),
                "lags": {k: {"lag": round(lag, 2), "r": round(r, 3)} for k, (lag, r) in lags.items()},
                "std_per_clip_median": {k: round(_per_clip_std([f[k] for f, _ in items]), 5) for k in STD_OF},
                "p99_frame_change": {k: round(_p99_change([f[k] for f, _ in items]), 5) for k in CHANGE_OF}}
        releases = np.concatenate([bilabial_release_lags(f["lip_gap"], a) for f, a in items if a] or [np.zeros(0)])
        if len(releases):
            q1, med, q3 = np.percentile(releases, [25, 50, 75])
            info["bilabial_release"] = {"median": round(float(med), 2), "words": int(len(releases)),
                                        "iqr": [round(float(q1), 2), round(float(q3), 2)]}  # fmt: skip
        sources[source] = info
    _calibrate_offsets(sources)
    manifest = {
        "format": FORMAT, "fps": 25, "units": UNIT_NOTE, "fields": FIELDS,
        "files": {name: {"bytes": size} for name, size in sizes.items()},
        "arrays": {"per frame": "one value (mel: 80) per frame, clips concatenated; float16 (face_found: bool)",
                   "clip_start": "(clips + 1,) first frame of each clip, then the total", "clip_id": "(clips,)",
                   "word_*": "GRID s1 alignment: clip index, word or 'sil', start and end in frames (float)"},
        "splits": {"fit": "the project's fit clips (benchmarks/data/clips/fit); clips/eval is never used",
                   "train/validation": "GRID by sentence: sha1 of the sentence text < 10 % -> validation, so "
                   "every speaker's clip of one sentence is on the same side; GRID is never held out by speaker"},
        "offsets": {"offset_frames": "the picture behind the sound, frames (> 0: lips late)",
                    "bilabial release": "lips parted (20 % of the opening) after a /b p/ closure minus the word's "
                    "aligned start (GRID s1 alignments)",
                    "lags.level": "peak of the lip gap/loudness cross-correlation within ±6 frames, pooled over "
                    "the source's clips (includes speakers' natural lead)",
                    "lags.onset": "the same for the rectified frame-to-frame changes (lips opening, sound rising)",
                    "offset_reliable": "both lags agree within 1.5 frames, neither at the search edge, r >= 0.1"},
        "statistics": {"std_per_clip_median": "median over the clips of each clip's std (degrees; face heights)",
                       "p99_frame_change": "99th percentile of |x[t+1] - x[t]| over every frame pair", **stats},
        "s1_limit": s1_limit, "clips": entries, "sources": sources,
    }  # fmt: skip
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"{out}: {len(entries)} clips, {sum(e['frames'] for e in entries)} frames, "
          f"{sum(sizes.values()) / 1e6:.1f} MB")  # fmt: skip
    return manifest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    p.add_argument("--work", type=Path, default=Path("/tmp/motion_corpus_work"), help="raw videos and landmark caches")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "data" / "motion_corpus")
    p.add_argument("--s1-limit", type=int, default=None, help="GRID s1 clips to use (default: all 1,000)")
    p.add_argument("--stage", choices=("extract", "track", "assemble", "all"), default="all")
    args = p.parse_args(argv)

    if args.stage in ("extract", "all"):
        found = extract(args.mirrors, args.work)
        (args.work / "extracted.json").write_text(json.dumps(found, indent=1))
        print(f"extracted {len(found['s1'])} s1 clips, {len(found['others'])} other GRID clips")
    clips = clip_sources(args.work, args.s1_limit)
    if args.stage in ("track", "all"):
        track(clips, args.work)
    if args.stage in ("assemble", "all"):
        assemble(clips, args.work, args.out, args.s1_limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
