"""Measure colour accuracy on held-out product photos moved onto other backdrops.

Run from the repository root, with a trained classifier:

    .venv/bin/python benchmarks/backdrop_colour.py --classifier HOME/models/classifier

An upload of a product is not always shot on the light backdrop of the H&M
photos that the colour head learned from. This script takes the classifier's
held-out head-attire photos and keeps the pixels that `classifier.colour`
takes for the product, those that differ clearly from the border colour.
Every other pixel is replaced with a plain backdrop: near white, dark grey,
black, blue and beige. For each backdrop it prints the colour and type
accuracy against the catalog's labels, with 95% bootstrap intervals over
product codes, and the share of photos read as type none, next to the same
figures on the original photos.

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

from classifier.errors import ModelLoadError
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


def measure(args: argparse.Namespace) -> None:
    """Print the figures described in the module docstring."""
    model = HeadAttireClassifier.load(args.classifier, device="cpu")
    photos = [s for s in held_out_samples(model, args.data) if s.type != TYPE.fallback]
    truth = {
        "colour": np.asarray([COLOUR.index(sample.colour) for sample in photos]),
        "type": np.asarray([TYPE.index(sample.type) for sample in photos]),
    }
    groups = [sample.product_code for sample in photos]
    predicted: dict[str, dict[str, list[int]]] = {
        name: {"colour": [], "type": []} for name in BACKDROPS
    }
    for sample in photos:
        pixels = np.asarray(load_image(sample.path))
        for name, backdrop in BACKDROPS.items():
            moved = pixels if backdrop is None else on_backdrop(pixels, backdrop)
            analysis = model.analyse(Image.fromarray(moved), kind="product")
            assert analysis.labels is not None  # set for every product photo
            predicted[name]["colour"].append(COLOUR.index(analysis.labels.colour.name))
            predicted[name]["type"].append(TYPE.index(analysis.labels.type.name))

    print(f"{len(photos)} held-out head-attire photos, {model.model_version}")
    print(f"{'backdrop':<12} {'colour [95% interval]':<24} {'type [95% interval]':<24} none")
    none = TYPE.index(TYPE.fallback)
    for name, values in predicted.items():
        cells = []
        for task in ("colour", "type"):
            interval = bootstrap_interval(
                accuracy, truth[task], np.asarray(values[task]), groups=groups
            )
            cells.append(f"{interval.value:.3f} [{interval.low:.3f}, {interval.high:.3f}]")
        read_as_none = float(np.mean(np.asarray(values["type"]) == none))
        print(f"{name:<12} {cells[0]:<24} {cells[1]:<24} {read_as_none:.3f}")


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
    try:
        measure(args)
    except (ModelLoadError, ValueError, OSError) as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
