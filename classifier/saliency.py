"""Grad-CAM on the last convolution block: where the classifier looked.

The heads see the pooled output of the backbone's last convolution, so the
gradient of a class score with respect to that (1280, 7, 7) feature map, averaged
over space, weights each channel's map. Their weighted sum, clipped at zero, is
the class activation map.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from classifier.backbone import Lite0Features
from classifier.colour import pixel_colour_features
from classifier.heads import AttireHeads
from classifier.preprocess import Preprocessing

__all__ = ["grad_cam", "overlay"]


def grad_cam(
    network: Lite0Features,
    heads: AttireHeads,
    preprocessing: Preprocessing,
    image: Image.Image,
    *,
    task: str = "type",
    label_index: int | None = None,
) -> tuple[np.ndarray, int]:
    """Return the class activation map of one image and the class it explains.

    Args:
        label_index: the class to explain; the predicted class when None.

    Returns:
        (heat, label_index): heat is float32 (size, size) in 0..1 over the
        letterboxed network input, where size is `preprocessing.size`.

    Raises:
        ValueError: `task` is "colour", whose head reads the pixel colour
            features and not the network, so no map explains it.
    """
    if task == "colour":
        raise ValueError(
            "the colour head reads pixel colour features, not the network: "
            "explain type, pattern or material instead"
        )
    pixels = torch.from_numpy(np.array(preprocessing.to_array(image)[None]))
    colour = torch.from_numpy(pixel_colour_features(np.asarray(image))[None])
    inputs = preprocessing.normalise(pixels)
    with torch.enable_grad():
        feature_map = network.network.extract_features(inputs)  # type: ignore[operator]
        feature_map.retain_grad()
        pooled = torch.flatten(network.pool(feature_map), 1)
        logits, _ = heads(pooled, colour)
        scores = logits[task][0]
        chosen = int(scores.argmax()) if label_index is None else label_index
        scores[chosen].backward()
    gradient = feature_map.grad
    if gradient is None:
        raise RuntimeError("no gradient reached the feature map")
    weights = gradient.mean(dim=(2, 3), keepdim=True)
    heat = torch.relu((weights * feature_map).sum(1))[0].detach()
    heat = heat / heat.max().clamp_min(1e-12)
    size = preprocessing.size
    upsampled = torch.nn.functional.interpolate(
        heat[None, None], size=(size, size), mode="bilinear", align_corners=False
    )[0, 0]
    return upsampled.numpy().astype(np.float32), chosen


def overlay(image: Image.Image, heat: np.ndarray, preprocessing: Preprocessing) -> Image.Image:
    """Blend a heat map (size, size) in 0..1 over the letterboxed image, in red."""
    base = np.asarray(preprocessing.letterbox(image), dtype=np.float32)
    red = np.zeros_like(base)
    red[..., 0] = 255.0
    alpha = 0.6 * heat[..., None]
    blended = base * (1 - alpha) + red * alpha
    return Image.fromarray(np.clip(blended, 0, 255).astype(np.uint8))
