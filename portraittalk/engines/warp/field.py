"""The warp field of one reference: a smooth expression field on a Delaunay mesh, head motion over
the head region, an exact piecewise-affine map around the lips, and one backward remap per frame."""
from __future__ import annotations

import numpy as np

from ...face import mesh
from ...face.reference import Reference
from ...motion.geometry import (LOWER_LIP_INNER_SET, UPPER_LIP_INNER_SET, head_pivot, head_transform, invert_affine,
                                mesh_triangles)
from ...motion.track import MotionTrack

FACE_POINTS = 468  # irises are not control points: they would fold the lids during blinks
MAX_DISPLACEMENT = 0.2  # of the face height: no expression moves a point farther (the jaw at full opening: ~0.1)


class FaceWarper:
    """Precomputed fields of one reference; ``frame(t)`` renders frame t of a track.

    The displacement field is smooth, so it is computed on a half-resolution grid and only the
    final sampling map is upscaled: a quarter of the arithmetic for the same picture.
    """

    def __init__(self, reference: Reference, track: MotionTrack) -> None:
        from scipy.sparse import csr_matrix
        from scipy.spatial import Delaunay

        self.track = track
        self.image = reference.image
        self.size = size = reference.size
        half = (size + 1) // 2
        ref = track.reference.astype(np.float64)
        self.face_height = float(mesh.face_height(ref))
        # Control points: the face + two rings of still anchors around it + the crop border.
        centre = ref[:FACE_POINTS].mean(axis=0)
        oval = ref[mesh.face_oval_loop()]
        rings = [centre + (oval - centre) * k for k in (1.25, 1.6)]
        border = np.array([[x, y] for x in np.linspace(0, size - 1, 9) for y in (0, size - 1)]
                          + [[x, y] for y in np.linspace(0, size - 1, 9)[1:-1] for x in (0, size - 1)])  # fmt: skip
        ctrl = np.concatenate([ref[:FACE_POINTS], *rings, border])
        self.n_ctrl = len(ctrl)
        # Half-resolution grid: cell (i, j) sits at full-resolution pixel (2j + 0.5, 2i + 0.5).
        gy, gx = np.mgrid[0:half, 0:half].astype(np.float32)
        self.grid = np.stack([gx * 2 + 0.5, gy * 2 + 0.5], axis=-1)
        # Sparse barycentric interpolation over the outer ring's bounding box only (zero outside).
        lo = np.clip(np.floor((rings[1].min(axis=0) - 0.5) / 2), 0, half - 1).astype(int)
        hi = np.clip(np.ceil((rings[1].max(axis=0) - 0.5) / 2), 0, half - 1).astype(int) + 1
        self.box = (lo[0], lo[1], hi[0], hi[1])
        pix = self.grid[lo[1] : hi[1], lo[0] : hi[0]].reshape(-1, 2).astype(np.float64)
        tri = Delaunay(ctrl)
        self.mouth_tris = _mouth_triangles(ref, self.face_height)
        simplex = tri.find_simplex(pix)
        inside = simplex >= 0
        trans = tri.transform[simplex[inside]]
        b = np.einsum("nij,nj->ni", trans[:, :2], pix[inside] - trans[:, 2])
        bary = np.concatenate([b, 1 - b.sum(axis=1, keepdims=True)], axis=1)
        rows = np.repeat(np.nonzero(inside)[0], 3)
        cols = tri.simplices[simplex[inside]].ravel()
        self.interp = csr_matrix((bary.ravel().astype(np.float32), (rows, cols)), shape=(len(pix), self.n_ctrl))
        # Head region: the person, down to the top of the neck, softly.
        import cv2

        alpha = cv2.resize(_head_alpha(reference, ref, size), (half, half), interpolation=cv2.INTER_AREA)
        ys, xs = np.nonzero(alpha > 1e-3)
        self.head_box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1)) if len(ys) else None
        self.alpha = alpha[self.head_box][..., None] if len(ys) else None
        heads = head_transform(track.head.astype(np.float64), head_pivot(ref))
        self.heads = heads.astype(np.float32)
        self.inv_heads = invert_affine(heads)

    def forward_field(self, t: int) -> np.ndarray:
        """(S/2, S/2, 2) displacement of the reference at the half-resolution grid in frame t."""
        inv = self.inv_heads[t]
        lm = self.track.landmarks[t, :FACE_POINTS].astype(np.float64)
        disp = np.zeros((self.n_ctrl, 2), np.float32)
        disp[:FACE_POINTS] = lm @ inv[:, :2].T + inv[:, 2] - self.track.reference[:FACE_POINTS]
        # A bounded field: whatever the track says, no point of the face travels farther than this.
        norm = np.linalg.norm(disp, axis=1, keepdims=True)
        limit = MAX_DISPLACEMENT * self.face_height
        disp *= np.minimum(1.0, limit / np.maximum(norm, 1e-6))
        x0, y0, x1, y1 = self.box
        field = np.zeros_like(self.grid)
        field[y0:y1, x0:x1] = (self.interp @ disp).reshape(y1 - y0, x1 - x0, 2)
        if self.head_box is not None:
            import cv2

            head = self.heads[t].copy()
            head[:, :2] -= np.eye(2, dtype=np.float32)  # displacement = (H - I) x
            moved = self.grid[self.head_box] + field[self.head_box]
            field[self.head_box] += self.alpha * cv2.transform(moved, head)
        return field

    def frame(self, t: int) -> np.ndarray:
        import cv2

        fwd = self.forward_field(t)
        # Backward map by fixed point: x = y - F(x), from x = y - F(y); three steps converge where the
        # jaw makes the field steep (two left a seam along the chin).
        src = self.grid - fwd
        for _ in range(2):
            idx = (src - 0.5) / 2.0  # full-resolution positions -> half-grid indices
            src = self.grid - cv2.remap(fwd, idx[..., 0], idx[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        full = cv2.resize(src, (self.size, self.size), interpolation=cv2.INTER_LINEAR)
        self._exact_mouth(full, t)
        return cv2.remap(self.image, full[..., 0], full[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def _exact_mouth(self, full: np.ndarray, t: int) -> None:
        """Around the lips the field is steep (lips close over teeth, the jaw drops): there the
        smooth approximation is replaced by the exact piecewise-affine map of the mesh triangles."""
        import cv2

        dst = self.track.landmarks[t].astype(np.float64)
        src = self.track.reference.astype(np.float64)
        head = self.heads[t].astype(np.float64)
        moved = np.linalg.norm(dst - (src @ head[:, :2].T + head[:, 2]), axis=1)  # expression only
        d, s = dst[self.mouth_tris], src[self.mouth_tris]  # (K, 3, 2)
        e1, e2 = d[:, 1] - d[:, 0], d[:, 2] - d[:, 0]
        det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
        s1, s2 = s[:, 1] - s[:, 0], s[:, 2] - s[:, 0]
        ref_det = s1[:, 0] * s2[:, 1] - s1[:, 1] * s2[:, 0]
        # Triangles turned inside out, squashed flat or moved beyond the bound keep the smooth field.
        ok = ((np.abs(det) > 1e-6) & (det * ref_det > 0)
              & (moved[self.mouth_tris] <= MAX_DISPLACEMENT * self.face_height).all(axis=1))  # fmt: skip
        if not ok.any():
            return
        d, s, det = d[ok], s[ok], det[ok]
        e1, e2 = e1[ok], e2[ok]
        x0, y0 = np.maximum(np.floor(d.reshape(-1, 2).min(axis=0)).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(d.reshape(-1, 2).max(axis=0)).astype(int) + 1, self.size)
        if x1 <= x0 or y1 <= y0:
            return
        ids = np.full((y1 - y0, x1 - x0), -1, np.int32)
        for k, tri in enumerate(np.round((d - [x0, y0]) * 16).astype(np.int32)):
            cv2.fillConvexPoly(ids, tri, k, cv2.LINE_8, shift=4)
        # Per triangle, the affine map destination -> reference (2x2 inverse in closed form).
        inv = np.stack([np.stack([e2[:, 1], -e2[:, 0]], 1), np.stack([-e1[:, 1], e1[:, 0]], 1)], 1) / det[:, None, None]
        lin = np.einsum("kij,kjl->kil", np.stack([s[:, 1] - s[:, 0], s[:, 2] - s[:, 0]], 2), inv)
        maps = np.zeros((len(d), 3, 2))
        maps[:, :2] = lin.transpose(0, 2, 1)
        maps[:, 2] = s[:, 0] - np.einsum("kij,kj->ki", lin, d[:, 0])
        ys, xs = np.nonzero(ids >= 0)
        k = ids[ys, xs]
        px = np.stack([xs + x0, ys + y0, np.ones_like(xs)], axis=1).astype(np.float64)
        full[ys + y0, xs + x0] = np.einsum("ni,nij->nj", px, maps[k]).astype(np.float32)


def _mouth_triangles(ref: np.ndarray, face_h: float) -> np.ndarray:
    """The face mesh's own triangles around the mouth (lips, chin), plus a ladder of
    triangles across the mouth opening between paired upper and lower inner-lip points. The mesh's
    topology, unlike a triangulation of the photo's points, never bridges the lips with slivers."""
    tris = mesh_triangles()
    mouth = ref[[mesh.UPPER_LIP_OUTER, mesh.LOWER_LIP_OUTER]].mean(axis=0)
    centre = ref[tris].mean(axis=1)
    off = centre - mouth  # the chin too: the jaw moves it, and there the field is steep
    near = (np.abs(off[:, 0]) < 0.28 * face_h) & (off[:, 1] > -0.17 * face_h) & (off[:, 1] < 0.32 * face_h)
    up, lo = UPPER_LIP_INNER_SET, LOWER_LIP_INNER_SET
    corner_r, corner_l = mesh.lips_inner_loop()[0], mesh.lips_inner_loop()[10]  # 78, 308
    ladder = [(corner_r, up[0], lo[0]), (corner_l, up[-1], lo[-1])]
    for i in range(len(up) - 1):
        ladder += [(up[i], up[i + 1], lo[i + 1]), (up[i], lo[i + 1], lo[i])]
    return np.concatenate([tris[near], np.array(ladder, np.int32)])


def _head_alpha(reference: Reference, ref: np.ndarray, size: int) -> np.ndarray:
    import cv2

    h = mesh.face_height(ref)
    mask = (reference.person_mask() > 0.5).astype(np.float32)
    neck_y = ref[mesh.CHIN, 1] + 0.35 * h
    ys = np.arange(size, dtype=np.float32)[:, None]
    mask *= np.clip((neck_y - ys) / (0.25 * h), 0.0, 1.0)
    face = np.zeros((size, size), np.uint8)
    cv2.fillPoly(face, [np.round(ref[mesh.face_oval_loop()]).astype(np.int32)], 1)
    mask = np.maximum(mask, face.astype(np.float32))
    sigma = max(1.0, 0.06 * h)
    return cv2.GaussianBlur(mask, (0, 0), sigma).astype(np.float32)
