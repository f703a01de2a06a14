"""Tests for classifier.images.load_image on small images built in each test."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from classifier.errors import ClassifierError, InvalidImageError
from classifier.images import load_image

RED = (255, 0, 0)
BLUE = (0, 0, 255)
WHITE = (255, 255, 255)

# EXIF tag 0x0112; value 6 means "rotate 90° clockwise to display".
ORIENTATION_TAG = 0x0112


def _encode(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def _assert_close(pixel: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 40) -> None:
    assert all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True)), pixel


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def _png_without_pixels(width: int, height: int) -> bytes:
    """Return a PNG that declares a size but contains invalid deflate data instead of pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", b"\xff" * 16)


def test_exif_rotated_jpeg_is_upright() -> None:
    # Stored landscape: red left half, blue right half.
    stored = Image.new("RGB", (40, 20), RED)
    stored.paste(BLUE, (20, 0, 40, 20))
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = 6
    data = _encode(stored, "JPEG", exif=exif, quality=95)

    image = load_image(data)

    assert image.size == (20, 40)
    # Turning clockwise moves the stored left half to the top.
    _assert_close(image.getpixel((10, 5)), RED)
    _assert_close(image.getpixel((10, 35)), BLUE)


def test_palette_png_transparency_composites_on_white() -> None:
    palette_image = Image.new("P", (8, 8), 0)
    palette_image.putpalette([*RED, *BLUE] + [0] * (256 * 3 - 6))
    palette_image.paste(1, (0, 0, 4, 8))
    data = _encode(palette_image, "PNG", transparency=0)

    image = load_image(data)

    assert image.mode == "RGB"
    assert image.getpixel((6, 4)) == WHITE
    assert image.getpixel((1, 4)) == BLUE


def test_rgba_half_transparent_blends_with_white() -> None:
    rgba = Image.new("RGBA", (4, 4), (0, 0, 0, 128))

    image = load_image(_encode(rgba, "PNG"))

    _assert_close(image.getpixel((0, 0)), (127, 127, 127), tolerance=2)


def test_greyscale_alpha_composites_on_white() -> None:
    grey_alpha = Image.new("LA", (4, 4), (0, 0))

    image = load_image(_encode(grey_alpha, "PNG"))

    assert image.getpixel((0, 0)) == WHITE


def test_sixteen_bit_greyscale_png_scales() -> None:
    samples = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    data = _encode(Image.fromarray(samples), "PNG")

    image = load_image(data)

    assert image.mode == "RGB"
    values = [image.getpixel((x, 0))[0] for x in range(4)]
    # Clipping to 255 would turn every value above 255 into 255.
    assert values == [0, 1, 128, 255]


def test_cmyk_jpeg_converts_to_rgb() -> None:
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))

    image = load_image(_encode(cmyk, "JPEG", quality=95))

    assert image.mode == "RGB"
    _assert_close(image.getpixel((4, 4)), RED)


def test_greyscale_converts_to_rgb() -> None:
    image = load_image(_encode(Image.new("L", (8, 8), 200), "PNG"))

    assert image.mode == "RGB"
    assert image.getpixel((0, 0)) == (200, 200, 200)


def test_truncated_jpeg_raises() -> None:
    data = _encode(Image.effect_noise((64, 64), 50).convert("RGB"), "JPEG")

    with pytest.raises(InvalidImageError, match="truncated"):
        load_image(data[: len(data) // 2])


def test_truncated_jpeg_raises_when_pillow_allows_truncation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    data = _encode(Image.effect_noise((64, 64), 50).convert("RGB"), "JPEG")

    with pytest.raises(InvalidImageError, match="truncated"):
        load_image(data[: len(data) // 2])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True


def test_pixel_limit_breach_raises() -> None:
    data = _encode(Image.new("RGB", (100, 100)), "PNG")

    with pytest.raises(InvalidImageError, match="limit of 9999 pixels"):
        load_image(data, max_pixels=9999)


def test_pixel_limit_checked_before_decoding() -> None:
    # Decoding would fail on the invalid pixel data, and so raise another message.
    data = _png_without_pixels(8000, 8000)

    with pytest.raises(InvalidImageError, match="8000x8000 pixels"):
        load_image(data)


def test_invalid_pixel_data_raises() -> None:
    with pytest.raises(InvalidImageError, match="could not be decoded"):
        load_image(_png_without_pixels(80, 80))


def test_pixel_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_pixels"):
        load_image(b"anything", max_pixels=0)


def test_empty_bytes_raise() -> None:
    with pytest.raises(InvalidImageError, match="upload is empty"):
        load_image(b"")


def test_non_image_bytes_raise() -> None:
    with pytest.raises(InvalidImageError, match="upload is not an image"):
        load_image(b"name,price\nhat,12.5\n")


def test_invalid_image_error_is_value_error() -> None:
    with pytest.raises(ValueError):
        load_image(b"not an image")
    with pytest.raises(ClassifierError):
        load_image(b"not an image")


def test_animated_gif_gives_first_frame() -> None:
    frames = [Image.new("RGB", (10, 10), RED), Image.new("RGB", (10, 10), BLUE)]
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert Image.open(io.BytesIO(data)).n_frames == 2

    image = load_image(data)

    assert image.mode == "RGB"
    assert image.getpixel((5, 5)) == RED


def test_path_source_error_names_path(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_bytes(b"plain text, not a JPEG")

    with pytest.raises(InvalidImageError, match=r"notes\.jpg is not an image"):
        load_image(path)


def test_path_source_loads_and_releases_file(tmp_path: Path) -> None:
    path = tmp_path / "square.png"
    Image.new("RGB", (6, 6), BLUE).save(path)

    image = load_image(str(path))
    path.unlink()

    assert image.getpixel((3, 3)) == BLUE


def test_missing_path_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_image(tmp_path / "missing.jpg")


def test_draft_size_decodes_jpeg_at_reduced_scale() -> None:
    data = _encode(Image.new("RGB", (800, 400), RED), "JPEG")

    image = load_image(data, draft_size=100)

    assert image.size == (200, 100)
