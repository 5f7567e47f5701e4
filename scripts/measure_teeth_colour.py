"""Measure how real speakers' teeth relate in colour to their skin and eye whites (the fit clips).

The warp engine paints a portrait's teeth from the portrait's eye whites and skin
(``engines/warp/mouth.py``, ``_teeth_colour``); its constants come from this relation, measured on
real footage rather than chosen by taste. Per fit clip (benchmarks/data/clips/fit, never clips/eval),
on frames whose mouth is open (inner gap >= 0.05 face heights), with MediaPipe landmarks:

* teeth: among the brightest 10 % of the pixels between the inner lips (clipped ones left out: they lost
  their colour), the less coloured half (as the interiors' white is taken in
  ``scripts/build_mouth_exemplars.py``);
* eye whites: inside both eyes, the brighter (luma >= 60th percentile), less coloured half;
* skin: the face oval without the eyes and the (dilated) lips, its median.

Per clip the medians over frames; then, over clips, the teeth's chromaticity against the skin's and
the eye whites' (offsets, and least-squares shares of their colour), the luma ratios and the line
teeth luma = a + b skin luma, how green real teeth and eye whites are. Writes a small JSON
(``docs/measured/teeth_colour.json``); the engine's constants are these numbers (quoted in mouth.py).

    python scripts/measure_teeth_colour.py [--step 2] [--out docs/measured/teeth_colour.json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from portraittalk.face import mesh  # noqa: E402

CLIPS = ROOT / "benchmarks" / "data" / "clips" / "fit"
LUMA = np.array([0.299, 0.587, 0.114])
OPEN = 0.05  # inner gap / face height: a mouth this open shows its teeth
MIN_PIXELS = 40  # an opening with fewer teeth pixels is not measured
CLIPPED = 250  # levels: a pixel with a channel this high has lost its colour (overexposed teeth)


def mask(shape: tuple[int, ...], points: np.ndarray) -> np.ndarray:
    import cv2

    m = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(m, [np.round(points).astype(np.int32)], 1)
    return m.astype(bool)


def teeth(frame: np.ndarray, lm: np.ndarray) -> Optional[np.ndarray]:
    """The teeth's colour in an open mouth: the less coloured half of the brightest 10 % inside."""
    import cv2

    inside = cv2.erode(mask(frame.shape, lm[mesh.lips_inner_loop()]).astype(np.uint8), np.ones((3, 3), np.uint8))
    pixels = frame[inside > 0].astype(np.float64)
    if len(pixels) < 10 * MIN_PIXELS:
        return None
    pixels = pixels[pixels.max(axis=1) < CLIPPED]
    if len(pixels) < 10 * MIN_PIXELS:
        return None
    luma = pixels @ LUMA
    bright = pixels[luma >= np.percentile(luma, 90)]
    chroma = bright.max(axis=1) - bright.min(axis=1)
    white = bright[chroma <= np.median(chroma)]
    return np.median(white, axis=0) if len(white) >= MIN_PIXELS else None


def eye_whites(frame: np.ndarray, lm: np.ndarray) -> Optional[np.ndarray]:
    eyes = mask(frame.shape, lm[mesh.ordered_loop("LEFT_EYE")]) | mask(frame.shape, lm[mesh.ordered_loop("RIGHT_EYE")])
    pixels = frame[eyes].astype(np.float64)
    if len(pixels) < 12:
        return None
    luma = pixels @ LUMA
    chroma = pixels.max(axis=1) - pixels.min(axis=1)
    whites = pixels[(luma >= np.percentile(luma, 60)) & (chroma <= np.median(chroma))]
    return np.median(whites, axis=0) if len(whites) >= 6 else None


def skin(frame: np.ndarray, lm: np.ndarray) -> np.ndarray:
    import cv2

    lips = mask(frame.shape, lm[mesh.lips_outer_loop()]).astype(np.uint8)
    eyes = mask(frame.shape, lm[mesh.ordered_loop("LEFT_EYE")]) | mask(frame.shape, lm[mesh.ordered_loop("RIGHT_EYE")])
    face = mask(frame.shape, lm[mesh.face_oval_loop()]) & ~eyes & ~(cv2.dilate(lips, np.ones((9, 9), np.uint8)) > 0)
    return np.median(frame[face].astype(np.float64), axis=0)


def chromaticity(rgb: np.ndarray) -> np.ndarray:
    return rgb / max(float(rgb.sum()), 1e-6)


def greenness(c: np.ndarray) -> np.ndarray:
    """How much greener than grey a chromaticity is: g - (r + b) / 2 (negative: magenta, as skin light is)."""
    return c[..., 1] - 0.5 * (c[..., 0] + c[..., 2])


def measure_clip(path: Path, step: int) -> Optional[dict]:
    """A clip's medians (teeth, eye whites, skin) over its open-mouth frames."""
    from portraittalk.face.landmarks import FaceMeshDetector
    from portraittalk.media import read_video

    rows = []
    with FaceMeshDetector(static=False) as det:
        for t, (_, frame) in enumerate(read_video(path)):
            if t % step:
                continue
            try:
                lm = det.detect(frame).points.astype(np.float64)
            except Exception:  # no face on this frame
                continue
            if float(np.linalg.norm(lm[13] - lm[14])) < OPEN * float(mesh.face_height(lm)):
                continue
            tooth, white = teeth(frame, lm), eye_whites(frame, lm)
            if tooth is not None and white is not None:
                rows.append(np.concatenate([tooth, white, skin(frame, lm)]))
    if len(rows) < 5:
        return None
    med = np.median(np.array(rows), axis=0)
    return {"frames": len(rows), "teeth": med[:3].round(1).tolist(), "eye_whites": med[3:6].round(1).tolist(),
            "skin": med[6:].round(1).tolist()}  # fmt: skip


def relation(clips: dict[str, dict]) -> dict:
    """Over clips: the teeth's chromaticity minus the eye whites' and minus the skin's; the luma ratios;
    the line teeth luma = a + b skin luma; the least-squares k of teeth chromaticity = grey + k (skin
    chromaticity - grey), the share of the skin's colour the teeth carry (where no eye whites show);
    and the joint fit teeth = grey + a (skin - grey) + b (eye whites - grey)."""
    t = np.array([chromaticity(np.array(c["teeth"])) for c in clips.values()])
    e = np.array([chromaticity(np.array(c["eye_whites"])) for c in clips.values()])
    s = np.array([chromaticity(np.array(c["skin"])) for c in clips.values()])
    luma = {k: np.array([np.array(c[k]) @ LUMA for c in clips.values()]) for k in ("teeth", "eye_whites", "skin")}
    neutral = 1.0 / 3.0
    k_skin = float(((t - neutral) * (s - neutral)).sum() / ((s - neutral) ** 2).sum())
    k_white = float(((t - neutral) * (e - neutral)).sum() / ((e - neutral) ** 2).sum())
    slope, intercept = np.polyfit(luma["skin"], luma["teeth"], 1)
    both = np.stack([(s - neutral).ravel(), (e - neutral).ravel()], axis=1)
    joint = np.linalg.lstsq(both, (t - neutral).ravel(), rcond=None)[0]

    def stats(x: np.ndarray) -> dict:
        return {k: np.round(np.percentile(x, q, axis=0), 4).tolist() for k, q in (("median", 50), ("p10", 10), ("p90", 90))}

    return {"clips": len(clips), "teeth_chromaticity": stats(t), "eye_white_chromaticity": stats(e),
            "skin_chromaticity": stats(s), "teeth_minus_eye_whites": stats(t - e), "teeth_minus_skin": stats(t - s),
            "teeth_over_eye_white_luma": stats(luma["teeth"] / luma["eye_whites"]),
            "teeth_over_skin_luma": stats(luma["teeth"] / luma["skin"]),
            "eye_white_over_skin_luma": stats(luma["eye_whites"] / luma["skin"]),
            "teeth_greenness": stats(greenness(t)), "eye_white_greenness": stats(greenness(e)),
            "teeth_minus_skin_prediction": stats(t - (neutral + k_skin * (s - neutral))),
            "teeth_minus_joint_prediction": stats(t - (neutral + joint[0] * (s - neutral) + joint[1] * (e - neutral))),
            "joint_skin_eye_whites": [round(float(v), 3) for v in joint],
            "k_skin": round(k_skin, 3), "k_eye_whites": round(k_white, 3),
            "teeth_luma_over_skin_luma_fit": [round(float(intercept), 1), round(float(slope), 3)]}  # fmt: skip


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--step", type=int, default=2, help="measure every step-th frame")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "measured" / "teeth_colour.json")
    args = p.parse_args(argv)
    clips = {}
    for path in sorted(CLIPS.glob("*.mp4")):
        m = measure_clip(path, args.step)
        print(path.stem, m, flush=True)
        if m is not None:
            clips[path.stem] = m
    out = {"relation": relation(clips), "clips": clips}
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out["relation"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
