"""Cut out what is worn on top of the head in a photo of a person, for its colour.

The pixel colour features (`classifier.colour`) expect a product on a light,
nearly uniform background: they take the image border as background and the
rest as product. A head crop from a street photo breaks both assumptions. Its
border is street, and the face, the hair and the background all count as
product. On 61 CCP hat photos whose hat colour was labelled by eye, the colour
read from the whole head crop matched the label 0.311 of the time, and the
colour read from this module's cut-out 0.590 of the time.

`worn_pixels` therefore separates what sits on top of the head before the
colour is measured. OpenCV's GrabCut does the separation on a small copy of
the head crop, started from where a hat sits relative to the face box:

- surely worn: a patch above the middle of the brow line (the top edge of the
  face box);
- probably worn: a band from the top of the head box to a quarter of the face
  height below the brow line. It reaches 0.7 face widths beyond each side of
  the face. Skin-coloured pixels in it are probably not worn;
- surely not worn: the rest of the head box, the lower face included.

The pixels GrabCut keeps are pasted on a light grey, like the backdrop of a
product photo, so that the colour features read them as they read a product.
The figures are in docs/head-region.md.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np
from PIL import Image

from classifier.head import Box, skin_mask

__all__ = ["WORN_WORKING_SIDE", "frame_on_backdrop", "worn_mask", "worn_pixels"]

logger = logging.getLogger(__name__)

# GrabCut runs on a copy of the head crop whose longer side is at most this
# many pixels. On the CCP hat photos, 96, 128 and 160 pixels and full size gave
# the same overlap with the hand-drawn masks (0.41 to 0.42). At 128 pixels and
# 3 rounds it took about 28 ms a photo on one core, against 140 ms at full size
# and 4 rounds.
WORN_WORKING_SIDE = 128
_ITERATIONS = 3
# The band of probable hat pixels, in face widths beyond each side of the face
# and in face heights below the brow line. Judgements from where hat brims and
# crowns lie on the CCP photos, not tuned values.
_BAND_SIDE = 0.7
_BAND_BELOW = 0.25
# The patch of sure hat pixels: the middle 40% of the face width, from 0.35 to
# 0.05 face heights above the brow line.
_SEED_INSET = 0.3
_SEED_TOP = 0.35
_SEED_BOTTOM = 0.05
# The lower face (from 0.45 face heights below the brow line, inset by 15% of
# the face width on each side) is surely not worn on top of the head.
_LOWER_FACE_TOP = 0.45
_LOWER_FACE_INSET = 0.15
# The light grey that the worn pixels are pasted on, and the margin around
# them, as a share of their larger side.
_BACKDROP = 245
_MARGIN = 0.15


def _grabcut_start(skin: np.ndarray, face: tuple[float, float, float, float]) -> np.ndarray:
    """Return GrabCut's starting labels for a crop whose skin pixels are `skin` (H, W).

    `face` is the face box in pixels of the crop.
    """
    height, width = skin.shape
    x0, y0, x1, y1 = face
    face_width, face_height = x1 - x0, y1 - y0

    def rows(top: float, bottom: float) -> slice:
        return slice(int(np.clip(top, 0, height)), int(np.clip(bottom, 0, height)))

    def columns(left: float, right: float) -> slice:
        return slice(int(np.clip(left, 0, width)), int(np.clip(right, 0, width)))

    labels = np.full(skin.shape, cv2.GC_BGD, dtype=np.uint8)
    labels[
        rows(0, y0 + _BAND_BELOW * face_height),
        columns(x0 - _BAND_SIDE * face_width, x1 + _BAND_SIDE * face_width),
    ] = cv2.GC_PR_FGD
    labels[(labels == cv2.GC_PR_FGD) & skin] = cv2.GC_PR_BGD
    labels[
        rows(y0 + _LOWER_FACE_TOP * face_height, y1),
        columns(x0 + _LOWER_FACE_INSET * face_width, x1 - _LOWER_FACE_INSET * face_width),
    ] = cv2.GC_BGD
    labels[
        rows(y0 - _SEED_TOP * face_height, y0 - _SEED_BOTTOM * face_height),
        columns(x0 + _SEED_INSET * face_width, x1 - _SEED_INSET * face_width),
    ] = cv2.GC_FGD
    return labels


def worn_mask(pixels: np.ndarray, head_box: Box, face_box: Box) -> np.ndarray:
    """Return which pixels of the head box show what is worn on top of the head.

    Args:
        pixels: uint8 RGB array (H, W, 3), the upright photo of a person.
        head_box: `(x0, y0, x1, y1)` of the head region in pixels of `pixels`.
        face_box: the face in the same coordinates (`classifier.head.HeadDetection`).

    Returns:
        bool array of the head box's shape (y1 - y0, x1 - x0). It is empty
        when nothing above the face differs from the background.

    Raises:
        ValueError: `pixels` is not an (H, W, 3) array, or a box is empty.
    """
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.size == 0:
        raise ValueError(f"expected an (H, W, 3) RGB array, got shape {pixels.shape}")
    for name, (left, top, right, bottom) in (("head", head_box), ("face", face_box)):
        if right <= left or bottom <= top:
            raise ValueError(f"the {name} box {(left, top, right, bottom)} is empty")
    crop = pixels[head_box[1] : head_box[3], head_box[0] : head_box[2]]
    x0, y0 = face_box[0] - head_box[0], face_box[1] - head_box[1]
    x1, y1 = face_box[2] - head_box[0], face_box[3] - head_box[1]
    height, width = crop.shape[:2]
    scale = min(1.0, WORN_WORKING_SIDE / max(height, width))
    small: np.ndarray = np.ascontiguousarray(crop, dtype=np.uint8)
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = cv2.resize(small, size, interpolation=cv2.INTER_AREA)
    labels = _grabcut_start(skin_mask(small), (x0 * scale, y0 * scale, x1 * scale, y1 * scale))
    if (labels == cv2.GC_BGD).all():
        return np.zeros((height, width), dtype=bool)
    background_model = np.zeros((1, 65), dtype=np.float64)
    foreground_model = np.zeros((1, 65), dtype=np.float64)
    # GrabCut starts its colour models from random k-means centres. Without a
    # fixed seed, repeated calls on one photo gave different masks (6 of 6 CCP photos).
    cv2.setRNGSeed(0)
    try:
        cv2.grabCut(
            cv2.cvtColor(small, cv2.COLOR_RGB2BGR),
            labels,
            (0, 0, 0, 0),  # no rectangle: the start comes from `labels`
            background_model,
            foreground_model,
            _ITERATIONS,
            cv2.GC_INIT_WITH_MASK,
        )
    except cv2.error as error:
        # GrabCut raises when the start lacks either kind of pixel. The
        # starting labels are then the best estimate.
        logger.debug("GrabCut failed on a %dx%d head crop: %s", width, height, error)
    worn = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    if scale < 1.0:
        worn = cv2.resize(worn.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST)
    return worn.astype(bool)


def worn_pixels(image: Image.Image, head_box: Box, face_box: Box) -> np.ndarray:
    """Return what is worn on top of the head, pasted on a light grey, as uint8 (h, w, 3).

    The result is framed like a product photo: the worn pixels with a margin
    of light grey, ready for `classifier.colour.pixel_colour_features`. When
    nothing is found above the face, it is the head crop itself.

    Args:
        image: the upright photo, in any mode.
        head_box: `(x0, y0, x1, y1)` of the head region in pixels of `image`.
        face_box: the face in the same coordinates (`classifier.head.HeadDetection`).
    """
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    pixels = np.asarray(rgb)
    mask = worn_mask(pixels, head_box, face_box)
    crop = pixels[head_box[1] : head_box[3], head_box[0] : head_box[2]]
    if not mask.any():
        return crop
    return frame_on_backdrop(crop, mask)


def frame_on_backdrop(pixels: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Return the pixels under `mask` pasted on light grey and framed like a product photo.

    The frame is the mask's bounding box with a margin of light grey on every
    side, also where the mask reaches the edge of `pixels`, because the colour
    features take the border as background.

    Args:
        pixels: uint8 RGB array (H, W, 3).
        mask: bool array (H, W) with at least one true pixel.

    Returns:
        uint8 array (h, w, 3), ready for `classifier.colour.pixel_colour_features`.

    Raises:
        ValueError: the mask is empty or its shape is not (H, W).
    """
    if mask.shape != pixels.shape[:2] or not mask.any():
        raise ValueError(
            f"expected a non-empty mask of shape {pixels.shape[:2]}, got shape {mask.shape} "
            f"with {int(mask.sum())} pixels set"
        )
    rows = np.flatnonzero(mask.any(axis=1))
    columns = np.flatnonzero(mask.any(axis=0))
    margin = round(_MARGIN * max(rows[-1] - rows[0] + 1, columns[-1] - columns[0] + 1))
    pasted = np.where(mask[..., None], pixels, np.uint8(_BACKDROP)).astype(np.uint8)
    framed = pasted[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
    return np.pad(framed, ((margin, margin), (margin, margin), (0, 0)), constant_values=_BACKDROP)
