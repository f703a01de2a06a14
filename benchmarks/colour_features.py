"""Time the pixel colour features per photo, one core, on real product photos.

Usage:
    .venv/bin/python benchmarks/colour_features.py --images ../shared/data/hm-2y \
        [--photos 200] [--repeat 3]

Every n-th photo of the catalog is decoded first, so only
`classifier.colour.pixel_colour_features` is timed. The best of `--repeat`
passes is printed, in milliseconds per photo. To compare two versions of the
code, run the script from a checkout of each on the same machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# One core: the features run in one thread of the indexing pipeline.
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from classifier.colour import COLOUR_FEATURE_DIM, pixel_colour_features
from classifier.images import load_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, required=True, help="catalog directory (images/)")
    parser.add_argument("--photos", type=int, default=200, help="photos to time")
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed passes, of which the best is printed"
    )
    args = parser.parse_args()
    if args.photos < 1 or args.repeat < 1:
        parser.error("--photos and --repeat must be at least 1")
    paths = sorted((args.images / "images").glob("*.jpg"))
    if not paths:
        parser.error(f"no .jpg photos under {args.images / 'images'}: pass a catalog directory")
    step = max(1, len(paths) // args.photos)
    pixels = [np.asarray(load_image(path)) for path in paths[::step][: args.photos]]
    best = float("inf")
    for _ in range(args.repeat):
        started = time.perf_counter()
        for photo in pixels:
            pixel_colour_features(photo)
        best = min(best, (time.perf_counter() - started) / len(pixels))
    height, width = pixels[0].shape[:2]
    print(
        f"{len(pixels)} photos of {args.images.name} (first {width}x{height}), "
        f"{COLOUR_FEATURE_DIM} features: {best * 1000:.2f} ms a photo, best of {args.repeat}"
    )


if __name__ == "__main__":
    main()
