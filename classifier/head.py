"""Find the head region in a photo of a person, so that head attire can be classified.

In a full-length street photo the head covers a few percent of the image, and
a classifier applied to the whole photo would mostly classify the body. This
module therefore first finds a face with the Haar cascades that ship with
opencv-python-headless 4.x. It then widens the face box to a head box that
takes in what is worn above and around the face: hats, hair bands and the top
of a scarf.

All boxes are `(x0, y0, x1, y1)` in pixels of the upright image (EXIF orientation
already applied, as `classifier.images.load_image` returns it), with the origin
at the top left, `x0`/`y0` inclusive and `x1`/`y1` exclusive, clipped to the image.

Measured detection rates, hat coverage and timings are in docs/head-region.md.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import cv2.data
import numpy as np
from PIL import Image

from classifier.errors import ModelLoadError

__all__ = [
    "HEAD_DOWN",
    "HEAD_SIDE",
    "HEAD_UP",
    "WORKING_SIDE",
    "HeadDetection",
    "detect_head",
    "head_box_from_face",
    "looks_like_person",
    "skin_mask",
]

logger = logging.getLogger(__name__)

Box = tuple[int, int, int, int]

# The detector runs on a copy whose longer side is at most this many pixels,
# so a face narrower than 24/576 of the longer side (4.2%) is not found. On the
# CCP street photos (about 550x825, faces about 9% of the height) this finds
# as many correct faces as the full resolution in half the time, while 448
# already misses many.
WORKING_SIDE = 576

# Head box = face box widened by these multiples of the face box's size: up
# for a hat crown, to each side for a brim or hair, down for the top of a scarf.
# Tuned on the 83 CCP hat photos with pixel masks.
HEAD_UP = 1.0
HEAD_SIDE = 0.9
HEAD_DOWN = 0.3

# alt2 picks the right face more often than the default frontal cascade on the
# CCP photos, because it puts fewer boxes on clothes and background. The
# profile cascade only finds faces turned to one side, so it also runs on the
# mirrored image.
_FRONTAL_CASCADE = "haarcascade_frontalface_alt2.xml"
_PROFILE_CASCADE = "haarcascade_profileface.xml"

# Haar cascades are trained on 24x24 (frontal) or 20x20 (profile) windows, so
# a face smaller than this in the working copy is never found.
_MIN_FACE_PIXELS = 24
_SCALE_FACTOR = 1.1
_MIN_NEIGHBORS = 3

# In a photo of a person the face is usually in the upper part, so faces are
# searched in the top 60% only, and a face whose centre is lower is dropped.
# Faces of at least 15% of the longer side (close-ups) are also searched in
# the whole image, which costs little because only coarse scales are scanned.
_SEARCH_TOP = 0.6
_LARGE_FACE = 0.15
# A face of at least this share of the longer side makes the photo a portrait
# or a head crop, where the face can sit lower: its centre may lie anywhere.
# In a crop of the head box that this module returns, the face centre lies at
# 65% of the height.
_CLOSE_UP_FACE = 0.25

# A face box whose central half has less than 20% skin-coloured pixels is
# dropped: this removes most boxes on fabric prints and folds in product
# photos. Skin is Cr 133..173 and Cb 77..127 in 8-bit YCrCb, a range that
# ignores brightness. Every correct face on the CCP photos with masks had at
# least 40% skin there.
_SKIN_CR = (133, 173)
_SKIN_CB = (77, 127)
_MIN_SKIN_SHARE = 0.2
# A greyscale photo has Cr = Cb = 128 everywhere and so no skin-coloured
# pixels: when the mean distance of Cr and Cb from 128 is below this, the skin
# test is skipped. Product shots of black, white or grey garments on a white
# background measure 0.75 and more, so the threshold stays well below that.
_MIN_CHROMA = 0.5

# In OpenCV 4.x a cv2.CascadeClassifier keeps the image pyramid of the running
# detection inside the object, so each thread loads its own copy.
_thread_cache = threading.local()


@dataclass(frozen=True)
class HeadDetection:
    """A face and the head region around it.

    Attributes:
        box: head box `(x0, y0, x1, y1)` in pixels of the upright image,
            x1 and y1 exclusive, clipped to the image.
        face_box: the detected face, in the same coordinates.
        score: the cascade's level weight for the face (the sum of its last
            stage's weak classifiers). Higher is surer, but it is not a
            probability, and the frontal and profile cascades use different scales.
        view: "frontal" or "profile", the cascade that found the face.
    """

    box: Box
    face_box: Box
    score: float
    view: Literal["frontal", "profile"] = "frontal"


@dataclass(frozen=True)
class _Face:
    box: tuple[float, float, float, float]  # x, y, width, height in the working copy
    score: float


@dataclass(frozen=True)
class _WorkingCopy:
    grey: np.ndarray  # (height, width) uint8
    skin: np.ndarray | None  # (height, width) bool, None for a photo without colour
    scale: float  # working copy pixels per image pixel


def detect_head(
    image: Image.Image,
    *,
    working_side: int = WORKING_SIDE,
) -> HeadDetection | None:
    """Detect the most plausible face and return it with its head box.

    The frontal cascade runs first, and the profile cascade only when the
    frontal one finds no plausible face. A face is plausible when its centre
    lies in the top 60% of the image and, in a colour photo, the middle of its
    box is partly skin-coloured. Among plausible faces the highest score wins.

    Args:
        image: an upright image in any mode; see `classifier.images.load_image`.
        working_side: the longer side, in pixels, of the copy the detector runs on.
            Larger finds smaller faces and is slower (time grows with its square).

    Returns:
        The detection in pixels of `image`, or None when no face is found.

    Raises:
        ValueError: `working_side` is below 48 pixels.
        ModelLoadError: the cascade files are missing from the OpenCV install.
    """
    if working_side < 2 * _MIN_FACE_PIXELS:
        raise ValueError(
            f"working_side must be at least {2 * _MIN_FACE_PIXELS}, got {working_side}"
        )

    copy = _working_copy(image, working_side)
    view: Literal["frontal", "profile"] = "frontal"
    faces = _plausible(_find_faces(copy.grey, _FRONTAL_CASCADE), copy)
    if not faces:
        view = "profile"
        mirrored = np.ascontiguousarray(copy.grey[:, ::-1])
        found = _find_faces(copy.grey, _PROFILE_CASCADE)
        found += _mirror(_find_faces(mirrored, _PROFILE_CASCADE), copy.grey.shape[1])
        faces = _plausible(found, copy)
    if not faces:
        return None

    best = max(faces, key=lambda face: face.score)
    x, y, width, height = (value / copy.scale for value in best.box)
    face_box = _clip((x, y, x + width, y + height), image.size)
    return HeadDetection(
        box=head_box_from_face(face_box, image.size),
        face_box=face_box,
        score=best.score,
        view=view,
    )


def head_box_from_face(
    face_box: Box,
    image_size: tuple[int, int],
    *,
    up: float = HEAD_UP,
    side: float = HEAD_SIDE,
    down: float = HEAD_DOWN,
) -> Box:
    """Widen a face box into a head box, clipped to the image.

    Args:
        face_box: `(x0, y0, x1, y1)` in pixels.
        image_size: `(width, height)` of the image, as `PIL.Image.Image.size`.
        up: how far to extend above the face, in face heights.
        side: how far to extend on each side, in face widths.
        down: how far to extend below the face, in face heights.

    Returns:
        The head box `(x0, y0, x1, y1)` in pixels.
    """
    x0, y0, x1, y1 = face_box
    width = x1 - x0
    height = y1 - y0
    return _clip(
        (x0 - side * width, y0 - up * height, x1 + side * width, y1 + down * height),
        image_size,
    )


def looks_like_person(image: Image.Image) -> bool:
    """Return whether a face is found, to separate photos of people from product shots.

    On 300 H&M product photos (light background, no model) this returned True
    for 1. On the 419 CCP street photos it returned False for about 1 in 10,
    mostly where a hat brim, sunglasses or a turned head hides the face.
    """
    return detect_head(image) is not None


def _working_copy(image: Image.Image, working_side: int) -> _WorkingCopy:
    rgb = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    height, width = rgb.shape[:2]
    scale = 1.0
    if max(width, height) > working_side:
        factor = working_side / max(width, height)
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        # The rounded size, not `factor`, maps boxes back to the original.
        scale = size[0] / width

    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    ycrcb = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    chroma = np.abs(ycrcb[..., 1:].astype(np.int16) - 128).mean()
    skin = _skin_of(ycrcb) if chroma >= _MIN_CHROMA else None
    return _WorkingCopy(grey=grey, skin=skin, scale=scale)


def _skin_of(ycrcb: np.ndarray) -> np.ndarray:
    low = np.array([0, _SKIN_CR[0], _SKIN_CB[0]], dtype=np.uint8)
    high = np.array([255, _SKIN_CR[1], _SKIN_CB[1]], dtype=np.uint8)
    return cv2.inRange(ycrcb, low, high) > 0


def skin_mask(rgb: np.ndarray) -> np.ndarray:
    """Return which pixels of an RGB uint8 array (H, W, 3) are skin-coloured, bool (H, W).

    Skin is Cr 133..173 and Cb 77..127 in 8-bit YCrCb, whatever the brightness.
    """
    return _skin_of(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YCrCb))


def _find_faces(grey: np.ndarray, cascade_name: str) -> list[_Face]:
    """Find faces in the upper part of `grey`, in its pixel coordinates."""
    cascade = _cascade(cascade_name)
    height, width = grey.shape
    top = grey[: max(1, round(height * _SEARCH_TOP))]
    faces = _run_cascade(cascade, top, _MIN_FACE_PIXELS)
    # Only a large face can reach below the searched band with its centre above it.
    large = max(_MIN_FACE_PIXELS, round(_LARGE_FACE * max(width, height)))
    faces += _run_cascade(cascade, grey, large)
    return faces


def _run_cascade(cascade: cv2.CascadeClassifier, grey: np.ndarray, min_size: int) -> list[_Face]:
    # Equalising over the searched region, not the whole photo, adapts the
    # contrast to the part where the head is.
    equalised = cv2.equalizeHist(grey)
    boxes, _levels, weights = cascade.detectMultiScale3(
        equalised,
        scaleFactor=_SCALE_FACTOR,
        minNeighbors=_MIN_NEIGHBORS,
        minSize=(min_size, min_size),
        outputRejectLevels=True,
    )
    faces = []
    for box, weight in zip(boxes, np.asarray(weights).reshape(-1), strict=True):
        x, y, width, height = (float(value) for value in box)
        faces.append(_Face(box=(x, y, width, height), score=float(weight)))
    return faces


def _mirror(faces: list[_Face], width: int) -> list[_Face]:
    """Map faces found in the mirrored image back to the unmirrored one."""
    mirrored = []
    for face in faces:
        x, y, face_width, face_height = face.box
        mirrored.append(
            _Face(box=(width - x - face_width, y, face_width, face_height), score=face.score)
        )
    return mirrored


def _plausible(faces: list[_Face], copy: _WorkingCopy) -> list[_Face]:
    lowest_centre = copy.grey.shape[0] * _SEARCH_TOP
    close_up = _CLOSE_UP_FACE * max(copy.grey.shape)
    plausible_faces = []
    for face in faces:
        x, y, width, height = (round(value) for value in face.box)
        if y + height / 2 > lowest_centre and height < close_up:
            continue
        if copy.skin is not None:
            middle = copy.skin[
                y + height // 4 : y + height - height // 4, x + width // 4 : x + width - width // 4
            ]
            if middle.size == 0 or middle.mean() < _MIN_SKIN_SHARE:
                continue
        plausible_faces.append(face)
    return plausible_faces


def _cascade(name: str) -> cv2.CascadeClassifier:
    cache: dict[str, cv2.CascadeClassifier] | None = getattr(_thread_cache, "cascades", None)
    if cache is None:
        cache = {}
        _thread_cache.cascades = cache
    if name not in cache:
        path = Path(cv2.data.haarcascades) / name
        cascade = cv2.CascadeClassifier(str(path))
        if cascade.empty():
            raise ModelLoadError(
                f"Haar cascade {path} is missing or unreadable: install "
                "opencv-python-headless 4.x, which ships the cascades (OpenCV 5 does not)"
            )
        logger.debug("loaded Haar cascade %s", path)
        cache[name] = cascade
    return cache[name]


def _clip(box: tuple[float, float, float, float], image_size: tuple[int, int]) -> Box:
    width, height = image_size
    x0, y0, x1, y1 = box
    return (
        min(max(round(x0), 0), width),
        min(max(round(y0), 0), height),
        min(max(round(x1), 0), width),
        min(max(round(y1), 0), height),
    )
