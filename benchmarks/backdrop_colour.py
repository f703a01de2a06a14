"""Measure colour accuracy on held-out product photos moved onto other backdrops.

Run from the repository root, with a trained classifier:

    .venv/bin/python benchmarks/backdrop_colour.py --classifier HOME/models/classifier

An upload of a product is not always shot on the light backdrop of the H&M
photos that the colour head learned from. This script takes the classifier's
held-out head-attire photos and keeps the pixels that `classifier.colour`
takes for the product, those that differ clearly from the border colour.
Every other pixel is replaced with a plain backdrop: near white, dark grey,
black, blue and beige. For each backdrop it prints the colour accuracy
against the catalog's labels, with a 95% bootstrap interval over product
codes, next to the accuracy on the original photos.

A product that barely differs from the new backdrop (a black hat on black) is
hard to see for any method, so the figures on dark backdrops include such
photos by design.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

# Running the file directly puts benchmarks/ on sys.path, not the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from classifier.evaluation import held_out_samples
from classifier.images import load_image
from classifier.metrics import accuracy, bootstrap_interval
from classifier.predict import HeadAttireClassifier
from classifier.taxonomy import COLOUR, TYPE

BACKDROPS: dict[str, tuple[int, int, int] | None] = {
    "original": None,
    "near white": (250, 250, 250),
    "dark grey": (60, 60, 60),
    "black": (10, 10, 10),
    "blue": (40, 70, 160),
    "beige": (200, 180, 150),
}
# The same threshold as classifier.colour: RGB distance from the border colour
# above which a pixel counts as product.
PRODUCT_DISTANCE = 40.0


def on_backdrop(pixels: np.ndarray, backdrop: tuple[int, int, int]) -> np.ndarray:
    """Return the photo with every pixel near the border colour replaced by `backdrop`."""
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    offset = pixels.astype(np.float32) - np.median(border.astype(np.float32), axis=0)
    product = np.einsum("hwc,hwc->hw", offset, offset) > PRODUCT_DISTANCE**2
    return np.where(product[..., None], pixels, np.array(backdrop, dtype=np.uint8)).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--classifier", type=Path, required=True, help="a models/classifier directory"
    )
    parser.add_argument(
        "--data", type=Path, action="append", help="catalogs it was trained on, if moved"
    )
    args = parser.parse_args()
    torch.set_num_threads(2)

    model = HeadAttireClassifier.load(args.classifier, device="cpu")
    photos = [s for s in held_out_samples(model, args.data) if s.type != TYPE.fallback]
    truth = np.asarray([COLOUR.index(sample.colour) for sample in photos])
    groups = [sample.product_code for sample in photos]
    predicted: dict[str, list[int]] = {name: [] for name in BACKDROPS}
    for sample in photos:
        pixels = np.asarray(load_image(sample.path))
        for name, backdrop in BACKDROPS.items():
            moved = pixels if backdrop is None else on_backdrop(pixels, backdrop)
            analysis = model.analyse(Image.fromarray(moved), kind="product")
            assert analysis.labels is not None  # set for every product photo
            predicted[name].append(COLOUR.index(analysis.labels.colour.name))

    print(f"colour accuracy on {len(photos)} held-out head-attire photos, {model.model_version}")
    for name, values in predicted.items():
        interval = bootstrap_interval(accuracy, truth, np.asarray(values), groups=groups)
        print(f"{name:<12} {interval.value:.3f} [{interval.low:.3f}, {interval.high:.3f}]")


if __name__ == "__main__":
    main()
