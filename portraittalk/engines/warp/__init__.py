"""The warp engine: animates the reference photo itself along the MotionTrack, on the CPU.

How a frame is made:
1. The track is read as it is stored: its expression (displacements in the reference's placement)
   and its head pose (a similarity from the ``head`` parameters' roll, translation and scale; pitch
   and yaw are ignored by a 2-D warp).
2. Expression displacements are spread over the face by a piecewise-linear (barycentric) map on a
   Delaunay mesh of the 468 face points plus rings of still anchors, on a 4-px grid over only the
   window that can move, and bounded (``field.MAX_DISPLACEMENT``); head pose moves the head region
   (a soft mask from the person segmentation), so hair moves with the head and the background stays
   put, with no seam.
3. One backward remap of the reference (fixed-point inverse of the forward field) renders it; around
   the lips (and the lids while they blink) the exact piecewise-affine map of the mesh's own
   triangles replaces the smooth field.
4. Inside the inner lips, where they open wider than the photo's, a real mouth's interior is
   composited (``exemplars``: teeth, tongue and shading cut from real talking-head video, one
   speaker's, blended by the opening), warped into the drawn inner-lip contour, cut by the outer lip
   contour, lit, coloured and blurred like the photo; a reference that shows teeth lends them.

Controls (see ``portraittalk.config.Controls``), applied to the speech-only track by ``WarpEngine.drawn``: w1 scales
the expression (mouth, jaw) displacements, w2 damps head motion toward the reference placement, w3
sets the expression's temporal smoothing.
Several references: the first gives the frame (background, hair, upper face). Each other reference
is aligned onto it (similarity on the upper face, colours matched) and driven by the same motion;
per frame, the lower face comes from the reference whose own mouth is closest to the wanted opening
(least stretching), cross-faded at switches. The one with the widest-open mouth lends its teeth.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Iterator, Sequence

import numpy as np

from ...config import GenerateRequest
from ...face import mesh
from ...face.reference import Reference
from ...motion.track import MotionTrack
from ..base import Engine, ProgressFn, no_progress
from .mouth import MouthStyle, paint_mouth, teeth_from
from .references import Source, lower_face_mask, source_weights


class WarpEngine(Engine):
    name = "warp"
    still_background = True

    def drawn(self, track: MotionTrack, request: GenerateRequest) -> MotionTrack:
        """``track`` with w1–w3 as motion gains (expression scale, head damping, expression smoothing)."""
        from ...motion.controls import apply_controls

        return apply_controls(track, request.controls, request.render.smoothing_s)

    def frames(self, references: Sequence[Reference], drawn: MotionTrack, request: GenerateRequest,
               progress: ProgressFn = no_progress) -> Iterator[np.ndarray]:  # fmt: skip
        import cv2

        # OpenCV runs sequentially (process-wide) while frames are made: each call here covers a window
        # of one frame, and its thread pool splitting that across both cores of a 2-core machine, while
        # the encoder needs one, spins more than it gains (25 s of speech: 6.2 s -> 5.7 s end to end).
        # The caller's setting comes back when the frames end (or the caller stops asking for them).
        threads = cv2.getNumThreads()
        cv2.setNumThreads(0)
        try:
            yield from self._frames(references, drawn, progress)
        finally:
            cv2.setNumThreads(threads)

    def _frames(self, references: Sequence[Reference], track: MotionTrack,
                progress: ProgressFn) -> Iterator[np.ndarray]:  # fmt: skip
        renderer = WarpRenderer(references, track)
        total = len(track)
        for t in range(total):
            frame = renderer.frame(t)
            progress("rendering", t + 1, total)
            yield frame


class WarpRenderer:
    """The warp engine's frames of a track: what the photos alone decide (the warp fields, the other
    references' alignment, the teeth, the mouth's colours) is computed once; :meth:`follow` hands it
    another track of the same references (live rendering: a few frames at a time)."""

    def __init__(self, references: Sequence[Reference], track: MotionTrack) -> None:
        primary = references[0]
        if primary.size != track.frame_size[0]:
            raise ValueError("the track was made for another output size")
        self.primary = primary
        self.sources = [Source.of(primary, track)]
        self.sources += [s for s in (Source.aligned(primary, r, track) for r in references[1:]) if s is not None]
        self.teeth = teeth_from(references)
        self.style = MouthStyle.of(primary, self.teeth)
        self.grain = np.random.default_rng(0).standard_normal((primary.size, primary.size)).astype(np.float32)
        self.face_h = self.sources[0].warper.face_height
        self.weights = self.source_weights(track)

    def source_weights(self, track: MotionTrack) -> np.ndarray:
        """(T, K) how much of each reference's lower face each frame shows (:func:`.references.source_weights`)."""
        return source_weights(mesh.mouth_aperture(track.landmarks), [s.aperture for s in self.sources])

    def follow(self, track: MotionTrack, weights: np.ndarray) -> None:
        """Render ``track`` from now on, each reference's lower face weighed by ``weights`` (T, K)."""
        for source in self.sources:  # each on its own rest shape
            source.warper.follow(replace(track, reference=source.warper.track.reference))
        self.weights = weights

    def frame(self, t: int) -> np.ndarray:
        """(size, size, 3) RGB uint8: frame ``t`` of the track followed."""
        primary, sources, weights = self.primary, self.sources, self.weights
        frame = sources[0].warper.frame(t)
        lm = sources[0].warper.landmarks(t)  # the track's, bounded like the field
        for k in np.nonzero(weights[t, 1:] > 0.01)[0] + 1:
            mask = lower_face_mask(lm, primary.size, self.face_h)[..., None] * weights[t, k]
            frame = (frame * (1 - mask) + sources[k].warper.frame(t) * mask).round().astype(np.uint8)
        main = sources[int(np.argmax(weights[t]))]
        return paint_mouth(frame, lm, self.face_h, self.teeth, main.ref_gap, self.style, self.grain)
