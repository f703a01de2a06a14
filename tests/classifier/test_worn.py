"""Cutting out what is worn on top of the head, on drawn scenes and CCP street photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from classifier.head import detect_head
from classifier.images import load_image
from classifier.worn import frame_on_backdrop, worn_mask, worn_pixels

# CCP label 20 is "hat".
HAT = 20
BACKDROP = 245
STREET_BLUE = (40, 70, 160)
SKIN = (224, 172, 140)
HAT_RED = (190, 25, 35)


def _drawn_person() -> tuple[np.ndarray, tuple[int, int, int, int], np.ndarray]:
    """A red hat over a skin-coloured face on blue: pixels, face box and the hat's pixels."""
    pixels = np.zeros((200, 200, 3), dtype=np.uint8)
    pixels[:] = STREET_BLUE
    pixels[90:170, 70:130] = SKIN
    hat = np.zeros((200, 200), dtype=bool)
    hat[45:100, 55:145] = True
    pixels[hat] = HAT_RED
    return pixels, (70, 90, 130, 170), hat


def test_mask_covers_drawn_hat() -> None:
    pixels, face, hat = _drawn_person()

    mask = worn_mask(pixels, (0, 0, 200, 200), face)

    assert (mask & hat).sum() / hat.sum() > 0.9
    assert (mask & hat).sum() / mask.sum() > 0.9


def test_worn_pixels_frame_the_hat_on_backdrop() -> None:
    pixels, face, _ = _drawn_person()
    image = Image.fromarray(pixels)

    framed = worn_pixels(image, (0, 0, 200, 200), face)

    border = np.concatenate([framed[0], framed[-1], framed[:, 0], framed[:, -1]])
    assert (border == BACKDROP).all()
    inner = framed.reshape(-1, 3)
    red = (inner == HAT_RED).all(axis=1).sum()
    not_backdrop = (inner != BACKDROP).any(axis=1).sum()
    assert red / not_backdrop > 0.9


def test_worn_pixels_repeat_exactly() -> None:
    pixels, face, _ = _drawn_person()
    image = Image.fromarray(pixels)

    assert np.array_equal(
        worn_pixels(image, (0, 0, 200, 200), face), worn_pixels(image, (0, 0, 200, 200), face)
    )


def test_mask_has_the_shape_of_the_head_box() -> None:
    pixels, face, _ = _drawn_person()
    assert worn_mask(pixels, (20, 10, 180, 190), face).shape == (180, 160)


def test_mask_rejects_empty_face_box() -> None:
    pixels, _, _ = _drawn_person()
    with pytest.raises(ValueError, match="face box"):
        worn_mask(pixels, (0, 0, 200, 200), (50, 50, 50, 80))


def test_mask_rejects_non_rgb_array() -> None:
    with pytest.raises(ValueError, match="RGB array"):
        worn_mask(np.zeros((20, 20), dtype=np.uint8), (0, 0, 20, 20), (5, 5, 10, 10))


@pytest.mark.parametrize(("photo", "least_overlap"), [("0106", 0.6), ("0541", 0.6), ("0583", 0.8)])
def test_mask_overlaps_hand_drawn_hat(shared_data: Path, photo: str, least_overlap: float) -> None:
    """On CCP photos with pixel masks, the cut-out covers the hat, not the face or street."""
    image = load_image(shared_data / "ccp" / "photos" / f"{photo}.jpg")
    labels = scipy.io.loadmat(str(shared_data / "ccp" / "annotations" / f"{photo}.mat"))
    detection = detect_head(image)
    assert detection is not None
    x0, y0, x1, y1 = detection.box

    mask = worn_mask(np.asarray(image), detection.box, detection.face_box)

    drawn = np.asarray(labels["groundtruth"])[y0:y1, x0:x1] == HAT
    assert (mask & drawn).sum() / (mask | drawn).sum() >= least_overlap


def test_frame_rejects_empty_mask() -> None:
    pixels, _, _ = _drawn_person()
    with pytest.raises(ValueError, match="non-empty mask"):
        frame_on_backdrop(pixels, np.zeros(pixels.shape[:2], dtype=bool))
