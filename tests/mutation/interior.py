"""Plausible bugs in the mouth interior from real mouths and the lip boundary."""
from __future__ import annotations

from mutation.mutate import Mutant

T = "tests/test_mouth_interior.py"
MOUTH = "portraittalk/engines/warp/mouth.py"
LIPLINE = "portraittalk/engines/warp/lipline.py"
EXEMPLARS = "portraittalk/engines/warp/exemplars.py"
LIT = f"{T}::test_the_teeth_are_lit_like_the_photo"
GREY = f"{T}::test_a_black_and_white_photo_gets_a_grey_interior"
OPENING = f"{T}::test_the_interior_follows_the_opening"
SOFT = f"{T}::test_a_blurred_face_gets_an_interior_and_an_edge_as_soft_as_the_face"
REAL = f"{T}::test_a_real_portrait_speaking_real_speech_has_clean_lips"
HALF = f"{T}::test_a_half_open_mouth_shows_teeth_then_the_dark_cavity"
SEAM = f"{T}::test_a_seam_between_closed_lips_is_covered_and_the_photos_own_lips_are_left_alone"
LOOK = "tests/test_mouth_look.py"
WARM = f"{LOOK}::test_teeth_on_a_warm_photo_are_a_warm_white_not_olive"
GREEN = f"{LOOK}::test_painted_eye_whites_do_not_colour_the_teeth"
SEPIA = f"{LOOK}::test_a_sepia_photo_gets_an_interior_in_its_own_tone"
FLAT = f"{LOOK}::test_a_flat_cartoon_gets_a_flat_interior_without_grain_and_a_photo_keeps_texture"
RELATION = f"{LOOK}::test_the_teeth_colour_is_the_relation_measured_on_real_speakers"
BETWEEN = f"{LOOK}::test_a_flat_interior_keeps_its_flat_tones_between_two_openings"
GREENISH = f"{LOOK}::test_a_green_tinted_picture_does_not_get_green_teeth"

MUTANTS = [
    Mutant("interior: white balance ignored (the eye whites' colour cast not taken)", MOUTH,
           "        chroma = 1.0 / 3.0 + TEETH_JOINT[0] * skin_offset + TEETH_JOINT[1] * (_chromaticity(white) - 1.0 / 3.0)\n",
           "", (LIT, RELATION)),
    Mutant("interior: as colourful as real mouths whatever the photo's colourfulness (a black-and-white photo's too)",
           MOUTH, "        saturation = float(np.clip(np.percentile(chroma[face], 90) / COLOUR_FACE_CHROMA, 0.0, 1.0)) if face.any() else 1.0\n",
           "        saturation = 1.0\n", (GREY,)),
    Mutant("interior: the exemplar index ignores the opening", "portraittalk/engines/warp/exemplars.py",
           "        i, j, w = self.weights(aperture)\n        if w == 0.0:\n",
           "        i, j, w = 0, 0, 0.0\n        if w == 0.0:\n", (OPENING, HALF)),
    Mutant("interior: the opening measured in pixels (always the widest interior)", MOUTH,
           "    aperture = inner_gap(lm) / face_h\n", "    aperture = inner_gap(lm)\n", (HALF, LIT, REAL)),
    Mutant("interior: not blurred to the photo's softness", MOUTH,
           "        blur = float(np.sqrt(max(softness(gray, face & ~lips) ** 2 - INTERIOR_SOFTNESS**2, 0.0)))\n",
           "        blur = 0.0\n", (SOFT,)),
    Mutant("interior: the seam blend removed (the interior's edge cut hard into the lips)", MOUTH,
           "    mask = cv2.GaussianBlur(mask, (0, 0), style.edge)  # as soft as the photo's own edges\n", "", (SOFT,)),
    Mutant("interior: a seam between a closed photo's closed lips not covered (only a photo's teeth are)", MOUTH,
           "        return crease(frame, lm, line, style.edge, only_brighter=closed_photo)\n",
           "        return frame if closed_photo else crease(frame, lm, line, style.edge)\n",
           (SEAM, REAL)),
    Mutant("interior: no crease at all where the lips close (seams and the photo's teeth show)", MOUTH,
           "        return crease(frame, lm, line, style.edge, only_brighter=closed_photo)\n",
           "        return frame\n", (SEAM, REAL)),
    Mutant("interior: the seam cover darkens the photo's own lips too", LIPLINE,
           "    if only_brighter:  # all of a seam's brightness goes\n", "    if False:\n", (SEAM,)),
    Mutant("look: the teeth's cast unbounded (a green-tinted painting gets green teeth)", MOUTH,
           "    chroma = _not_green(chroma / chroma.sum())\n", "    chroma = chroma / chroma.sum()\n", (GREEN, GREENISH)),
    Mutant("look: the teeth take the eye whites' colour whole (painted eye whites colour them)", MOUTH,
           "        chroma = 1.0 / 3.0 + TEETH_JOINT[0] * skin_offset + TEETH_JOINT[1] * (_chromaticity(white) - 1.0 / 3.0)\n",
           "        chroma = _chromaticity(white)\n", (GREEN, RELATION)),
    Mutant("look: the teeth take the skin's whole colour (not the measured share)", MOUTH,
           "TEETH_SKIN_SHARE = 0.44  # no eye whites: teeth chromaticity = grey + this share of the skin's offset (p10-p90 +-0.016)\n",
           "TEETH_SKIN_SHARE = 1.0\n", (WARM, RELATION)),
    Mutant("look: the joint relation's shares swapped", MOUTH,
           "TEETH_JOINT = (0.34, 0.22)  # with eye whites: grey + these shares of the skin's and eye whites' offsets (closer fit)\n",
           "TEETH_JOINT = (0.22, 0.34)\n", (RELATION,)),
    Mutant("look: the teeth dimmer than the skin (the measured brightness relation dropped)", MOUTH,
           "    target = float(np.clip(TEETH_LUMA[0] + TEETH_LUMA[1] * skin_luma, floor, min(max(highlight, floor), 245.0)))\n",
           "    target = 0.8 * skin_luma\n", (WARM,)),
    Mutant("look: tinted monochrome detection ignored (a sepia photo gets warm-white teeth)", MOUTH,
           "        tone = None if flat else tone_of(img, face, skin_colour, lip_colour)\n",
           "        tone = None\n", (SEPIA,)),
    Mutant("look: a tinted photo's interior not mapped through its tone (left grey)", MOUTH,
           "    if style.tone is not None:  # the photo's own tone at each brightness\n", "    if False:\n", (SEPIA,)),
    Mutant("look: a warm colour photo taken for a tinted one (the lips' hue not checked)", MOUTH,
           "    if np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))) > TINT_LIPS:\n", "    if False:\n", (WARM,)),
    Mutant("look: flat-shading detection inverted", MOUTH,
           "    return bool((gradient[skin] < FLAT_GRADIENT).mean() > FLAT_SHARE)\n",
           "    return bool((gradient[skin] < FLAT_GRADIENT).mean() < FLAT_SHARE)\n", (FLAT,)),
    Mutant("look: a cartoon gets the photo-real interiors", MOUTH,
           "        interiors = InteriorPicker(library(), tones=tones)\n", "        interiors = InteriorPicker(library())\n",
           (FLAT,)),
    Mutant("look: a cartoon's cavity a shade of its teeth, not of its lips", MOUTH,
           "        tones = np.stack([lip_colour * FLAT_CAVITY_SHADE, lip_colour, teeth]) / np.maximum(teeth, 1.0) if flat else None\n",
           "        tones = np.stack([teeth * FLAT_CAVITY_SHADE, lip_colour, teeth]) / np.maximum(teeth, 1.0) if flat else None\n",
           (FLAT,)),
    Mutant("look: a cartoon's teeth lit as a photo's, not painted in the white of its eyes", MOUTH,
           "        elif flat and white is not None:\n", "        elif False:\n", (FLAT,)),
    Mutant("look: an overexposed photo's blown skin taken for a cartoon's flat paint", MOUTH,
           "    skin = skin & (img.min(axis=2) < CLIPPED) & (img.max(axis=2) > 255 - CLIPPED)\n", "", (FLAT,)),
    Mutant("look: a flat interior's tones blended between two openings (a ghost third tone)", EXEMPLARS,
           "        if self.tones is not None:\n", "        if False:\n", (BETWEEN,)),
]
MUTANTS += [
    Mutant("interior: the photo's own teeth do not lend their white (the skin's prediction instead)", MOUTH,
           "            teeth = own_teeth.white\n", "            pass\n",
           ("tests/test_mouth_look.py::test_a_photo_that_shows_teeth_lends_their_white_to_the_interior",)),
]
YARDSTICK = f"{T}::test_the_benchmarks_yardstick_is_the_photos_teeth_or_eye_whites_only_where_they_are_real"
MUTANTS += [
    Mutant("mouth benchmark: a photo's tongue taken for its teeth (the yardstick)", "benchmarks/mouth.py",
           "    return colour if coloured <= TEETH_LIKE and not lip_coloured else None\n",
           "    return colour\n", (YARDSTICK,)),
    Mutant("mouth benchmark: painted eye whites taken for the light's white (the yardstick)", "benchmarks/mouth.py",
           "    return bool(((c >= np.array(span[\"p10\"]) - EYE_SLACK) & (c <= np.array(span[\"p90\"]) + EYE_SLACK)).all())\n",
           "    return True\n", (YARDSTICK,)),
]
OWN_TEETH = "tests/test_mouth_look.py::test_a_photos_own_teeth_ride_without_its_lips_and_at_their_own_length"
MUTANTS += [
    Mutant("interior: the photo's teeth strip keeps its lip-coloured corners (coverage ignored)", MOUTH,
           "    return cv2.GaussianBlur(inside * teeth_like, (0, 0), 0.7)\n",
           "    return np.ones_like(inside)\n", (OWN_TEETH,)),
    Mutant("interior: the photo's teeth cut at the longest teeth's length, not at their biting edge", MOUTH,
           "    rows, cols = slice(y0 - lead, y0 + biting_edge(front)), slice(int(x0), int(np.ceil(x1)))\n",
           "    rows, cols = slice(y0 - lead, y0 + len(front)), slice(int(x0), int(np.ceil(x1)))\n", (OWN_TEETH,)),
]
INK = "tests/test_mouth_look.py::test_a_drawings_lips_closed_over_its_open_mouth_meet_in_its_ink"
MUTANTS += [
    Mutant("interior: a drawing's lips closed over its open mouth meet in the lips' shade, not its ink", MOUTH,
           "        line = style.crease if closed_photo or style.ink is None else style.ink\n",
           "        line = style.crease\n", (INK,)),
]
JUDGES = f"{T}::test_the_benchmark_judges_teeth_against_real_teeth_and_the_pictures_white_and_only_the_renders"
MUTANTS += [
    Mutant("mouth benchmark: teeth blurred into lipstick taken for the photo's teeth (no real-teeth check)",
           "benchmarks/mouth.py", "    return colour if coloured <= TEETH_LIKE and not lip_coloured else None\n",
           "    return colour if coloured <= TEETH_LIKE else None\n", (JUDGES,)),
    Mutant("mouth benchmark: teeth judged against the eye whites alone (real teeth' colour not allowed)",
           "benchmarks/mouth.py", "        e = e + share * (real - e)\n", "", (JUDGES,)),
    Mutant("mouth benchmark: the photo's own mouth judged as the render's teeth", "benchmarks/mouth.py",
           "        judged = gaps[t] >= max(TEETH_OPENING, OWN_MOUTH * own_gap)\n",
           "        judged = gaps[t] >= TEETH_OPENING\n", (JUDGES,)),
    Mutant("mouth benchmark: a painter's eye whites refused as the picture's white", "benchmarks/mouth.py",
           "        eye_whites = white is not None and (made or like_real_eye_whites(white))\n",
           "        eye_whites = white is not None and like_real_eye_whites(white)\n", (JUDGES,)),
    Mutant("interior: the skin relation carried past the most coloured real skin (orange teeth on a painted face)",
           MOUTH, "    skin_offset *= min(1.0, SKIN_OFFSET_LIMIT / max(float(np.linalg.norm(skin_offset)), 1e-6))\n", "",
           (f"{LOOK}::test_a_face_coloured_past_any_real_skin_does_not_get_orange_teeth",)),
]
SIDE = f"{LOOK}::test_a_wide_smiles_side_teeth_end_with_its_front_teeth"
MUTANTS += [
    Mutant("interior: the photo's teeth stretched with the lips (drawn at a share of the mouth's width)", MOUTH,
           "    tw = max(2, int(round(teeth.image.shape[1] * teeth.scale(face_h))))\n",
           "    tw = max(2, int(round(0.78 * teeth.width * teeth.scale(face_h))))\n",
           (f"{LOOK}::test_the_photos_teeth_keep_their_width_as_the_lips_stretch", SIDE)),
    Mutant("interior: the interior's upper teeth end where its front teeth do in every column", EXEMPLARS,
           "    return ends.astype(np.float32)\n", "    return np.full(luma.shape[1], middle[0], np.float32)\n", (SIDE,)),
    Mutant("interior: no side teeth above the front teeth' strip (its top edge shows under a smile)", MOUTH,
           "    lead = max(0, y0 - int(np.floor(lm[UPPER_LIP_INNER_SET, 1].min())))\n", "    lead = 0\n",
           (OWN_TEETH,)),
]
GRAIN = f"{LOOK}::test_the_interiors_grain_is_the_photos_noise_not_its_wrinkles"
MUTANTS += [
    Mutant("look: the photo's grain read over all its skin (wrinkles and all)", MOUTH,
           "    flat = second[skin & (gradient <= np.percentile(gradient[skin], GRAIN_FLAT))]\n",
           "    flat = second[skin]\n", (GRAIN, FLAT)),
    Mutant("look: the photo's grain read as what a blur takes away (texture as noise)", MOUTH,
           "    second = cv2.filter2D(gray, cv2.CV_32F, IMMERKAER) / 6.0\n",
           "    second = gray - cv2.GaussianBlur(gray, (0, 0), 1.2)\n", (GRAIN,)),
]
MUTANTS += [
    Mutant("mouth benchmark: the nearest allowed colour sought on the far side of the eye whites (sign swapped)",
           "benchmarks/mouth.py",
           "        share = float(np.clip(np.dot(c - e, real - e) / max(float(np.dot(real - e, real - e)), 1e-12), 0.0, 1.0))\n",
           "        share = float(np.clip(np.dot(c - e, e - real) / max(float(np.dot(real - e, real - e)), 1e-12), 0.0, 1.0))\n",
           (JUDGES,)),
]
MUTANTS += [
    Mutant("interior: the interior's teeth ends read mirrored across the mouth (swapped halves)", MOUTH,
           "        end = np.interp(u, (np.arange(len(ends)) + 0.5) / len(ends), ends)  # at each pixel's column\n",
           "        end = np.interp(u, (np.arange(len(ends)) + 0.5) / len(ends), ends[::-1])\n", (SIDE,)),
]
