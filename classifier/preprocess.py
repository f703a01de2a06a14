"""Image preprocessing that travels with every model artifact.

A model stores its `Preprocessing` next to its weights, so inference always
applies the transform that the weights were trained or converted with.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

__all__ = ["Preprocessing"]


@dataclass(frozen=True, kw_only=True)
class Preprocessing:
    """Letterbox an RGB image to a square and normalise it per channel.

    Product photos are portrait (2:3) with the product centred on a light
    background, so the image is padded to a square with `pad_value`. A
    centre crop would cut off the crown of a hat or the ends of a scarf.

    Attributes:
        size: side of the square network input, in pixels.
        mean: per-channel mean subtracted from pixel values scaled to [0, 1].
        std: per-channel divisor applied after the mean.
        pad_value: RGB fill (0-255) of the letterbox bars.
    """

    size: int = 224
    mean: tuple[float, float, float] = (127.0 / 255.0,) * 3
    std: tuple[float, float, float] = (128.0 / 255.0,) * 3
    pad_value: tuple[int, int, int] = (255, 255, 255)

    def __post_init__(self) -> None:
        if self.size < 16:
            raise ValueError(f"preprocessing size must be at least 16 pixels, got {self.size}")
        for name in ("mean", "std", "pad_value"):
            values = getattr(self, name)
            if len(values) != 3:
                raise ValueError(f"preprocessing {name} needs 3 values (RGB), got {values}")
        if any(s <= 0 for s in self.std):
            raise ValueError(f"preprocessing std must be positive, got {self.std}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessing:
        """Rebuild the preprocessing that an artifact stored with `to_dict`."""
        return cls(
            size=int(data["size"]),
            mean=tuple(float(v) for v in data["mean"]),  # type: ignore[arg-type]
            std=tuple(float(v) for v in data["std"]),  # type: ignore[arg-type]
            pad_value=tuple(int(v) for v in data["pad_value"]),  # type: ignore[arg-type]
        )

    def letterbox(self, image: Image.Image) -> Image.Image:
        """Resize `image` to fit `size` x `size` keeping its aspect ratio, then pad."""
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        scale = self.size / max(rgb.width, rgb.height)
        width = max(1, round(rgb.width * scale))
        height = max(1, round(rgb.height * scale))
        resized = rgb.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=2.0)
        canvas = Image.new("RGB", (self.size, self.size), self.pad_value)
        canvas.paste(resized, ((self.size - width) // 2, (self.size - height) // 2))
        return canvas

    def to_array(self, image: Image.Image) -> np.ndarray:
        """Return the letterboxed image as uint8 HWC, shape (size, size, 3)."""
        return np.asarray(self.letterbox(image), dtype=np.uint8)

    def normalise(self, batch: torch.Tensor) -> torch.Tensor:
        """Turn a uint8 NHWC batch into a normalised float32 NCHW batch."""
        mean = torch.tensor(self.mean, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
        std = torch.tensor(self.std, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
        chw = batch.permute(0, 3, 1, 2).to(torch.float32)
        return (chw - mean) / std
