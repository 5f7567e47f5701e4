"""Loss and learning-rate curves: a CSV (one row per logged step), a PNG drawn from it, and
TensorBoard through accelerate's tracker when the ``tensorboard`` package is installed."""
from __future__ import annotations

import csv
import importlib.util
from pathlib import Path
from typing import Mapping

CSV_NAME = "curves.csv"
PNG_NAME = "curves.png"


def tensorboard_available() -> bool:
    return importlib.util.find_spec("tensorboard") is not None


class CurveLog:
    """Rows of ``step`` + named values appended to ``folder/curves.csv`` (columns fixed by the first row)."""

    def __init__(self, folder: Path, resume_step: int = 0) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / CSV_NAME
        self.columns: list[str] = []
        if self.path.is_file():
            rows = self.rows()
            kept = [r for r in rows if int(float(r["step"])) <= resume_step] if resume_step else []
            self.columns = list(rows[0].keys()) if rows else []
            self._write(kept)  # rows after the checkpoint we resume from happen again

    def rows(self) -> list[dict[str, str]]:
        if not self.path.is_file():
            return []
        with self.path.open(newline="") as f:
            return list(csv.DictReader(f))

    def _write(self, rows: list[Mapping[str, object]]) -> None:
        with self.path.open("w", newline="") as f:
            if self.columns:
                writer = csv.DictWriter(f, fieldnames=self.columns)
                writer.writeheader()
                writer.writerows(rows)

    def log(self, step: int, values: Mapping[str, float]) -> None:
        row = {"step": step, **{k: f"{float(v):.6g}" for k, v in values.items()}}
        if not self.columns:
            self.columns = list(row)
            self._write([])
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, fieldnames=self.columns, extrasaction="ignore").writerow(row)

    def plot(self, title: str = "") -> Path:
        """Draw every logged value against the step (loss terms on a log scale) into curves.png."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rows = self.rows()
        out = self.folder / PNG_NAME
        names = [c for c in self.columns if c != "step"]
        fig, axes = plt.subplots(len(names) or 1, 1, figsize=(7, 2.2 * max(1, len(names))), sharex=True, squeeze=False)
        steps = [int(float(r["step"])) for r in rows]
        for ax, name in zip(axes[:, 0], names):
            values = [float(r[name]) for r in rows]
            ax.plot(steps, values, lw=1.2)
            ax.set_ylabel(name)
            if name != "lr" and values and min(values) > 0:
                ax.set_yscale("log")
            ax.grid(alpha=0.3)
        axes[-1, 0].set_xlabel("optimiser step")
        if title:
            axes[0, 0].set_title(title)
        fig.tight_layout()
        fig.savefig(out, dpi=100)
        plt.close(fig)
        return out
