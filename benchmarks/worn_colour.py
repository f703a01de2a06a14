"""Measure the colour of hats worn in CCP street photos against labels given by eye.

Run from the repository root, with a trained classifier:

    .venv/bin/python benchmarks/worn_colour.py --classifier HOME/models/classifier

The labels (`tests/classifier/data/ccp_hat_colours.csv`) give the colour of
the hat in 61 of the 83 CCP hat photos with pixel masks, as one of the H&M
colour names. They were judged by eye, on the hat cut out by its mask and on
the photo around it. The other 22 were left out because no single name fits them:
prints and checks, two-coloured hats, shades between two names, or a hat
that is barely visible.

For each labelled photo the script prints the accuracy, with a 95% bootstrap
interval, of the colour read from:

- `whole crop`: the pixel colour features of the whole head crop, as before
  `classifier.worn` existed;
- `worn pixels`: `HeadAttireClassifier.analyse(kind="person")`, which reads
  the colour from the pixels that `classifier.worn` cuts out;
- `hand mask`: the hat pixels of the CCP mask, pasted on the same light grey.
  This is the best that the colour head can do with a perfect cut-out.

It also prints the overlap (intersection over union, within the head box) of
the cut-out with the hand-drawn hat mask, and the seconds per photo that
`worn_pixels` takes on one core. Photos where no face is found are classified
from the top-centre region and counted in the first two rows.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import scipy.io
import torch

# Running the file directly puts benchmarks/ on sys.path, not the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from classifier.colour import pixel_colour_features
from classifier.errors import ModelLoadError
from classifier.hat_presence import fallback_head_box
from classifier.head import detect_head
from classifier.images import load_image
from classifier.metrics import accuracy, bootstrap_interval
from classifier.predict import HeadAttireClassifier
from classifier.taxonomy import COLOUR
from classifier.worn import frame_on_backdrop, worn_mask, worn_pixels

REPOSITORY = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPOSITORY.parent / "shared" / "data"
DEFAULT_LABELS = REPOSITORY / "tests" / "classifier" / "data" / "ccp_hat_colours.csv"
# Label 20 of the CCP label list is "hat".
HAT = 20


def read_labels(path: Path) -> dict[str, str]:
    """Return the colour name by CCP photo id.

    Raises:
        OSError: the file cannot be read.
        ValueError: the columns `photo` and `colour` are missing, no row is
            given, or a colour name is not in `classifier.taxonomy.COLOUR`.
    """
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if not {"photo", "colour"} <= set(reader.fieldnames or ()):
            raise ValueError(f"{path}: expected the columns photo,colour, got {reader.fieldnames}")
        labels = {row["photo"]: row["colour"] for row in reader}
    if not labels:
        raise ValueError(f"{path}: no labelled photos: add rows of photo,colour")
    unknown = sorted({name for name in labels.values() if name not in COLOUR})
    if unknown:
        raise ValueError(f"{path}: unknown colour names {unknown}: use names from {COLOUR.names}")
    return labels


def hat_mask(ccp_dir: Path, photo: str) -> np.ndarray:
    """Return the hat pixels of a CCP photo's pixel-level mask, bool (H, W).

    Raises:
        ValueError: the photo has no pixel-level mask, or no hat in it.
    """
    mask_file = ccp_dir / "annotations" / f"{photo}.mat"
    if not mask_file.is_file():
        raise ValueError(f"CCP photo {photo} has no mask file {mask_file}: label photos with masks")
    annotation = scipy.io.loadmat(str(mask_file))
    if "groundtruth" not in annotation:
        raise ValueError(f"CCP photo {photo} has image-level tags only: label photos with masks")
    hat = np.asarray(annotation["groundtruth"]) == HAT
    if not hat.any():
        raise ValueError(f"CCP photo {photo} has no hat pixels in its mask: label hat photos only")
    return hat


def measure(args: argparse.Namespace) -> None:
    """Print the figures described in the module docstring."""
    labels = read_labels(args.labels)
    model = HeadAttireClassifier.load(args.classifier, device="cpu")
    heads = model.artifact.heads

    def colour_of(pixels: np.ndarray) -> int:
        features = torch.from_numpy(pixel_colour_features(pixels)[None])
        with torch.inference_mode():
            return int(heads.colour_logits(features).argmax())

    truth, whole, worn, hand = [], [], [], []
    overlaps, seconds = [], []
    for photo, name in sorted(labels.items()):
        hat = hat_mask(args.data / "ccp", photo)
        image = load_image(args.data / "ccp" / "photos" / f"{photo}.jpg")
        pixels = np.asarray(image)
        detection = detect_head(image)
        box = detection.box if detection is not None else fallback_head_box(image)
        truth.append(COLOUR.index(name))
        whole.append(colour_of(np.asarray(image.crop(box))))
        analysis = model.analyse(image, kind="person")
        assert analysis.labels is not None  # set for every photo of a person
        worn.append(COLOUR.index(analysis.labels.colour.name))
        hand.append(colour_of(frame_on_backdrop(pixels, hat)))
        if detection is not None:
            started = time.perf_counter()
            worn_pixels(image, detection.box, detection.face_box)
            seconds.append(time.perf_counter() - started)
            cut = worn_mask(pixels, detection.box, detection.face_box)
            x0, y0, x1, y1 = detection.box
            drawn = hat[y0:y1, x0:x1]
            overlaps.append(float((cut & drawn).sum() / max(1, (cut | drawn).sum())))

    print(f"{len(truth)} hat photos labelled by eye, a face found in {len(seconds)}")
    print(f"{'colour read from':<16} {'accuracy [95% interval]':>28}")
    for title, predicted in (("whole crop", whole), ("worn pixels", worn), ("hand mask", hand)):
        interval = bootstrap_interval(accuracy, np.asarray(truth), np.asarray(predicted))
        print(f"{title:<16} {interval.value:>8.3f} [{interval.low:.3f}, {interval.high:.3f}]")
    if seconds:
        print(f"cut-out against the hand mask, mean overlap (IoU): {np.mean(overlaps):.3f}")
        print(f"worn_pixels per photo: {1000 * np.median(seconds):.1f} ms median, one core")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--classifier", type=Path, required=True, help="a models/classifier directory"
    )
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="directory that contains ccp/"
    )
    parser.add_argument("--labels", type=Path, default=DEFAULT_LABELS, help="photo,colour CSV")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    try:
        measure(args)
    except (ModelLoadError, ValueError, OSError) as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
