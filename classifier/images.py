"""Decode an image file or upload into an upright 8-bit RGB image.

The classifier decodes every image with `load_image`, so that a photo taken
with a rotated phone, a transparent PNG and a 16-bit scan all reach the models
in the same form.
"""

from __future__ import annotations

import io
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from classifier.errors import InvalidImageError

__all__ = ["DEFAULT_MAX_PIXELS", "load_image"]

logger = logging.getLogger(__name__)

# The default admits photos of up to 40 megapixels, whose decoded RGB pixels
# take 120 MB (3 bytes a pixel).
DEFAULT_MAX_PIXELS = 40_000_000

_WHITE = (255, 255, 255)
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})

# Pillow reads ImageFile.LOAD_TRUNCATED_IMAGES as one process-wide flag. Loads
# that overlap in several threads share one override, and the flag gets its
# previous value back when the last of them ends.
_truncation_lock = threading.Lock()
_truncation_overrides = 0
_truncation_saved = False


def load_image(
    source: str | os.PathLike[str] | bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    draft_size: int | None = None,
) -> Image.Image:
    """Decode an image into an upright RGB image with 8 bits per channel.

    The steps run in this order:

    1. The size in the file header is checked against `max_pixels` before any
       pixel data is decoded, so a decompression bomb is rejected cheaply.
    2. The pixel data is decoded in full. A truncated file is rejected even if
       the process has set `PIL.ImageFile.LOAD_TRUNCATED_IMAGES`.
    3. The EXIF orientation tag is applied, so width and height are those of
       the photo as it is meant to be displayed.
    4. The pixels are converted to RGB: transparency (RGBA, LA, palette with a
       transparent colour) is composited on white, greyscale and CMYK are
       converted, and 16-bit or 32-bit samples are scaled (not clipped) to 0..255.

    An animated GIF, WebP or PNG yields its first frame, and the other frames
    are ignored.

    Args:
        source: a file path, or the bytes of an uploaded file.
        max_pixels: the largest accepted width × height, in pixels of the stored
            (not yet rotated) image.
        draft_size: if given, a JPEG is decoded at 1/2, 1/4 or 1/8 scale as long as
            both sides stay at least this many pixels. This speeds up callers that
            resize to a small input anyway. Other formats ignore it.

    Returns:
        A loaded image in mode "RGB" that no longer refers to the file.

    Raises:
        InvalidImageError: the data is empty, not an image, truncated, in a pixel
            format that cannot be converted, or larger than `max_pixels`. The
            message names the source: the path, or "upload" for bytes.
        FileNotFoundError, PermissionError: the path cannot be opened.
        ValueError: `max_pixels` or `draft_size` is not positive.
    """
    if max_pixels <= 0:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}")
    if draft_size is not None and draft_size <= 0:
        raise ValueError(f"draft_size must be positive, got {draft_size}")

    if isinstance(source, bytes):
        if not source:
            raise InvalidImageError("upload is empty: send the bytes of a JPEG, PNG or WebP file")
        return _load(io.BytesIO(source), "upload", max_pixels, draft_size)
    with Path(source).open("rb") as handle:
        return _load(handle, os.fspath(source), max_pixels, draft_size)


def _load(handle: BinaryIO, name: str, max_pixels: int, draft_size: int | None) -> Image.Image:
    with _open(handle, name) as image:
        _check_pixel_count(image, name, max_pixels)
        if draft_size is not None and image.format == "JPEG":
            image.draft("RGB", (draft_size, draft_size))
        _decode(image, name)
        upright = _apply_orientation(image, name)
    return _to_rgb(upright, name)


def _open(handle: BinaryIO, name: str) -> Image.Image:
    try:
        return Image.open(handle)
    except UnidentifiedImageError as error:
        raise InvalidImageError(
            f"{name} is not an image that Pillow can read: send a JPEG, PNG, WebP or GIF file"
        ) from error
    except Image.DecompressionBombError as error:
        # Pillow raises this in open() for more than twice Image.MAX_IMAGE_PIXELS,
        # before our own limit is checked.
        raise InvalidImageError(
            f"{name} is too large to decode ({error}): resize it before sending it"
        ) from error
    except (OSError, SyntaxError, ValueError) as error:
        raise InvalidImageError(
            f"{name} has an invalid image header ({error}): send the complete file again"
        ) from error


def _check_pixel_count(image: Image.Image, name: str, max_pixels: int) -> None:
    width, height = image.size
    if width * height > max_pixels:
        raise InvalidImageError(
            f"{name} is {width}x{height} pixels, more than the limit of {max_pixels} pixels: "
            "resize it before sending it"
        )
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        logger.debug("%s has %d frames; using the first", name, frames)


def _decode(image: Image.Image, name: str) -> None:
    try:
        with _truncated_images_rejected():
            image.load()
    except (OSError, SyntaxError, ValueError) as error:
        # Pillow reports a truncated or corrupt stream as OSError, and as
        # SyntaxError or ValueError from some plugins.
        raise InvalidImageError(
            f"{name} could not be decoded, most likely because the file is truncated "
            f"or corrupt ({error}): send the complete file again"
        ) from error


def _apply_orientation(image: Image.Image, name: str) -> Image.Image:
    try:
        upright = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError) as error:
        raise InvalidImageError(
            f"{name} has an unreadable EXIF block ({error}): re-save the image without EXIF data"
        ) from error
    # exif_transpose returns a copy, so the result outlives the closed file.
    return upright


def _to_rgb(image: Image.Image, name: str) -> Image.Image:
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in _ALPHA_MODES or (mode == "P" and "transparency" in image.info):
        return _composite_on_white(image)
    if mode in _SIXTEEN_BIT_MODES or mode in {"I", "F"}:
        return _scale_to_8bit(image).convert("RGB")
    try:
        return image.convert("RGB")
    except ValueError as error:
        raise InvalidImageError(
            f"{name} uses the pixel format {mode!r}, which cannot be converted to RGB: "
            "re-save it as an 8-bit RGB JPEG or PNG"
        ) from error


def _composite_on_white(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (*_WHITE, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _scale_to_8bit(image: Image.Image) -> Image.Image:
    """Map 16-bit, 32-bit integer or float greyscale samples to an 8-bit "L" image.

    16-bit modes are divided by 257, so 65535 becomes 255. Mode "I" holding
    values within 0..65535 (how some decoders widen 16-bit data) is treated the
    same way. Float data within 0..1 is multiplied by 255. Anything else is
    stretched linearly from its minimum to its maximum.
    """
    samples = np.asarray(image).astype(np.float64)
    low = float(samples.min())
    high = float(samples.max())
    if image.mode in _SIXTEEN_BIT_MODES or (image.mode == "I" and low >= 0 and high <= 65535):
        scaled = samples / 257.0
    elif image.mode == "F" and low >= 0.0 and high <= 1.0:
        scaled = samples * 255.0
    elif high > low:
        scaled = (samples - low) * (255.0 / (high - low))
    else:
        scaled = np.zeros_like(samples)
    return Image.fromarray(np.rint(scaled).astype(np.uint8))


@contextmanager
def _truncated_images_rejected() -> Iterator[None]:
    """Turn ImageFile.LOAD_TRUNCATED_IMAGES off for the duration of a load.

    NOTE: other code that decodes images in another thread while a load here
    is running also reads the flag as off.
    """
    global _truncation_overrides, _truncation_saved
    with _truncation_lock:
        if _truncation_overrides == 0:
            _truncation_saved = ImageFile.LOAD_TRUNCATED_IMAGES
            ImageFile.LOAD_TRUNCATED_IMAGES = False
        _truncation_overrides += 1
    try:
        yield
    finally:
        with _truncation_lock:
            _truncation_overrides -= 1
            if _truncation_overrides == 0:
                ImageFile.LOAD_TRUNCATED_IMAGES = _truncation_saved
