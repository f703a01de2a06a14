"""Colour features measured on the product's own pixels.

Product photos show the article on a light, nearly uniform background. The
background colour is estimated from the image border, every pixel that differs
from it clearly is taken as the product, and the colour of those pixels is
summarised as a coarse RGB histogram plus their mean CIELAB colour. Nothing
here changes hue or saturation, so the features are safe inputs for the colour
head.
"""

from __future__ import annotations

import numpy as np

__all__ = ["COLOUR_FEATURE_DIM", "pixel_colour_features"]

_BINS = 4
# Euclidean RGB distance (0-255 scale) from the background colour above which a
# pixel counts as product. The value is a judgement, chosen well above JPEG noise
# and soft shadows on the H&M backdrop, and was not tuned.
_FOREGROUND_DISTANCE = 40.0
# With fewer product pixels than this share the histogram is all noise, so the
# whole image is used instead (a white item on white).
_MIN_FOREGROUND_SHARE = 0.01

COLOUR_FEATURE_DIM = _BINS**3 + 3 + 1


def _srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """Convert (N, 3) sRGB values in 0..1 to CIELAB (D65 white), as (L/100, a/128, b/128)."""
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    matrix = np.array(
        [
            [0.4124564, 0.3575761, 0.1804375],
            [0.2126729, 0.7151522, 0.0721750],
            [0.0193339, 0.1191920, 0.9503041],
        ]
    )
    xyz = linear @ matrix.T / np.array([0.95047, 1.0, 1.08883])
    delta = 6.0 / 29.0
    f = np.where(xyz > delta**3, np.cbrt(xyz), xyz / (3 * delta**2) + 4.0 / 29.0)
    lightness = 116.0 * f[:, 1] - 16.0
    a = 500.0 * (f[:, 0] - f[:, 1])
    b = 200.0 * (f[:, 1] - f[:, 2])
    return np.stack([lightness / 100.0, a / 128.0, b / 128.0], axis=1)


def pixel_colour_features(pixels: np.ndarray) -> np.ndarray:
    """Summarise the colour of the product in a photo on a light background.

    Args:
        pixels: uint8 array (H, W, 3), RGB, the photo before letterboxing.

    Returns:
        float32 array (COLOUR_FEATURE_DIM,): a 4x4x4 RGB histogram of the
        product pixels (summing to 1), their mean CIELAB colour (L/100, a/128,
        b/128) and the share of the image they cover.

    Raises:
        ValueError: `pixels` is not an (H, W, 3) array.
    """
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.size == 0:
        raise ValueError(f"expected an (H, W, 3) RGB array, got shape {pixels.shape}")
    rgb = pixels.astype(np.float32)
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    background = np.median(border, axis=0)
    distance = np.linalg.norm(rgb - background, axis=2)
    mask = distance > _FOREGROUND_DISTANCE
    share = float(mask.mean())
    product = rgb[mask] if share >= _MIN_FOREGROUND_SHARE else rgb.reshape(-1, 3)

    bins = np.clip((product * (_BINS / 256.0)).astype(np.int64), 0, _BINS - 1)
    codes = bins[:, 0] * _BINS * _BINS + bins[:, 1] * _BINS + bins[:, 2]
    histogram = np.bincount(codes, minlength=_BINS**3).astype(np.float32)
    histogram /= max(float(histogram.sum()), 1.0)
    lab = _srgb_to_lab(product / 255.0).mean(axis=0).astype(np.float32)
    return np.concatenate([histogram, lab, np.array([share], dtype=np.float32)])
