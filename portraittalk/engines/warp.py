"""The warp engine: animates the reference photo itself along the MotionTrack, on the CPU.

How a frame is made:
1. The track's landmarks are split into head pose (a similarity, from the track's ``head``
   parameters) and expression (what is left, in reference coordinates).
2. Expression displacements are spread over the face by a piecewise-linear (barycentric) map on a
   Delaunay mesh of the 468 face points plus a ring of still anchors around the face, precomputed
   as a sparse matrix per reference; head pose moves the head region (a soft mask from the person
   segmentation), so hair moves with the head and the background stays put, with no seam.
3. One backward remap of the reference (fixed-point inverse of the forward field) renders it.
4. Inside the inner lips, a mouth interior is composited: a dark cavity, and teeth riding on the
   upper and lower lips; teeth come from a reference that shows them, else they are drawn.

Controls (see ``portraittalk.config.Controls``): w1 scales the expression motion (applied when the
track is made), w2 damps head motion toward the reference placement, w3 sets temporal smoothing.
Several references: the first gives the frame (background, hair, upper face). Each other reference
is aligned onto it (similarity on the upper face, colours matched) and driven by the same motion;
per frame, the lower face comes from the reference whose own mouth is closest to the wanted opening
(least stretching), cross-faded at switches. The one with the widest-open mouth lends its teeth.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterator, Optional, Sequence

import numpy as np

from ..face import mesh
from ..face.reference import Reference
from ..motion.geometry import head_pivot, head_transform
from ..motion.track import MotionTrack
from .base import Engine, ProgressFn, RenderRequest, no_progress

FACE_POINTS = 468  # irises are not control points: they would fold the lids during blinks
OPEN_MOUTH_APERTURE = 0.035  # a reference at least this open shows its teeth
ALIGN_POINTS = [33, 133, 263, 362, 168, 6, 10, 234, 454, 1]  # eyes, nose bridge, forehead, temples
MAX_POSE_RESIDUAL = 0.06  # of face height: beyond it another reference is too differently posed


@dataclass
class _Teeth:
    """A strip of upper teeth cut from a reference, pasted rigidly under the upper lip."""

    image: np.ndarray  # (h, w, 3) float32
    width: float  # mouth width it was cut at (px), for scaling


class WarpEngine(Engine):
    name = "warp"

    def render(self, references: Sequence[Reference], track: MotionTrack, request: RenderRequest,
               progress: ProgressFn = no_progress) -> Iterator[np.ndarray]:  # fmt: skip
        primary = references[0]
        if primary.size != track.frame_size[0]:
            raise ValueError("the track was made for another output size")
        sources = [_Source.of(primary, track)]
        sources += [s for s in (_Source.aligned(primary, r, track) for r in references[1:]) if s is not None]
        weights = _source_weights(mesh.mouth_aperture(track.landmarks), [s.aperture for s in sources])
        teeth = _teeth_from(references)
        face_h = sources[0].warper.face_height
        total = len(track)
        for t in range(total):
            frame = sources[0].warper.frame(t)
            lm = track.landmarks[t]
            for k in np.nonzero(weights[t, 1:] > 0.01)[0] + 1:
                mask = _lower_face_mask(lm, primary.size, face_h)[..., None] * weights[t, k]
                frame = (frame * (1 - mask) + sources[k].warper.frame(t) * mask).round().astype(np.uint8)
            main = sources[int(np.argmax(weights[t]))]
            frame = _paint_mouth(frame, lm, face_h, teeth, main.ref_gap)
            progress("rendering", t + 1, total)
            yield frame


@dataclass
class _Source:
    """A reference rendered along the track in the primary's frame, with its mouth facts."""

    warper: "FaceWarper"
    aperture: float  # its own mouth opening (inner-lip gap / face height)
    ref_gap: float  # the same gap in pixels

    @classmethod
    def of(cls, reference: Reference, track: MotionTrack) -> "_Source":
        gap = float(np.linalg.norm(track.reference[mesh.UPPER_LIP_INNER] - track.reference[mesh.LOWER_LIP_INNER]))
        return cls(FaceWarper(reference, track), float(mesh.mouth_aperture(track.reference)), gap)

    @classmethod
    def aligned(cls, primary: Reference, other: Reference, track: MotionTrack) -> Optional["_Source"]:
        """``other`` moved onto the primary's face (similarity on the upper face, colours matched),
        driven by the track's expression; None when its pose is too different to blend."""
        import cv2

        m, _ = cv2.estimateAffinePartial2D(other.landmarks[ALIGN_POINTS], primary.landmarks[ALIGN_POINTS])
        if m is None:
            return None
        pts = other.landmarks @ m[:, :2].T + m[:, 2]
        h = float(mesh.face_height(primary.landmarks))
        residual = np.sqrt(((pts[ALIGN_POINTS] - primary.landmarks[ALIGN_POINTS]) ** 2).sum(axis=1).mean()) / h
        if residual > MAX_POSE_RESIDUAL:
            return None
        size = primary.size
        image = cv2.warpAffine(other.image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        image = _match_colours(image, primary.image, primary.landmarks)
        ref = replace(primary, image=image, landmarks=pts.astype(np.float32),
                      _cache={"mask": primary.person_mask()})  # fmt: skip
        # Same expression and head motion, on this reference's own rest shape.
        heads = head_transform(track.head.astype(np.float64), head_pivot(track.reference.astype(np.float64)))
        inv = _invert(heads)
        expr = np.einsum("tij,tnj->tni", inv[:, :, :2], track.landmarks) + inv[:, None, :, 2] - track.reference
        own = head_transform(track.head.astype(np.float64), head_pivot(pts))
        local = pts[None] + expr
        lms = np.einsum("tij,tnj->tni", own[:, :, :2], local) + own[:, None, :, 2]
        return cls.of(ref, replace(track, landmarks=lms.astype(np.float32), reference=pts.astype(np.float32)))


def _source_weights(target: np.ndarray, apertures: list[float], hysteresis: float = 0.01) -> np.ndarray:
    """(T, K) blend weights: per frame the source whose mouth is closest to the target's, held
    until another is clearly closer, cross-faded over three frames at switches."""
    ap = np.asarray(apertures)
    choice = np.zeros(len(target), int)
    current = 0
    for t, a in enumerate(target):
        best = int(np.argmin(np.abs(ap - a)))
        if abs(ap[best] - a) + hysteresis < abs(ap[current] - a):
            current = best
        choice[t] = current
    onehot = np.eye(len(ap))[choice]
    kernel = np.array([0.25, 0.5, 0.25])
    smooth = np.stack([np.convolve(np.pad(c, 1, mode="edge"), kernel, mode="valid") for c in onehot.T], axis=1)
    return smooth / smooth.sum(axis=1, keepdims=True)


def _lower_face_mask(lm: np.ndarray, size: int, face_h: float) -> np.ndarray:
    """Soft mask of the face below the nose (where another reference's mouth is blended in)."""
    import cv2

    mask = np.zeros((size, size), np.float32)
    cv2.fillPoly(mask, [np.round(lm[mesh.face_oval_loop()]).astype(np.int32)], 1.0)
    ys = np.arange(size, dtype=np.float32)[:, None]
    top, mid = lm[mesh.NOSE_TIP, 1], lm[mesh.UPPER_LIP_OUTER, 1]
    mask *= np.clip((ys - top) / max(mid - top, 1.0), 0.0, 1.0)
    return cv2.GaussianBlur(mask, (0, 0), max(1.0, 0.03 * face_h))


def _match_colours(image: np.ndarray, target: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Per-channel mean/std of ``image`` matched to ``target`` inside the face (lighting differs
    between photos)."""
    import cv2

    mask = np.zeros(target.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(landmarks[mesh.face_oval_loop()]).astype(np.int32)], 1)
    sel = mask > 0
    src, dst = image[sel].astype(np.float32), target[sel].astype(np.float32)
    scale = dst.std(axis=0) / np.maximum(src.std(axis=0), 1.0)
    out = (image.astype(np.float32) - src.mean(axis=0)) * scale + dst.mean(axis=0)
    return np.clip(out, 0, 255).round().astype(np.uint8)


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
        self.mouth_tris = _mouth_triangles(tri.simplices, ref, self.face_height)
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
        self.inv_heads = _invert(heads)

    def forward_field(self, t: int) -> np.ndarray:
        """(S/2, S/2, 2) displacement of the reference at the half-resolution grid in frame t."""
        inv = self.inv_heads[t]
        lm = self.track.landmarks[t, :FACE_POINTS].astype(np.float64)
        disp = np.zeros((self.n_ctrl, 2), np.float32)
        disp[:FACE_POINTS] = lm @ inv[:, :2].T + inv[:, 2] - self.track.reference[:FACE_POINTS]
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
        # Backward map by fixed point: x = y - F(x), two steps from x = y - F(y).
        src = self.grid - fwd
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
        tris = self.mouth_tris
        d = dst[tris]  # (K, 3, 2)
        x0, y0 = np.maximum(np.floor(d.reshape(-1, 2).min(axis=0)).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(d.reshape(-1, 2).max(axis=0)).astype(int) + 1, self.size)
        if x1 <= x0 or y1 <= y0:
            return
        ids = np.full((y1 - y0, x1 - x0), -1, np.int32)
        for k, tri in enumerate(np.round((d - [x0, y0]) * 16).astype(np.int32)):
            cv2.fillConvexPoly(ids, tri, k, cv2.LINE_8, shift=4)
        # Per triangle, the affine map destination -> reference (2x2 inverse in closed form).
        s = src[tris]
        e1, e2 = d[:, 1] - d[:, 0], d[:, 2] - d[:, 0]
        det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
        ok = np.abs(det) > 1e-6
        det = np.where(ok, det, 1.0)
        inv = np.stack([np.stack([e2[:, 1], -e2[:, 0]], 1), np.stack([-e1[:, 1], e1[:, 0]], 1)], 1) / det[:, None, None]
        lin = np.einsum("kij,kjl->kil", np.stack([s[:, 1] - s[:, 0], s[:, 2] - s[:, 0]], 2), inv)
        maps = np.zeros((len(tris), 3, 2))
        maps[:, :2] = lin.transpose(0, 2, 1)
        maps[:, 2] = s[:, 0] - np.einsum("kij,kj->ki", lin, d[:, 0])
        ys, xs = np.nonzero(ids >= 0)
        k = ids[ys, xs]
        keep = ok[k]
        ys, xs, k = ys[keep], xs[keep], k[keep]
        px = np.stack([xs + x0, ys + y0, np.ones_like(xs)], axis=1).astype(np.float64)
        full[ys + y0, xs + x0] = np.einsum("ni,nij->nj", px, maps[k]).astype(np.float32)


def _mouth_triangles(simplices: np.ndarray, ref: np.ndarray, face_h: float) -> np.ndarray:
    """Face-mesh triangles around the mouth (lips, the gap between them, chin just below)."""
    tris = simplices[(simplices < FACE_POINTS).all(axis=1)]
    mouth = ref[[mesh.UPPER_LIP_OUTER, mesh.LOWER_LIP_OUTER]].mean(axis=0)
    centre = ref[tris].mean(axis=1)
    near = np.abs(centre - mouth) < [0.28 * face_h, 0.17 * face_h]
    return tris[near.all(axis=1)]


def _invert(m: np.ndarray) -> np.ndarray:
    """Inverse of (T, 2, 3) affine matrices."""
    a = np.linalg.inv(m[:, :, :2])
    return np.concatenate([a, -np.einsum("tij,tj->ti", a, m[:, :, 2])[:, :, None]], axis=2)


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


def _teeth_from(references: Sequence[Reference]) -> Optional[_Teeth]:
    """Upper teeth cut from the reference with the widest-open mouth, if any shows them."""
    best = max(references, key=lambda r: r.mouth_aperture)
    if best.mouth_aperture < OPEN_MOUTH_APERTURE:
        return None
    lm = best.landmarks
    inner = lm[mesh.lips_inner_loop()]
    x0, x1 = inner[:, 0].min(), inner[:, 0].max()
    top = lm[mesh.UPPER_LIP_INNER, 1]
    bottom = lm[mesh.LOWER_LIP_INNER, 1]
    y0, y1 = int(round(top + 0.12 * (bottom - top))), int(round(top + 0.8 * (bottom - top)))  # below the lip edge
    patch = best.image[y0:max(y1, y0 + 2), int(x0):int(np.ceil(x1))].astype(np.float32)
    if patch.size == 0 or patch.mean() < 90:  # dark: a cavity, not teeth
        return None
    return _Teeth(patch, float(x1 - x0))


def _paint_mouth(frame: np.ndarray, lm: np.ndarray, face_h: float, teeth: Optional[_Teeth], ref_gap: float
                 ) -> np.ndarray:  # fmt: skip
    """Composite a mouth interior inside the inner-lip polygon of ``lm``.

    Up to the photo's own opening (``ref_gap``) the photo's real mouth, warped, is kept; the drawn
    interior fades in only as the mouth opens wider than that, where warping would stretch teeth.
    """
    import cv2

    inner = lm[mesh.lips_inner_loop()]
    gap = float(np.linalg.norm(lm[mesh.UPPER_LIP_INNER] - lm[mesh.LOWER_LIP_INNER]))
    if gap < 0.012 * face_h:
        return frame
    x0, y0 = np.floor(inner.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(inner.max(axis=0)).astype(int) + 3
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, frame.shape[1]), min(y1, frame.shape[0])
    if x1 - x0 < 3 or y1 - y0 < 3:
        return frame
    w, h = x1 - x0, y1 - y0
    mask = np.zeros((h * 4, w * 4), np.uint8)
    cv2.fillPoly(mask, [np.round((inner - [x0, y0]) * 4).astype(np.int32)], 255, cv2.LINE_AA)
    mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    wider = float(np.clip((gap - 1.1 * ref_gap) / (0.25 * ref_gap + 0.01 * face_h), 0.0, 1.0))
    if wider == 0.0:
        return frame
    mask = cv2.GaussianBlur(mask, (3, 3), 0.7)[..., None] * wider
    # Dark cavity, a little lighter toward the lips.
    yy = (np.arange(h, dtype=np.float32)[:, None, None] / max(h - 1, 1))
    cavity = np.array([78, 34, 38], np.float32) * (0.55 + 0.9 * np.abs(yy - 0.5))
    layer = np.broadcast_to(cavity, (h, w, 3)).copy()
    top_y = lm[mesh.UPPER_LIP_INNER, 1] - y0
    bottom_y = lm[mesh.LOWER_LIP_INNER, 1] - y0
    mouth_w = float(inner[:, 0].max() - inner[:, 0].min())
    _draw_teeth(layer, top_y, mouth_w, x0, lm, teeth, face_h, upper=True)
    _draw_teeth(layer, bottom_y, mouth_w, x0, lm, None, face_h, upper=False)
    region = frame[y0:y1, x0:x1].astype(np.float32)
    frame = frame.copy()
    frame[y0:y1, x0:x1] = (region * (1 - mask) + layer * mask).round().astype(np.uint8)
    return frame


def _draw_teeth(layer: np.ndarray, lip_y: float, mouth_w: float, x0: int, lm: np.ndarray,
                teeth: Optional[_Teeth], face_h: float, upper: bool) -> None:  # fmt: skip
    """Teeth attached to a lip: rigid (never stretched vertically), narrower than the mouth."""
    import cv2

    h, w = layer.shape[:2]
    tooth_h = (0.05 if upper else 0.016) * face_h
    cx = float(lm[[mesh.MOUTH_CORNER_LEFT, mesh.MOUTH_CORNER_RIGHT], 0].mean()) - x0
    tw = 0.78 * mouth_w
    if teeth is not None:
        scale = tw / max(teeth.width, 1.0)
        th = max(2, int(round(teeth.image.shape[0] * scale)))
        strip = cv2.resize(teeth.image, (max(2, int(round(tw))), th), interpolation=cv2.INTER_LINEAR)
    else:
        th = max(2, int(round(tooth_h)))
        strip = np.empty((th, max(2, int(round(tw))), 3), np.float32)
        strip[:] = (222, 218, 206) if upper else (132, 112, 106)
        n_teeth = 6
        for k in range(1, n_teeth):  # faint gaps between teeth
            gx = int(round(k * strip.shape[1] / n_teeth))
            strip[:, max(gx - 1, 0):gx] *= 0.9
        fade = np.linspace(1.0, 0.78, th, dtype=np.float32)[:, None, None]
        strip *= fade if upper else fade[::-1]
    sh, sw = strip.shape[:2]
    # Fade the strip's sides into the cavity (teeth recede toward the corners).
    side = np.clip(1.0 - np.abs(np.linspace(-1, 1, sw, dtype=np.float32)) ** 4, 0, 1)[None, :, None]
    tuck = 0.25 * sh  # teeth start under the lip, not at its edge
    top = int(round(lip_y - tuck)) if upper else int(round(lip_y + tuck)) - sh
    left = int(round(cx - sw / 2))
    ya, yb = max(top, 0), min(top + sh, h)
    xa, xb = max(left, 0), min(left + sw, w)
    if ya >= yb or xa >= xb:
        return
    s = strip[ya - top : yb - top, xa - left : xb - left]
    a = side[:, xa - left : xb - left]
    layer[ya:yb, xa:xb] = layer[ya:yb, xa:xb] * (1 - a) + s * a
