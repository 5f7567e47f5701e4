"""What the two mouth trainers (``mouth``: the offline model, ``causal_mouth``: the live one) share:
who counts as one speaker, how a prediction's lag against the real mouth is scanned, and how the
networks' weights are written."""
from __future__ import annotations

import numpy as np

MAX_LAG = 6  # frames (0.24 s at 25 fps) a prediction's offset against the real mouth is scanned over


def speaker(name: str) -> str:
    """Clips of one person are one group (the three Obama passages)."""
    return "obama" if "obama" in name else name


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """r over the frames both have (NaN where one is flat or fewer than 3 frames are left)."""
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) < 1e-9 or np.std(b[ok]) < 1e-9:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def lag_scan(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Pearson r of y[t + lag] against p[t] for lag in -MAX_LAG..MAX_LAG."""
    return np.array([pearson(y[max(lag, 0) : len(y) + min(lag, 0)], p[max(-lag, 0) : len(p) + min(-lag, 0)])
                     for lag in range(-MAX_LAG, MAX_LAG + 1)])  # fmt: skip


def export(nets: list) -> dict[str, np.ndarray]:
    """The networks' weights as float16 arrays named ``w.<member>.<parameter>`` (what ``mouth_model`` reads)."""
    return {f"w.{i}.{k}": v.detach().numpy().astype(np.float16) for i, net in enumerate(nets)
            for k, v in net.state_dict().items()}  # fmt: skip
