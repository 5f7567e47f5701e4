"""The warp field of one reference: a smooth expression field on a Delaunay mesh, head motion over
the head region, an exact piecewise-affine map around the lips, and one backward remap per frame.

It reads the track's parameters as they are: the expression drives the mesh, the head's roll,
translation and scale move the head region. Pitch and yaw turn the face's points in 3-D on
MediaPipe's depth of the reference (:func:`..motion.geometry.turn`); the turn is split into the
face's mean shift, which moves the whole head region with the roll (hair and ears follow it, the
background stays), and what is left (the nose swinging farther than the cheeks, the near cheek
widening, the far one narrowing), which drives the mesh with the expression and fades out beyond
the face. A planar affine fitted to the turn would stretch the hair of a photo already turned
(its depth runs across it) and fold it against the picture's still edge."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...face import mesh
from ...face.reference import Reference
from ...motion.geometry import (LOWER_LIP_INNER_SET, UPPER_LIP_INNER_SET, compose, head_pivot, head_transform,
                                invert_affine, mesh_triangles, relative_depth, turn)
from ...motion.track import PITCH, YAW
from ...motion.track import MotionTrack

FACE_POINTS = 468  # irises are not control points: they would fold the lids during blinks
STEP = 4  # pixels between the smooth field's cells
CENTRE = (STEP - 1) / 2  # a cell's centre within its block
FEATHER = 6.0  # pixels over which the exact map takes over from the grid's
BORDER_FADE = 0.08  # of the frame: the head region's motion fades out over this much toward the picture's edge
MAX_DISPLACEMENT = 0.2  # of the face height: no expression moves a point farther (the jaw at full opening: ~0.1)


class FaceWarper:
    """Precomputed fields of one reference; ``frame(t)`` renders frame t of a track.

    The displacement field is smooth, so it is computed on a grid of cells ``STEP`` pixels apart
    and only the final sampling map is upscaled; where it is steep (the lips, the jaw, the lids)
    the exact piecewise-affine map of the mesh's triangles replaces it. Outside the moving window
    (the face's anchor rings and the head region) the field is zero, so only that window is
    computed and resampled; the rest of the frame is the photo.
    """

    def __init__(self, reference: Reference, track: MotionTrack) -> None:
        self.track = track
        self.image = reference.image
        self.size = size = reference.size
        cells = -(-size // STEP)
        self.reference = ref = track.reference.astype(np.float64)
        self.face_height = float(mesh.face_height(ref))
        self.z = relative_depth(ref, track.depth)  # as the track's landmarks (no depth: the face turns flat)
        self.pivot = head_pivot(ref)
        # Control points: the face + two rings of still anchors around it + the crop border.
        centre = ref[:FACE_POINTS].mean(axis=0)
        # Rings around the outline of every face point, not the face oval alone: on a turned face the
        # far cheek's points lie beyond the oval, and an anchor inside them would fold the mesh there.
        import cv2

        outline = cv2.convexHull(ref[:FACE_POINTS].astype(np.float32))[:, 0].astype(np.float64)
        rings = [centre + (outline - centre) * k for k in (1.25, 1.6)]
        border = np.array([[x, y] for x in np.linspace(0, size - 1, 9) for y in (0, size - 1)]
                          + [[x, y] for y in np.linspace(0, size - 1, 9)[1:-1] for x in (0, size - 1)])  # fmt: skip
        ctrl = np.concatenate([ref[:FACE_POINTS], *rings, border])
        # The grid: cell (i, j) sits at the centre of its STEP x STEP block of full-resolution pixels.
        gy, gx = np.mgrid[0:cells, 0:cells].astype(np.float32)
        self.grid = np.stack([gx * STEP + CENTRE, gy * STEP + CENTRE], axis=-1)
        # Barycentric interpolation over the outer ring's bounding box only (zero outside): each
        # cell's three control points and weights.
        lo = np.clip(np.floor((rings[1].min(axis=0) - CENTRE) / STEP), 0, cells - 1).astype(int)
        hi = np.clip(np.ceil((rings[1].max(axis=0) - CENTRE) / STEP), 0, cells - 1).astype(int) + 1
        self.box = (lo[0], lo[1], hi[0], hi[1])
        mouth_tris, eye_tris = _exact_triangles(ref, self.face_height)
        # The exact map's triangles (the lids only while they move) with their reference corners,
        # which never change: [still eyes, moving eyes].
        self.exact_sets = [_ExactTriangles.of(tris, ref) for tris in (mouth_tris, np.vstack([mouth_tris, eye_tris]))]
        corners, weights = _barycentric_cells(ctrl, self.grid[lo[1] : hi[1], lo[0] : hi[0]])
        self.active = np.nonzero((corners < FACE_POINTS).any(axis=1) & (np.abs(weights).sum(axis=1) > 0))[0]
        self.corners = np.minimum(corners[self.active], FACE_POINTS).astype(np.int32)  # anchors -> a still slot
        self.weights = weights[self.active]
        # Head region: the person, down to the top of the neck, softly.
        alpha = cv2.resize(_head_alpha(reference, ref, size), (cells, cells), interpolation=cv2.INTER_AREA)
        # Hair touching the picture's edge stretches there instead of being dragged off it (the edge
        # would be repeated into a streak): the head region fades out toward the border.
        edge = np.arange(cells, dtype=np.float32)
        edge = np.clip(np.minimum(edge, cells - 1 - edge) / (BORDER_FADE * cells), 0.0, 1.0)
        alpha *= np.minimum(edge[:, None], edge[None, :])
        ys, xs = np.nonzero(alpha > 1e-3)
        self.head_box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1)) if len(ys) else None
        self.alpha = alpha[self.head_box][..., None] if len(ys) else None
        self.follow(track)
        # The moving window (in cells, a cell of margin): everything else stays the photo.
        x0, y0, x1, y1 = self.box
        if self.head_box is not None:
            x0, x1 = min(x0, self.head_box[1].start), max(x1, self.head_box[1].stop)
            y0, y1 = min(y0, self.head_box[0].start), max(y1, self.head_box[0].stop)
        self.win = (max(x0 - 1, 0), max(y0 - 1, 0), min(x1 + 1, cells), min(y1 + 1, cells))
        wy, wx = np.mgrid[0 : self.win[3] - self.win[1], 0 : self.win[2] - self.win[0]].astype(np.float32)
        self.window_cells = np.stack([wx, wy], axis=-1)  # each window cell's own (column, row)

    def follow(self, track: MotionTrack) -> None:
        """Render ``track`` (of this same reference) from now on; the fields above stay. Live rendering
        follows a short track per chunk: building a warper costs about 80 ms at 512 px, a frame 4 ms."""
        self.track = track
        head = track.head.astype(np.float64)
        planar = head_transform(head, self.pivot)
        self.turns = None
        if np.any(head[:, [PITCH, YAW]]):
            turned = turn(self.reference[None, :FACE_POINTS], self.z[:FACE_POINTS], head, self.pivot)
            self.turns = np.zeros((len(head), 2, 3))  # (T, 2, 3): the turn's mean shift of the face
            self.turns[:, :, :2] = np.eye(2)
            self.turns[:, :, 2] = (turned - self.reference[None, :FACE_POINTS]).mean(axis=1)
            lin = planar[:, :, :2] @ self.turns[:, :, :2]
            planar = np.concatenate([lin, (planar[:, :, :2] @ self.turns[:, :, 2:]) + planar[:, :, 2:]], axis=2)
        self.heads = planar.astype(np.float32)  # the head region's affine: the turn's shift, then the roll
        # Frame t's (bounded expression, mesh displacement), asked for three times per frame, and where
        # its points are drawn (by the exact map and by the mouth painted over it).
        self._expression: tuple[int, np.ndarray, np.ndarray] = (-1, np.empty(0), np.empty(0))
        self._drawn: tuple[int, np.ndarray] = (-1, np.empty(0))

    def _moves(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Frame t's (expression bounded, the mesh's displacement) (478, 2) each, computed once."""
        if self._expression[0] != t:
            disp = self.track.expression[t].astype(np.float64)
            norm = np.linalg.norm(disp, axis=1, keepdims=True)
            bounded = disp * np.minimum(1.0, MAX_DISPLACEMENT * self.face_height / np.maximum(norm, 1e-9))
            mesh_disp = bounded
            if self.turns is not None:  # what the turn does beyond its shift
                turned = turn(self.reference[None] + bounded[None], self.z, self.track.head[t : t + 1].astype(np.float64),
                              self.pivot)[0]  # fmt: skip
                inv = invert_affine(self.turns[t : t + 1])[0]
                mesh_disp = turned @ inv[:, :2].T + inv[:, 2] - self.reference
            self._expression = (t, bounded, mesh_disp)
        return self._expression[1], self._expression[2]

    def expression(self, t: int) -> np.ndarray:
        """(478, 2) the track's expression displacements of frame t, bounded: whatever the track says,
        no point of the face travels farther than MAX_DISPLACEMENT face heights."""
        return self._moves(t)[0]

    def landmarks(self, t: int) -> np.ndarray:
        """(478, 2) where the face's points are drawn in frame t (the track's, its expression bounded)."""
        if self._drawn[0] != t:
            drawn = compose(self.reference, self.expression(t)[None], self.track.head[t : t + 1], self.z)[0]
            drawn.setflags(write=False)  # shared by every caller of frame t
            self._drawn = (t, drawn)
        return self._drawn[1]

    def forward_field(self, t: int) -> np.ndarray:
        """Displacement of the reference at the grid cells of the moving window in frame t."""
        # Only cells with a face point among their corners move (anchors all share one still slot).
        disp = np.zeros((FACE_POINTS + 1, 2), np.float32)
        disp[:FACE_POINTS] = self._moves(t)[1][:FACE_POINTS]
        moved = np.zeros(((self.box[3] - self.box[1]) * (self.box[2] - self.box[0]), 2), np.float32)
        moved[self.active, 0] = np.einsum("pk,pk->p", self.weights, np.take(disp[:, 0], self.corners))
        moved[self.active, 1] = np.einsum("pk,pk->p", self.weights, np.take(disp[:, 1], self.corners))
        wx0, wy0, wx1, wy1 = self.win
        x0, y0, x1, y1 = self.box
        field = np.zeros((wy1 - wy0, wx1 - wx0, 2), np.float32)
        field[y0 - wy0 : y1 - wy0, x0 - wx0 : x1 - wx0] = moved.reshape(y1 - y0, x1 - x0, 2)
        if self.head_box is not None:
            import cv2

            head = self.heads[t].copy()
            head[:, :2] -= np.eye(2, dtype=np.float32)  # displacement = (H - I) x
            ys, xs = self.head_box
            box = (slice(ys.start - wy0, ys.stop - wy0), slice(xs.start - wx0, xs.stop - wx0))
            moved = self.grid[self.head_box] + field[box]
            field[box] += self.alpha * cv2.transform(moved, head)
        return field

    def frame(self, t: int) -> np.ndarray:
        import cv2

        full, (x0, y0) = self.backward_map(t)
        out = self.image.copy()
        y1, x1 = y0 + full.shape[0], x0 + full.shape[1]
        cv2.remap(self.image, full, None, cv2.INTER_LINEAR, dst=out[y0:y1, x0:x1], borderMode=cv2.BORDER_REPLICATE)
        return out

    def backward_map(self, t: int) -> tuple[np.ndarray, tuple[int, int]]:
        """(map, (x0, y0)): for each pixel of the moving window (its top-left corner at x0, y0), the
        photo position it shows in frame t; outside the window, the photo stays."""
        import cv2

        wx0, wy0, wx1, wy1 = self.win
        fwd = self.forward_field(t)
        grid = self.grid[wy0:wy1, wx0:wx1]
        # Backward map by fixed point: x = y - F(x), from x = y - F(y); three steps converge where the
        # jaw makes the field steep (two left a seam along the chin). Outside the window F is 0. The
        # first steps run in window-cell units, where F is sampled (a cell's own index minus F / STEP).
        cells = self.window_cells
        scaled = fwd * np.float32(1.0 / STEP)
        idx = cells - scaled
        idx = cells - cv2.remap(scaled, idx, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        src = grid - cv2.remap(fwd, idx, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        x0, y0 = STEP * wx0, STEP * wy0
        x1, y1 = min(STEP * wx1, self.size), min(STEP * wy1, self.size)
        full = cv2.resize(src, (STEP * (wx1 - wx0), STEP * (wy1 - wy0)), interpolation=cv2.INTER_LINEAR)
        full = full[: y1 - y0, : x1 - x0]
        self._exact_mouth(full, t, (x0, y0))
        return full, (x0, y0)

    def _exact_mouth(self, full: np.ndarray, t: int, origin: tuple[int, int]) -> None:
        """Around the lips and the lids the field is steep (lips close over teeth, the jaw drops,
        eyes blink): there the smooth approximation is replaced by the exact piecewise-affine map
        of the mesh triangles."""
        import cv2

        tri_set = self.exact_sets[int(self.track.blink[t] >= 0.02)]
        d = self.landmarks(t)[tri_set.tris]  # (K, 3, 2)
        e1, e2 = d[:, 1] - d[:, 0], d[:, 2] - d[:, 0]
        det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
        ok = (np.abs(det) > 1e-6) & (det * tri_set.det > 0)  # turned inside out or squashed flat: the smooth field
        if not ok.any():
            return
        # A pixel the raster gives two triangles (on their shared edge, its centre in one of them) goes to
        # the one drawn later: triangles are drawn from the most shrunk against the photo to the least,
        # whose map reaches least far past its edge. The ladder across lips drawn (nearly) closed over an
        # opening squeezes the whole opening into a sliver: the pixels its raster takes from the lips
        # would read teeth and skin a few px past the lips, a dotted line between them.
        order = np.nonzero(ok)[0][np.argsort(det[ok] / tri_set.det[ok])]
        d, s, det = d[order], tri_set.corners[order], det[order]
        e1, e2 = e1[order], e2[order]
        ox, oy = origin
        x0, y0 = np.maximum(np.floor(d.reshape(-1, 2).min(axis=0)).astype(int), [ox, oy])
        x1, y1 = np.minimum(np.ceil(d.reshape(-1, 2).max(axis=0)).astype(int) + 1, [ox + full.shape[1], oy + full.shape[0]])
        if x1 <= x0 or y1 <= y0:
            return
        ids = np.full((y1 - y0, x1 - x0), -1, np.int32)
        for k, tri in enumerate(np.round((d - [x0, y0]) * 16).astype(np.int32)):
            cv2.fillConvexPoly(ids, tri, k, cv2.LINE_8, shift=4)
        # Per triangle, the affine map destination -> reference: the reference edges times the
        # inverse of the drawn edges (2x2, closed form), then the offset that maps corner 0 onto its
        # reference. ``maps[j]`` = (a, b, c) with reference coordinate j = a x + b y + c, x and y
        # counted from the box's corner (float32 is then precise enough).
        i00, i01, i10, i11 = e2[:, 1] / det, -e2[:, 0] / det, -e1[:, 1] / det, e1[:, 0] / det
        s1, s2 = s[:, 1] - s[:, 0], s[:, 2] - s[:, 0]
        maps = []
        for j in range(2):
            a, b = s1[:, j] * i00 + s2[:, j] * i10, s1[:, j] * i01 + s2[:, j] * i11
            c = s[:, 0, j] - (a * (d[:, 0, 0] - x0) + b * (d[:, 0, 1] - y0))
            maps.append((a.astype(np.float32), b.astype(np.float32), c.astype(np.float32)))
        # Feathered in over a few pixels from the region's edge: the grid's smooth map differs a
        # little from the exact one, and a hard switch shows as a line across the cheeks. Pixels no
        # triangle covers get weight 0 (their distance to the region is 0), so the whole box blends.
        covered = (ids >= 0).astype(np.uint8)
        ramp = np.clip(cv2.distanceTransform(np.pad(covered, 1), cv2.DIST_L2, 3)[1:-1, 1:-1] / FEATHER, 0.0, 1.0)
        k = np.maximum(ids, 0)
        xs, ys = np.arange(x1 - x0, dtype=np.float32)[None], np.arange(y1 - y0, dtype=np.float32)[:, None]
        exact = np.empty(ids.shape + (2,), np.float32)
        for j, (a, b, c) in enumerate(maps):  # each pixel with its triangle's map
            exact[..., j] = xs * a.take(k) + ys * b.take(k) + c.take(k)
        box = full[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
        exact -= box
        exact *= ramp[..., None]
        box += exact  # in place: the box * (1 - ramp) + exact * ramp of a frame's largest arrays, halved


@dataclass(frozen=True)
class _ExactTriangles:
    """Triangles of the exact map: (K, 3) point indices, their (K, 3, 2) reference corners and the
    signed doubled area of each there (a triangle drawn with the other sign is turned inside out)."""

    tris: np.ndarray
    corners: np.ndarray
    det: np.ndarray

    @classmethod
    def of(cls, tris: np.ndarray, ref: np.ndarray) -> "_ExactTriangles":
        s = ref[tris]
        s1, s2 = s[:, 1] - s[:, 0], s[:, 2] - s[:, 0]
        return cls(tris, s, s1[:, 0] * s2[:, 1] - s1[:, 1] * s2[:, 0])


def _barycentric_cells(points: np.ndarray, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each cell centre (H, W, 2, a regular grid STEP px apart), the 3 points of the Delaunay
    triangle holding it and its barycentric weights: (H*W, 3) indices and weights (zero weights
    where no triangle holds it). OpenCV's Delaunay (Subdiv2D), so the warp path needs no scipy
    (half a second of start-up); each triangle tests the cells of its bounding box, all at once."""
    import cv2

    first = np.floor(points.min(axis=0)).astype(int) - 2  # anchor rings may lie outside the frame
    last = np.ceil(points.max(axis=0)).astype(int) + 2
    subdiv = cv2.Subdiv2D((int(first[0]), int(first[1]), int(last[0] - first[0]), int(last[1] - first[1])))
    subdiv.insert([(float(x), float(y)) for x, y in points])
    tris = subdiv.getTriangleList().reshape(-1, 3, 2).astype(np.float64)
    tris = tris[((tris >= first) & (tris <= last)).all(axis=(1, 2))]  # drop the virtual outer vertices
    # Triangle corners back to point indices (the nearest point: Subdiv2D keeps float32 copies).
    index = ((tris.reshape(-1, 2)[:, None] - points[None]) ** 2).sum(axis=2).argmin(axis=1).reshape(-1, 3)
    h, w = cells.shape[:2]
    grid = (tris - cells[0, 0]) / STEP  # corners in cell units
    lo = np.clip(np.floor(grid.min(axis=1)).astype(np.int64), 0, [w, h])
    hi = np.clip(np.ceil(grid.max(axis=1)).astype(np.int64) + 1, 0, [w, h])
    span = np.maximum(hi - lo, 0)
    count = span[:, 0] * span[:, 1]
    k = np.repeat(np.arange(len(tris)), count)
    pos = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    cx, cy = lo[k, 0] + pos % span[k, 0], lo[k, 1] + pos // span[k, 0]
    a, b, c = (points[index[k, i]] for i in range(3))
    v0, v1, v2 = b - a, c - a, cells[cy, cx].astype(np.float64) - a
    det = v0[:, 0] * v1[:, 1] - v0[:, 1] * v1[:, 0]
    det = np.where(np.abs(det) < 1e-12, 1e-12, det)
    wb = (v2[:, 0] * v1[:, 1] - v2[:, 1] * v1[:, 0]) / det
    wc = (v0[:, 0] * v2[:, 1] - v0[:, 1] * v2[:, 0]) / det
    inside = (wb >= -1e-7) & (wc >= -1e-7) & (wb + wc <= 1 + 1e-7)
    cell = (cy * w + cx)[inside]
    corners = np.zeros((h * w, 3), np.int64)
    weights = np.zeros((h * w, 3), np.float32)
    corners[cell] = index[k[inside]]
    weights[cell] = np.stack([1 - wb - wc, wb, wc], axis=1)[inside]
    return corners, weights


def _exact_triangles(ref: np.ndarray, face_h: float) -> tuple[np.ndarray, np.ndarray]:
    """Where the field is too steep for the grid: the face mesh's own triangles around the mouth
    (lips, chin just below) plus a ladder of triangles across the mouth opening between paired
    upper and lower inner-lip points; and those around the eyes (for blinks). The mesh's topology,
    unlike a triangulation of the photo's points, never bridges the lips with slivers."""
    tris = mesh_triangles()
    centre = ref[tris].mean(axis=1)
    mouth = ref[[mesh.UPPER_LIP_OUTER, mesh.LOWER_LIP_OUTER]].mean(axis=0)
    near = (np.abs(centre - mouth) < [0.28 * face_h, 0.17 * face_h]).all(axis=1)
    eyes = np.zeros(len(tris), bool)
    for eye in (mesh.connections("LEFT_EYE"), mesh.connections("RIGHT_EYE")):
        points = ref[np.unique(eye)]
        lo, hi = points.min(axis=0) - 0.03 * face_h, points.max(axis=0) + 0.03 * face_h
        eyes |= ((centre > lo) & (centre < hi)).all(axis=1)
    up, lo_lip = UPPER_LIP_INNER_SET, LOWER_LIP_INNER_SET
    corner_r, corner_l = mesh.lips_inner_loop()[0], mesh.lips_inner_loop()[10]  # 78, 308
    ladder = [(corner_r, up[0], lo_lip[0]), (corner_l, up[-1], lo_lip[-1])]
    for i in range(len(up) - 1):
        ladder += [(up[i], up[i + 1], lo_lip[i + 1]), (up[i], lo_lip[i + 1], lo_lip[i])]
    return np.concatenate([tris[near], np.array(ladder, np.int32)]), tris[eyes & ~near]


def _head_alpha(reference: Reference, ref: np.ndarray, size: int) -> np.ndarray:
    import cv2

    h = mesh.face_height(ref)
    mask = (reference.person_mask() > 0.5).astype(np.float32)
    neck_y = ref[mesh.CHIN, 1] + 0.35 * h
    ys = np.arange(size, dtype=np.float32)[:, None]
    mask *= np.clip((neck_y - ys) / (0.25 * h), 0.0, 1.0)
    sigma = max(1.0, 0.06 * h)
    face = np.zeros((size, size), np.uint8)
    cv2.fillPoly(face, [np.round(ref[mesh.face_oval_loop()]).astype(np.int32)], 1)
    face = cv2.dilate(face, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * int(2.5 * sigma) + 1,) * 2))
    mask = np.maximum(mask, face.astype(np.float32))
    return cv2.GaussianBlur(mask, (0, 0), sigma).astype(np.float32)
