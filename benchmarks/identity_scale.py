"""What an identity similarity means: how alike the identity metric finds photos of *different* people.

Every portrait of ``benchmarks/data`` with a face (tune and held-out sets) is embedded with the metric's
dlib descriptor (as `portraittalk eval` does, landmarks from MediaPipe), and the cosine similarity of
every pair of different people is summarised. The app's evaluation panel and docs/metrics.md quote the
5th–95th percentiles: a result that scores inside that range could be anyone. JSON on stdout.
"""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"


def main() -> None:
    from portraittalk.face.identity import cosine_similarity, identity_encoder
    from portraittalk.face.landmarks import FaceMeshDetector
    from portraittalk.media import load_image

    manifest = json.loads((DATA / "manifest.json").read_text())
    portraits = [f for f in manifest["files"] if f["path"].startswith("portraits/") and f.get("face_found")]
    encoder = identity_encoder("dlib")
    people, skipped = [], []
    with FaceMeshDetector(static=True) as detector:
        for f in portraits:
            try:
                image = load_image(DATA / f["path"])
                face = detector.detect(image, 0, f["path"])
            except Exception as exc:  # a portrait the detector misses is reported, not fatal
                skipped.append(f"{f['path']}: {exc}")
                continue
            people.append((f.get("person") or f["path"], encoder.embed(image, face.points)))
    pairs = np.array([cosine_similarity(a, b) for (pa, a), (pb, b) in itertools.combinations(people, 2) if pa != pb])
    print(json.dumps({
        "backend": "dlib", "portraits": len(people), "skipped": skipped, "different_people_pairs": len(pairs),
        "cosine_similarity": {"p5": round(float(np.percentile(pairs, 5)), 3),
                              "median": round(float(np.median(pairs)), 3),
                              "p95": round(float(np.percentile(pairs, 95)), 3),
                              "max": round(float(pairs.max()), 3)},
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
