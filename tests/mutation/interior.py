"""Plausible bugs in the mouth interior from real mouths and the lip boundary."""
from __future__ import annotations

from mutation.mutate import Mutant

T = "tests/test_mouth_interior.py"
MOUTH = "portraittalk/engines/warp/mouth.py"
LIPLINE = "portraittalk/engines/warp/lipline.py"
LIT = f"{T}::test_the_teeth_are_lit_like_the_photo"
GREY = f"{T}::test_a_black_and_white_photo_gets_a_grey_interior"
OPENING = f"{T}::test_the_interior_follows_the_opening"
SOFT = f"{T}::test_a_blurred_face_gets_an_interior_and_an_edge_as_soft_as_the_face"
REAL = f"{T}::test_a_real_portrait_speaking_real_speech_has_clean_lips"
HALF = f"{T}::test_a_half_open_mouth_shows_teeth_then_the_dark_cavity"
SEAM = f"{T}::test_a_seam_between_closed_lips_is_covered_and_the_photos_own_lips_are_left_alone"

MUTANTS = [
    Mutant("interior: white balance ignored (the eye whites' colour cast not taken)", MOUTH,
           "            cast = np.clip(white / max(white_luma, 1.0), 0.8, 1.25)  # the eye whites' colour is the light's\n",
           "", (LIT,)),
    Mutant("interior: a black-and-white photo keeps ivory teeth (greyscale skipped)", MOUTH,
           "            crease, teeth = (np.full(3, _luma(c)) for c in (crease, teeth))\n", "", (GREY,)),
    Mutant("interior: the exemplar index ignores the opening", "portraittalk/engines/warp/exemplars.py",
           "        i, j, w = self.weights(aperture)\n", "        i, j, w = 0, 0, 0.0\n", (OPENING, HALF)),
    Mutant("interior: the opening measured in pixels (always the widest interior)", MOUTH,
           "    canonical = style.interiors.interior(inner_gap(lm) / face_h)\n",
           "    canonical = style.interiors.interior(inner_gap(lm))\n", (HALF, LIT, REAL)),
    Mutant("interior: not blurred to the photo's softness", MOUTH,
           "        blur = float(np.sqrt(max(softness(gray, face & ~lips) ** 2 - INTERIOR_SOFTNESS**2, 0.0)))\n",
           "        blur = 0.0\n", (SOFT,)),
    Mutant("interior: the seam blend removed (the interior's edge cut hard into the lips)", MOUTH,
           "    mask = cv2.GaussianBlur(mask, (0, 0), style.edge)  # as soft as the photo's own edges\n", "", (SOFT,)),
    Mutant("interior: a seam between a closed photo's closed lips not covered (only a photo's teeth are)", MOUTH,
           "        return crease(frame, lm, style.crease, style.edge, only_brighter=ref_gap <= 0.012 * face_h)\n",
           "        return crease(frame, lm, style.crease, style.edge) if ref_gap > 0.012 * face_h else frame\n",
           (SEAM, REAL)),
    Mutant("interior: no crease at all where the lips close (seams and the photo's teeth show)", MOUTH,
           "        return crease(frame, lm, style.crease, style.edge, only_brighter=ref_gap <= 0.012 * face_h)\n",
           "        return frame\n", (SEAM, REAL)),
    Mutant("interior: the seam cover darkens the photo's own lips too", LIPLINE,
           "    if only_brighter:  # all of a seam's brightness goes\n", "    if False:\n", (SEAM,)),
]
