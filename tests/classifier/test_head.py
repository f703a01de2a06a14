"""Tests for classifier.head on real CCP street photos and H&M product photos."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from classifier.head import HeadDetection, detect_head, head_box_from_face, looks_like_person
from classifier.images import load_image

HAT_LABEL = 20
# EXIF tag 0x0112; value 6 means "rotate 90° clockwise to display".
ORIENTATION_TAG = 0x0112

# CCP hat photos with pixel masks where the face is seen from the front.
HAT_PHOTOS = ("0043", "0071")
# H&M product photos on a light background: a brimmed hat, a beanie, a scarf and
# a hair band, then a T-shirt and a hoodie where the frontal cascade fires on
# the fabric but the box contains no skin colour.
PRODUCT_PHOTOS = (
    "0883719001",
    "0788903001",
    "0909955001",
    "0517729020",
    "0717490070",
    "0869154007",
)


def _ccp_photo(shared_data: Path, photo: str) -> Path:
    return shared_data / "ccp" / "photos" / f"{photo}.jpg"


def _hat_mask(shared_data: Path, photo: str) -> np.ndarray:
    annotation = scipy.io.loadmat(str(shared_data / "ccp" / "annotations" / f"{photo}.mat"))
    return np.asarray(annotation["groundtruth"]) == HAT_LABEL


def _assert_box_inside(box: tuple[int, int, int, int], size: tuple[int, int]) -> None:
    x0, y0, x1, y1 = box
    width, height = size
    assert 0 <= x0 < x1 <= width, box
    assert 0 <= y0 < y1 <= height, box


@pytest.mark.parametrize("photo", HAT_PHOTOS)
def test_head_box_covers_hat_mask(shared_data: Path, photo: str) -> None:
    image = load_image(_ccp_photo(shared_data, photo))
    hat = _hat_mask(shared_data, photo)

    detection = detect_head(image)

    assert detection is not None
    x0, y0, x1, y1 = detection.box
    covered = hat[y0:y1, x0:x1].sum() / hat.sum()
    assert covered >= 0.9


@pytest.mark.parametrize("photo", HAT_PHOTOS)
def test_boxes_inside_image(shared_data: Path, photo: str) -> None:
    image = load_image(_ccp_photo(shared_data, photo))

    detection = detect_head(image)

    assert detection is not None
    _assert_box_inside(detection.box, image.size)
    _assert_box_inside(detection.face_box, image.size)


def test_head_box_contains_face_box(shared_data: Path) -> None:
    detection = detect_head(load_image(_ccp_photo(shared_data, HAT_PHOTOS[0])))

    assert detection is not None
    assert detection.box[0] <= detection.face_box[0]
    assert detection.box[1] <= detection.face_box[1]
    assert detection.box[2] >= detection.face_box[2]
    assert detection.box[3] >= detection.face_box[3]


def test_exif_rotated_photo_gives_upright_box(shared_data: Path) -> None:
    upright = load_image(_ccp_photo(shared_data, HAT_PHOTOS[0]))
    # Store the pixels turned a quarter anticlockwise and tag them to be turned
    # back clockwise, as a phone held sideways does.
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = 6
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", exif=exif, quality=95)

    rotated = load_image(buffer.getvalue())
    from_rotated = detect_head(rotated)
    from_upright = detect_head(upright)

    assert rotated.size == upright.size
    assert from_rotated is not None
    assert from_upright is not None
    _assert_box_inside(from_rotated.box, rotated.size)
    # JPEG re-encoding moves the face box by a few pixels at most.
    assert np.abs(np.subtract(from_rotated.face_box, from_upright.face_box)).max() <= 8


@pytest.mark.parametrize("article_id", PRODUCT_PHOTOS)
def test_product_photo_is_not_person(shared_data: Path, article_id: str) -> None:
    image = load_image(shared_data / "hm-week" / "images" / f"{article_id}.jpg")

    assert not looks_like_person(image)


def test_street_photo_is_person(shared_data: Path) -> None:
    image = load_image(_ccp_photo(shared_data, HAT_PHOTOS[1]))

    assert looks_like_person(image)


@pytest.mark.parametrize("photo", ["0004", *HAT_PHOTOS])
def test_head_crop_finds_face_again(shared_data: Path, photo: str) -> None:
    """A crop of the head box that detect_head returns is a photo of a person too."""
    image = load_image(_ccp_photo(shared_data, photo))
    detection = detect_head(image)
    assert detection is not None

    cropped = detect_head(image.crop(detection.box))

    assert cropped is not None
    x0, y0, _, _ = detection.box
    face = detection.face_box
    # The face found in the crop is the same face, within a few pixels.
    expected = (face[0] - x0, face[1] - y0, face[2] - x0, face[3] - y0)
    assert np.allclose(cropped.face_box, expected, atol=0.15 * (face[2] - face[0]))


def test_greyscale_photo_finds_face(shared_data: Path) -> None:
    # Without colour the skin test cannot run, so it is skipped.
    image = load_image(_ccp_photo(shared_data, HAT_PHOTOS[0])).convert("L")

    detection = detect_head(image)

    assert detection is not None
    _assert_box_inside(detection.box, image.size)


def test_detection_in_threads_matches_single_thread(shared_data: Path) -> None:
    images = [load_image(_ccp_photo(shared_data, photo)) for photo in HAT_PHOTOS]
    expected = [detect_head(image) for image in images]

    with ThreadPoolExecutor(max_workers=2) as pool:
        found = list(pool.map(detect_head, images * 2))

    assert found == expected * 2


def test_blank_image_has_no_head() -> None:
    assert detect_head(Image.new("RGB", (400, 600), (255, 255, 255))) is None


def test_tiny_image_has_no_head() -> None:
    assert detect_head(Image.new("L", (10, 5), 128)) is None


def test_working_side_too_small_raises() -> None:
    with pytest.raises(ValueError, match="working_side"):
        detect_head(Image.new("RGB", (100, 100)), working_side=10)


def test_head_box_from_face_widens_by_factors() -> None:
    box = head_box_from_face((100, 200, 140, 250), (1000, 1000), up=1.0, side=0.5, down=0.2)

    assert box == (80, 150, 160, 260)


def test_head_box_from_face_clips_to_image() -> None:
    box = head_box_from_face((0, 10, 50, 60), (80, 100))

    _assert_box_inside(box, (80, 100))
    assert box[0] == 0
    assert box[1] == 0


def test_head_detection_is_frozen() -> None:
    detection = HeadDetection(box=(0, 0, 2, 2), face_box=(0, 0, 1, 1), score=1.0)

    with pytest.raises(AttributeError):
        detection.score = 2.0  # type: ignore[misc]
