"""The causal mouth model (:mod:`.motion.causal_mouth`) run incrementally on a stream of sound.

Offline, the "causal" motion model turns a whole clip into a mouth (:func:`.motion.drivers.causal_fitted_mouth`).
Live, re-running it on a window of the stream for every frame costs more than a frame's time on a
small machine. This keeps what the next frames need instead: the samples of the log-mel frame not yet
complete, the last ``LEVEL_FRAMES`` log-mel frames (the networks' running level), the last network
inputs the convolutions reach back to, and the loudness history the pause gate compares with. The
log-mel, the running level and the pause gate are the offline functions run on those short histories,
each long enough that the result equals the whole clip's; the networks run side by side as one
(:func:`fused_layers`) on the last inputs only. Each new model frame is completed as soon as its
lookahead is in, so the numbers do not depend on the chunking and equal the offline model's to float
error (held-out speech: 4e-8 face heights); at the end of the stream the clip's end is treated as
offline (the last log-mel frame repeated).
"""
from __future__ import annotations

from collections import deque

import numpy as np

from ..motion.causal_mouth import (KERNEL, LEVEL_FRAMES, LOOKAHEAD_FRAMES, MAX_DILATIONS, MODEL_FPS,
                                   PAUSE_REFERENCE_S, CausalMouthModel, causal_mouth_model, frame_loudness_db, gelu,
                                   network_input, raw_log_mel)  # fmt: skip
from ..motion.drivers import PAUSE_AFTER_FRAMES, PAUSE_EASE, pause_rest
from ..motion.features import HOP, SAMPLE_RATE, WINDOW

# How far back each stage reads, in model frames (each a little more than it needs: extra past is harmless).
CONV_PAST = (KERNEL - 1) * (1 + sum(MAX_DILATIONS)) + 2
PAUSE_PAST = int(round(PAUSE_REFERENCE_S * MODEL_FPS)) + PAUSE_AFTER_FRAMES + len(PAUSE_EASE) + 2


class CausalMouthStream:
    """Push 16 kHz samples; read the model's per-frame mouth (inner-lip gap in face heights, width
    z-score) as soon as a frame's lookahead has arrived, the same numbers as the offline model on the
    whole recording (before the gain and the clipping :func:`.motion.drivers.causal_fitted_mouth` applies)."""

    def __init__(self, model: CausalMouthModel | None = None) -> None:
        self.model = model or causal_mouth_model()
        self.total = 0  # samples received
        self.finished = False
        self._samples = np.zeros(0, np.float32)  # from sample _first on: what the next log-mel frames read
        self._first = 0
        self._raw: list[np.ndarray] = []  # 50 Hz log-mel frames not yet paired into a model frame
        self._n_raw = 0
        self._last_raw: np.ndarray | None = None
        self._mel: deque = deque(maxlen=LEVEL_FRAMES + CONV_PAST + 8)  # the last model frames' log-mel
        self._loudness: deque = deque(maxlen=PAUSE_PAST + 8)
        self._native = 0  # model frames whose log-mel is known
        self._done = 0  # model frames whose mouth is known
        self._mouth: dict[int, tuple[float, float]] = {}  # model frame -> (gap, width z), until read past
        self._frames_total: int | None = None  # model frames of the whole recording (once finished)
        self._layers = fused_layers(self.model)

    def push(self, samples: np.ndarray) -> None:
        """Add 16 kHz mono float samples."""
        if self.finished:
            raise ValueError("the stream has finished")
        x = np.asarray(samples, np.float32)
        self._samples = np.concatenate([self._samples, x])
        self.total += len(x)
        # the next log-mel frame's window is in (the first mirrors the start, as in a clip longer than it)
        if self.total >= HOP * (self._n_raw + 1) and (self._n_raw > 0 or self.total > WINDOW):
            self._add_raw()

    def finish(self) -> None:
        """The recording is over: its last frames are completed as the offline model completes a clip's."""
        if self.finished:
            return
        self._add_raw()
        self._frames_total = max(1, int(np.ceil(self.total / SAMPLE_RATE * MODEL_FPS)))
        if self._n_raw == 0:
            self._last_raw = np.full(self.model.mel_mean.shape, np.log(1e-6), np.float32)
        while self._native < self._frames_total:  # the tail repeats the last log-mel frame, as offline
            self._raw += [self._last_raw] * (2 - len(self._raw))
            self._add_native()
        self.finished = True
        self._advance()

    @property
    def frames_total(self) -> int | None:
        """Model frames of the whole recording, once it has finished."""
        return self._frames_total

    def ready(self, frame: int) -> bool:
        """Model frame ``frame``'s mouth can be read (its sound and lookahead have arrived)."""
        return frame < self._done

    def mouth(self, frame: int) -> tuple[float, float]:
        """Model frame ``frame``'s (gap in face heights, width z), pause rest applied; frames at or
        past the end of a finished stream hold the last. Only the last few frames are kept."""
        if self._frames_total is not None:
            frame = min(frame, self._frames_total - 1)
        if not self.ready(frame):
            raise ValueError(f"model frame {frame} is not complete yet")
        for k in [k for k in self._mouth if k < frame - 1]:  # frames are read in order, the one before too
            del self._mouth[k]
        return self._mouth[frame]

    # -- stages ------------------------------------------------------------------------------
    def _add_raw(self) -> None:
        """The 50 Hz log-mel frames whose 40 ms window is in (frame n reads samples 320 n - 320 .. 320 n + 320)."""
        if self._n_raw == 0:
            mel = raw_log_mel(self._samples)  # the start as raw_log_mel pads it
        else:  # from one frame back: raw_log_mel's own first (padded) frame is dropped
            mel = raw_log_mel(self._samples)[1:]
        if not len(mel):
            return
        self._raw += list(mel)
        self._n_raw += len(mel)
        self._last_raw = mel[-1]
        keep_from = HOP * (self._n_raw - 1)
        self._samples = self._samples[keep_from - self._first :]
        self._first = keep_from
        while len(self._raw) >= 2:
            self._add_native()

    def _add_native(self) -> None:
        pair = np.stack(self._raw[:2])[None]  # (1, 2, 80), averaged as frame_log_mel averages
        del self._raw[:2]
        mel = pair.reshape(1, 2, -1).mean(axis=1)
        self._mel.append(mel[0])
        self._loudness.append(float(frame_loudness_db(mel)[0]))
        self._native += 1
        self._advance()

    def _advance(self) -> None:
        """Complete the frames whose network output and pause gate are now fixed (called for every new
        model frame, so the histories always reach back far enough)."""
        last = self._frames_total - 1 if self.finished else self._native - 1 - LOOKAHEAD_FRAMES
        if last < self._done:
            return
        first = self._done
        z = self._network(first, last)
        rest = self._pause(first, last)
        m = self.model
        for i, k in enumerate(range(first, last + 1)):
            gap = max(m.opening_mean + m.opening_std * z[i, 0], 0.0) * (1.0 - rest[i]) + m.rest_opening * rest[i]
            self._mouth[k] = (float(gap), float(z[i, 1] * (1.0 - rest[i])))
        self._done = last + 1

    def _network(self, first: int, last: int) -> np.ndarray:
        """(frames, 3) the members' mean for model frames first..last, rescaled (as offline)."""
        mel = np.array(self._mel)
        start = self._native - len(mel)  # model frame of mel[0]
        x = network_input(mel, self.model.mel_mean, self.model.mel_std)
        lo = max(first - CONV_PAST, 0)
        assert start <= max(lo - LEVEL_FRAMES + 1, 0), "the running level would read forgotten frames"
        cols = x[lo - start : last + LOOKAHEAD_FRAMES + 1 - start].T
        if self.finished:  # the clip's last input repeated past its end, as offline
            missing = last + LOOKAHEAD_FRAMES + 1 - self._native
            cols = np.concatenate([cols, np.repeat(cols[:, -1:], missing, axis=1)], axis=1)
        out = self._net(cols, pad=lo == 0)
        return out[-(last - first + 1) :] / self.model.prediction_std

    def _net(self, x: np.ndarray, pad: bool) -> np.ndarray:
        """(L', 3) the members' mean output for the input columns ``x`` (160, L): each layer's valid
        convolution (its output drops the first columns, which would read before ``x``), or, at the
        stream's start (``pad``), the zeros before it that the offline convolution reads."""
        for weight, bias, dilation, act in self._layers:
            reach = dilation * (weight.shape[2] - 1)
            if pad:
                x = np.concatenate([np.zeros((x.shape[0], reach), x.dtype), x], axis=1)
            n = x.shape[1] - reach
            taps = range(weight.shape[2])
            y = bias[:, None] + sum(weight[:, :, k] @ x[:, k * dilation : k * dilation + n] for k in taps)
            x = (x[:, reach:] + gelu(y)) if act == "residual" else gelu(y) if act == "gelu" else y
        members = len(self.model.members)
        return x.reshape(members, -1, x.shape[1]).mean(axis=0).T

    def _pause(self, first: int, last: int) -> np.ndarray:
        """Model frames first..last of :func:`.motion.drivers.pause_rest`, from the loudness history."""
        loud = np.array(self._loudness)
        start = self._native - len(loud)
        lo = max(first - PAUSE_PAST, 0)
        assert lo >= start, "the pause gate would read forgotten frames"
        return pause_rest(loud[lo - start :])[first - lo : last + 1 - lo]


def fused_layers(model: CausalMouthModel) -> list[tuple[np.ndarray, np.ndarray, int, str]]:
    """The members' layers side by side, one convolution per layer for all of them (block-diagonal
    weights: the zeros add nothing), as (weight (out, in, K), bias, dilation, "gelu" | "residual" | "linear")."""

    def stacked(name: str, first: bool = False) -> tuple[np.ndarray, np.ndarray]:
        ws = [w[f"{name}.weight"] for w in model.members]
        if first:  # every member reads the same input
            return np.concatenate(ws), np.concatenate([w[f"{name}.bias"] for w in model.members])
        out = np.zeros((sum(w.shape[0] for w in ws), sum(w.shape[1] for w in ws), ws[0].shape[2]), np.float32)
        o = i = 0
        for w in ws:
            out[o : o + w.shape[0], i : i + w.shape[1]] = w
            o, i = o + w.shape[0], i + w.shape[1]
        return out, np.concatenate([w[f"{name}.bias"] for w in model.members])

    layers = [(*stacked("inp", first=True), 1, "gelu")]
    layers += [(*stacked(f"blocks.{i}"), d, "residual") for i, d in enumerate(model.dilations)]
    return layers + [(*stacked("out"), 1, "linear")]
