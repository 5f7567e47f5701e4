"""Image decoding: by content, EXIF-oriented, RGB, refused when corrupt or too large."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from portraittalk.errors import ImageError
from portraittalk.media import load_image

from shared_inputs import PORTRAIT, SPEECH, oversize_png


@pytest.fixture(scope="module")
def portrait() -> np.ndarray:
    return np.asarray(Image.open(PORTRAIT).convert("RGB"))


@pytest.mark.parametrize("fmt,ext", [("JPEG", ".png"), ("PNG", ".jpg"), ("WEBP", ".bin"), ("BMP", ".jpeg")])
def test_decodes_by_content_not_extension(tmp_path, portrait, fmt, ext):
    path = tmp_path / f"photo{ext}"
    Image.fromarray(portrait).save(path, format=fmt)
    img = load_image(path)
    assert img.shape == portrait.shape and img.dtype == np.uint8
    assert np.abs(img.astype(int) - portrait).mean() < 6  # lossy formats stay close


def test_exif_orientation_applied(tmp_path, portrait):
    # Stored sideways with EXIF "rotate 90 CW" (6): the loader must hand back the upright photo.
    sideways = np.ascontiguousarray(np.rot90(portrait, 1))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "phone.jpg"
    Image.fromarray(sideways).save(path, exif=exif, quality=95)
    img = load_image(path)
    assert img.shape == portrait.shape
    assert np.abs(img.astype(int) - portrait).mean() < 6


def test_grey_and_alpha_become_rgb(tmp_path, portrait):
    grey = tmp_path / "grey.png"
    Image.fromarray(portrait).convert("L").save(grey)
    rgba = tmp_path / "rgba.png"
    Image.fromarray(portrait).convert("RGBA").save(rgba)
    assert load_image(grey).shape == portrait.shape
    assert load_image(rgba).shape == portrait.shape


def test_truncated_file_is_refused(tmp_path):
    data = PORTRAIT.read_bytes()
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="corrupt or truncated"):
        load_image(path)


def test_garbage_and_wrong_formats_are_refused(tmp_path):
    junk = tmp_path / "photo.jpg"
    junk.write_bytes(b"this is not an image at all" * 40)
    with pytest.raises(ImageError, match="not an image we can read"):
        load_image(junk)
    gif = tmp_path / "anim.gif"
    Image.new("RGB", (32, 32)).save(gif)
    with pytest.raises(ImageError, match="GIF image; use JPEG, PNG, WebP or BMP"):
        load_image(gif)
    with pytest.raises(ImageError, match="does not exist"):
        load_image(tmp_path / "missing.png")


def test_an_oversize_photo_is_refused_with_the_limit_in_megapixels_and_what_to_do(tmp_path):
    """The product's own words (not Pillow's "decompression bomb"), from the header, before decoding."""
    huge = oversize_png(tmp_path / "huge.png")
    with pytest.raises(ImageError) as refused:
        load_image(huge)
    assert str(refused.value) == (
        "'huge.png' is 12000×12000 pixels (144 megapixels), over the limit of 40 megapixels; downscale it to at "
        "most 40 megapixels (6324×6324 keeps its shape) with any image editor: a portrait needs no more than "
        "about 2000 pixels a side.")  # fmt: skip
    wide = tmp_path / "wide.png"
    Image.new("RGB", (3000, 1500)).save(wide)
    with pytest.raises(ImageError, match=r"^'wide\.png' is 3000×1500 pixels \(4\.5 megapixels\), over the limit of "
                       r"4 megapixels; downscale it to at most 4 megapixels \(2828×1414 keeps its shape\)"):
        load_image(wide, max_pixels=4_000_000)
    assert load_image(wide, max_pixels=4_500_000).shape == (1500, 3000, 3)  # the limit itself is accepted


def test_a_decompression_bomb_is_refused_in_the_same_words(tmp_path):
    """A tiny file that claims 20000x20000 pixels (above what Pillow opens at all): refused from the
    header, with the limit and what to do."""
    buf = io.BytesIO()
    Image.new("1", (20000, 20000)).save(buf, format="PNG")
    assert len(buf.getvalue()) < 200_000
    with pytest.raises(ImageError) as refused:
        load_image(buf.getvalue())
    message = str(refused.value)
    assert message.startswith("the image is over the limit of 40 megapixels; downscale it to at most 40 megapixels")
    assert "bomb" not in message and "exceeds" not in message


def test_the_api_refuses_an_oversize_portrait_in_the_same_words(tmp_path):
    from portraittalk import PortraitTalk

    huge = oversize_png(tmp_path / "huge.png")
    with pytest.raises(ImageError, match=r"^'huge\.png' is 12000×12000 pixels \(144 megapixels\), over the limit "
                       r"of 40 megapixels; downscale it to at most 40 megapixels"):
        PortraitTalk.from_pretrained().generate([PORTRAIT, huge], SPEECH, size=128, output=tmp_path / "out.mp4")
    assert list(tmp_path.iterdir()) == [huge]  # nothing written
