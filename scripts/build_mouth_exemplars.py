"""Build the mouth-interior library the warp engine ships (portraittalk/engines/warp/data/).

From real talking-head footage with permissive licences: the fit clips of benchmarks/data/clips/fit
whose upstream repositories are Apache-2.0 or MIT (the MEAD clips, research-use only, are left out;
clips/eval is never read) and the GRID corpus (Cooke et al. 2006, CC BY 4.0: speaker s1 from
``TVR28/LipNet`` @ 7cdd534 and one clip of each other speaker from ``rizkiarm/LipNet`` @ bec592a),
read out of the fetch tool's mirrors by scripts/build_motion_corpus.py's stages (their landmark cache
is reused; missing landmarks are tracked with MediaPipe here).

Per speaker and per opening level, the sharpest frame near that opening is cut along its MediaPipe
inner-lip contour onto the canonical (v, u) grid (``exemplars.cut_interior``) and divided by the
speaker's teeth white (the less coloured of the brightest 10 % of its open interiors).

    python scripts/build_mouth_exemplars.py [--mirrors /work/.mirror] [--work /tmp/motion_corpus_work]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from build_motion_corpus import clip_sources, extract, track  # noqa: E402

from portraittalk.engines.warp.exemplars import (CANONICAL, LIBRARY, WHITE_SCALE, cut_interior, inner_gap,  # noqa: E402
                                                 inner_width, teeth_white)
from portraittalk.face import mesh  # noqa: E402

LEVELS = (0.012, 0.022, 0.034, 0.046, 0.058, 0.07, 0.085, 0.1, 0.12, 0.145)  # inner gap / face height
NEAR = 0.006  # a frame within this of a level may stand for it
SHOWS_TEETH = 0.05  # openings at least this wide must show teeth (most real ones do)
MIN_TEETH_SHARE = 0.08  # of the interior's cells
MIN_SPACING = 0.008  # openings of one speaker's interiors differ at least this much
LIP_NEAR = 22.0  # levels (RGB distance) within which a cell is the speaker's lips
EDGE_BAND = 0.3  # share of the opening's height, from either lip, where a cell may be the speaker's lips
MIN_WIDTH = 50.0  # px: sources whose inner mouth is narrower are too coarse (GRID's, ~35 px) to ship
TEETH_CELLS = 40  # an interior with fewer bright cells shows no teeth worth balancing
SPEAKER_TEETH_BRIGHTEST = 10  # percent of a speaker's open interiors' pixels that show its teeth white
S1_CLIPS = 120  # GRID s1 clips read (one speaker: more only repeats it)
LICENCES = {  # source group -> (upstream, licence)
    "fit_latentsync": ("bytedance/LatentSync @ a229c39, assets/demo*_video.mp4", "Apache-2.0"),
    "fit_obama_edtalk": ("tanshuai0219/EDTalk @ 06a9a96, test_data/uncrop_Obama.mp4", "Apache-2.0"),
    "fit_klobuchar": ("tanshuai0219/EDTalk @ 06a9a96, test_data/mouth_source.mp4", "Apache-2.0"),
    "fit_obama_styletalk": ("FuxiVirtualHuman/styletalk @ 17b046c, samples/source_video/video", "MIT"),
    "fit_retalking": ("OpenTalker/video-retalking @ d32e8e5, examples/face/*.mp4", "Apache-2.0"),
    "fit_theresa_may": ("yerfor/Real3DPortrait @ a9d70c7, data/raw/examples/May_5s.mp4", "MIT"),
    "grid_s1": ("GRID corpus speaker s1 via TVR28/LipNet @ 7cdd534, data/s1", "CC BY 4.0 (Cooke et al. 2006)"),
    "grid_other": ("GRID corpus via rizkiarm/LipNet @ bec592a, evaluation/samples/GRID", "CC BY 4.0 (Cooke et al. 2006)"),
}


def speaker_of(source: str, clip_id: str) -> str:
    """Obama's three clips are one speaker; every other fit clip and GRID clip of 'others' is its own."""
    if "obama" in clip_id:
        return "obama"
    return "grid_s1" if source == "grid_s1" else clip_id


def group_of(source: str) -> str:
    return "grid_other" if source.startswith("grid_other") else source


def frames_of(video: Path):
    from portraittalk.media import read_video
    from portraittalk.training.preprocess import resample

    clip = read_video(video)
    return list(resample(clip, 25.0, clip.fps))


def candidates(source: str, clip_id: str, video: Path, points: np.ndarray) -> list[dict]:
    """Frames of a clip with a frontal face and a mouth near one of the levels, with their interiors."""
    import cv2

    frames = frames_of(video)
    found = []
    for t, frame in enumerate(frames[: len(points)]):
        p = points[t, :, :2].astype(np.float64)
        if not np.isfinite(p).all():
            continue
        face_h = float(mesh.face_height(p))
        nose = p[mesh.NOSE_TIP]
        sides = np.linalg.norm(p[[mesh.MOUTH_CORNER_LEFT, mesh.MOUTH_CORNER_RIGHT]] - nose, axis=1)
        if not 0.8 < sides[0] / sides[1] < 1.25:  # turned away: one side of the mouth foreshortened
            continue
        aperture = inner_gap(p) / face_h
        level = int(np.argmin(np.abs(np.asarray(LEVELS) - aperture)))
        if abs(LEVELS[level] - aperture) > NEAR:
            continue
        interior = cut_interior(frame, p)
        lip = lip_colour(frame, p)
        if aperture >= SHOWS_TEETH and teeth_share(interior) < MIN_TEETH_SHARE:
            continue  # an open mouth whose teeth the lips hide: a render would show a gaping dark hole
        gray = cv2.cvtColor(interior.astype(np.float32), cv2.COLOR_RGB2GRAY)
        found.append(dict(speaker=speaker_of(source, clip_id), group=group_of(source), clip=clip_id, frame=t,
                          level=level, aperture=aperture, shape=inner_gap(p) / max(inner_width(p), 1.0),
                          width=inner_width(p), sharp=float(cv2.Laplacian(gray, cv2.CV_32F).var()),
                          interior=interior, alpha=interior_alpha(interior, lip)))  # fmt: skip
    return found


def teeth_share(interior: np.ndarray) -> float:
    """The share of an interior's cells that are teeth: much brighter than the cavity's middle."""
    luma = interior @ np.array([0.299, 0.587, 0.114])
    return float(((luma >= np.median(luma) + 40.0) & (luma >= 0.7 * np.percentile(luma, 99))).mean())


def spaced(mine: list[dict]) -> list[dict]:
    """A speaker's interiors with openings at least ``MIN_SPACING`` apart (of two closer ones, the
    sharper stays): blending between two nearly equal openings would swap interiors abruptly."""
    kept: list[dict] = []
    for c in sorted(mine, key=lambda c: -c["sharp"]):
        if all(abs(c["aperture"] - k["aperture"]) >= MIN_SPACING for k in kept):
            kept.append(c)
    return sorted(kept, key=lambda c: c["aperture"])


def lip_colour(frame: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The median colour of the lips' red (between the outer and the inner contour)."""
    import cv2

    mask = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(p[mesh.lips_outer_loop()]).astype(np.int32)], 1)
    cv2.fillPoly(mask, [np.round(p[mesh.lips_inner_loop()]).astype(np.int32)], 0)
    return np.median(frame[mask > 0].astype(np.float32), axis=0) if mask.any() else np.full(3, 128.0, np.float32)


def interior_alpha(interior: np.ndarray, lip: np.ndarray) -> np.ndarray:
    """How much of each cell is the inside of the mouth rather than the speaker's own lips, which
    MediaPipe's inner contour often cuts into: cells near the contour (the top and bottom rows)
    coloured like the lips are left out, and a render shows the portrait's own lips there."""
    import cv2

    rows = interior.shape[0]
    v = (np.arange(rows, dtype=np.float32) + 0.5) / rows
    edge = np.clip((EDGE_BAND - np.minimum(v, 1.0 - v)) / (0.5 * EDGE_BAND), 0.0, 1.0)[:, None]
    lipness = np.clip(2.0 - np.linalg.norm(interior - lip, axis=2) / LIP_NEAR, 0.0, 1.0)
    return cv2.GaussianBlur((1.0 - lipness * edge).astype(np.float32), (0, 0), 0.8)


def neutral_teeth(interior: np.ndarray) -> np.ndarray:
    """An interior (in units of its speaker's white) whose teeth, where it shows some (the bright
    pixels), are made neutral: their colour cast comes from the portrait at render time."""
    luma = interior @ np.array([0.299, 0.587, 0.114])
    teeth = (luma >= np.percentile(luma, 80)) & (luma >= np.median(luma) + 0.15)
    if teeth.sum() < TEETH_CELLS:
        return interior
    mean = interior[teeth].mean(axis=0)
    return interior * (float(mean @ np.array([0.299, 0.587, 0.114])) / np.maximum(mean, 1e-3))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    p.add_argument("--work", type=Path, default=Path("/tmp/motion_corpus_work"))
    args = p.parse_args(argv)
    if not (args.work / "s1").is_dir():
        extract(args.mirrors, args.work)
    clips = [c for c in clip_sources(args.work, S1_CLIPS) if not c[0].startswith("fit_mead")]
    track(clips, args.work)
    best: dict[tuple[str, int], dict] = {}
    for source, clip_id, video in clips:
        points = np.load(args.work / "landmarks" / f"{source}__{clip_id}.npy")
        for c in candidates(source, clip_id, video, points):
            key = (c["speaker"], c["level"])
            if key not in best or c["sharp"] > best[key]["sharp"]:
                best[key] = c
        print(f"{source} {clip_id}: {len(best)} kept so far", flush=True)
    speakers = sorted({s for s, _ in best})
    kept, names = [], []
    for s in speakers:
        mine = spaced([best[k] for k in sorted(best) if k[0] == s])
        open_ = [c["interior"] for c in mine if c["aperture"] >= 0.05]
        if len(mine) < 6 or not open_ or np.median([c["width"] for c in mine]) < MIN_WIDTH:  # too few openings to blend between, or never open enough to show teeth
            continue
        white = teeth_white(np.concatenate([i.reshape(-1, 3) for i in open_]), SPEAKER_TEETH_BRIGHTEST)
        if white @ np.array([0.299, 0.587, 0.114]) < 60:
            continue
        for c in mine:
            rgb = np.clip(neutral_teeth(c["interior"] / white) * WHITE_SCALE, 0, 255)
            c["norm"] = np.concatenate([rgb, 255 * c["alpha"][..., None]], axis=2).round().astype(np.uint8)
            c["speaker_index"] = len(names)
        kept += mine
        names.append(s)
    LIBRARY.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(LIBRARY, interiors=np.stack([c["norm"] for c in kept]),
                        speaker=np.array([c["speaker_index"] for c in kept], np.int16),
                        aperture=np.array([c["aperture"] for c in kept], np.float32),
                        shape=np.array([c["shape"] for c in kept], np.float32),
                        mouth_width=np.array([c["width"] for c in kept], np.float32),
                        speakers=np.array(names), canonical=np.array(CANONICAL))  # fmt: skip
    write_sources(kept, names)
    print(f"{len(kept)} interiors of {len(names)} speakers -> {LIBRARY} ({LIBRARY.stat().st_size / 1e3:.0f} kB)")
    return 0


def write_sources(kept: list[dict], names: list[str]) -> None:
    lines = ["# Mouth interiors: sources and licences", "",
             "Built by `scripts/build_mouth_exemplars.py`: each row of `mouth_exemplars.npz` is the inside of a",
             "real speaker's mouth (MediaPipe inner-lip contour, resampled to a 32 x 64 grid, divided by that",
             "speaker's teeth white). GRID: M. Cooke, J. Barker, S. Cunningham, X. Shao, \"An audio-visual corpus",
             "for speech perception and automatic speech recognition\", JASA 120(5), 2006; CC BY 4.0.", "",
             "| speaker | source | licence | clip: frames used |", "|---|---|---|---|"]  # fmt: skip
    for k, name in enumerate(names):
        mine = [c for c in kept if c["speaker_index"] == k]
        upstream, licence = LICENCES[mine[0]["group"]]
        used = ", ".join(f"{c['clip']}:{c['frame']}" for c in mine)
        lines.append(f"| {name} | {upstream} | {licence} | {used} |")
    (LIBRARY.parent / "SOURCES.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
