"""Training augmentation that keeps the colours of the photo.

The colour head learns from these views, so the transforms are geometric
(rotation, scale, crop, flip) plus mild sensor noise. None of them changes hue
or saturation. Letterbox bars and the corners uncovered by a rotation are
filled with the background colour of the photo.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

__all__ = ["AugmentationConfig", "augment"]


@dataclass(frozen=True, kw_only=True)
class AugmentationConfig:
    """Ranges of the random transforms.

    Attributes:
        max_rotation: largest rotation either way, in degrees.
        min_area: smallest share of the image area that a random crop keeps.
        flip_probability: chance of a horizontal mirror.
        noise_std: standard deviation of additive Gaussian noise, in 0-255 units.
    """

    max_rotation: float = 12.0
    min_area: float = 0.75
    flip_probability: float = 0.5
    noise_std: float = 4.0


def _border_colour(image: Image.Image) -> tuple[int, int, int]:
    pixels = np.asarray(image)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    red, green, blue = np.median(border, axis=0).astype(int).tolist()
    return (red, green, blue)


def augment(
    image: Image.Image, rng: random.Random, config: AugmentationConfig | None = None
) -> Image.Image:
    """Return a randomly rotated, scaled, cropped, mirrored and noisy copy of an RGB image.

    The result has the size of the crop, not of the input: the letterbox of the
    preprocessing brings it to the network size afterwards.
    """
    config = config or AugmentationConfig()
    fill = _border_colour(image)

    if rng.random() < config.flip_probability:
        image = ImageOps.mirror(image)

    angle = rng.uniform(-config.max_rotation, config.max_rotation)
    image = image.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=fill)

    area = rng.uniform(config.min_area, 1.0)
    side = area**0.5
    width = max(1, round(image.width * side))
    height = max(1, round(image.height * side))
    left = rng.randint(0, image.width - width)
    top = rng.randint(0, image.height - height)
    image = image.crop((left, top, left + width, top + height))

    if config.noise_std > 0:
        noise_rng = np.random.default_rng(rng.getrandbits(64))
        noisy = np.asarray(image, dtype=np.float32) + noise_rng.normal(
            0.0, config.noise_std, size=(height, width, 3)
        )
        image = Image.fromarray(np.clip(np.rint(noisy), 0, 255).astype(np.uint8))
    return image
