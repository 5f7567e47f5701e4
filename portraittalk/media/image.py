"""Safe image decoding: by content, EXIF-oriented, RGB, size-limited."""
from __future__ import annotations

import io
import math
import os
import warnings
from pathlib import Path
from typing import Union

import numpy as np

from ..config import Limits
from ..errors import ImageError

ImageSource = Union[str, os.PathLike, bytes, np.ndarray]
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "BMP", "MPO"}  # MPO: JPEG from phone cameras


def load_image(source: ImageSource, max_pixels: int = Limits.max_image_pixels) -> np.ndarray:
    """Decode ``source`` into an ``(H, W, 3)`` uint8 RGB array.

    The format is read from the bytes, never the file name. Corrupt, truncated, unsupported or
    too-large images raise :class:`ImageError` with a message meant for the user; the size is read from
    the header, so an image over ``max_pixels`` is refused before it is decoded.
    """
    if isinstance(source, np.ndarray):
        return _array_to_rgb(source)
    from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

    ImageFile.LOAD_TRUNCATED_IMAGES = False
    name = "the image" if isinstance(source, bytes) else f"'{Path(source).name}'"
    if not isinstance(source, bytes) and not Path(source).is_file():
        raise ImageError(f"{name} does not exist or is not a file.")
    data = io.BytesIO(source) if isinstance(source, bytes) else source
    with warnings.catch_warnings():
        # Pillow warns from 89 megapixels (its words are not the user's); ``max_pixels`` decides below.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(data) as img:
                if img.format not in ACCEPTED_FORMATS:
                    raise ImageError(
                        f"{name} is a {img.format or 'unknown'} image; use JPEG, PNG, WebP or BMP."
                    )
                width, height = img.size
                if width * height > max_pixels:
                    raise _too_large(name, max_pixels, (width, height))
                img.load()
                img = ImageOps.exif_transpose(img)
                return _pil_to_rgb(img)
        except ImageError:
            raise
        except Image.DecompressionBombError:  # twice Pillow's warning size: it does not even give the size
            raise _too_large(name, max_pixels) from None
        except UnidentifiedImageError:
            raise ImageError(f"{name} is not an image we can read; use JPEG, PNG, WebP or BMP.") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageError(f"{name} is corrupt or truncated ({exc}); export it again.") from None


def _too_large(name: str, max_pixels: int, size: tuple[int, int] | None = None) -> ImageError:
    """The limit in megapixels and what to do; with ``size``, the image's own size and one that fits."""
    limit = f"{_megapixels(max_pixels)} megapixels"
    if size is None:
        said, fits = f"{name} is over the limit of {limit}", ""
    else:
        width, height = size
        fit_width = math.isqrt(max_pixels * width // height)  # the same shape, at most max_pixels
        said = (f"{name} is {width}×{height} pixels ({_megapixels(width * height)} megapixels), "
                f"over the limit of {limit}")  # fmt: skip
        fits = f" ({fit_width}×{fit_width * height // width} keeps its shape)"
    return ImageError(f"{said}; downscale it to at most {limit}{fits} with any image editor: a portrait needs no "
                      "more than about 2000 pixels a side.")  # fmt: skip


def _megapixels(pixels: int) -> str:
    return f"{round(pixels / 1e6, 1):g}"


def _pil_to_rgb(img) -> np.ndarray:
    from PIL import Image

    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def _array_to_rgb(array: np.ndarray) -> np.ndarray:
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ImageError(f"an image array must be HxW, HxWx3 or HxWx4, got shape {array.shape}.")
    if array.dtype != np.uint8:
        scale = 255.0 if array.dtype.kind == "f" and array.max(initial=0) <= 1.0 else 1.0
        array = np.clip(array * scale, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(array[..., :3])


def save_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write an RGB array (format from the suffix)."""
    from PIL import Image

    Image.fromarray(_array_to_rgb(image)).save(path)
