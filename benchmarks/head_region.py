"""Measure head-region detection on the CCP street photos and H&M product photos.

Run from the repository root:

    .venv/bin/python benchmarks/head_region.py

The script reads `ccp/` and `hm-week/` under --data and prints:

- the share of the CCP photos, and of the hat photos, where a face is found;
- on photos with pixel masks, the share where the chosen face is correct: its
  centre lies on the head (see `face_is_correct`) rather than on the background
  or the clothes;
- on hat photos with pixel masks, the share of hat pixels inside the head box
  (a photo without a detection counts as 0) and the head box's share of the image;
- detection seconds per photo (wall clock and CPU), with image decoding excluded,
  and with --baseline the CPU seconds of the default frontal cascade at full
  resolution on the same photos, for comparison;
- the share of --products H&M product photos that `looks_like_person` takes for
  a person (false positives), on a fixed random sample.

OpenCV runs on one thread so that the timings are per core.
"""

from __future__ import annotations

import argparse
import csv
import functools
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import cv2.data
import numpy as np
import scipy.io
from PIL import Image

# Running the file directly puts benchmarks/ on sys.path, not the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from classifier.head import WORKING_SIDE, HeadDetection, detect_head, looks_like_person
from classifier.images import load_image

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# Label numbers of the CCP label list (line n of label_list.txt is label n - 1).
GLASSES, HAIR, HAT, SKIN, SUNGLASSES = 17, 19, 20, 41, 47
HEAD_TOP_LABELS = (GLASSES, HAIR, HAT, SUNGLASSES)
FACE_LABELS = (GLASSES, HAIR, SKIN, SUNGLASSES)
BASELINE_CASCADE = "haarcascade_frontalface_default.xml"


@dataclass(frozen=True)
class StreetPhoto:
    """One CCP photo and its labels."""

    photo_id: str
    path: Path
    has_hat: bool
    mask_path: Path | None


@dataclass
class StreetResult:
    """Detection result for one CCP photo."""

    photo: StreetPhoto
    detection: HeadDetection | None
    wall_seconds: float
    cpu_seconds: float
    baseline_cpu_seconds: float | None = None
    face_correct: bool | None = None
    hat_coverage: float | None = None
    box_area_share: float | None = None


def read_street_photos(ccp_dir: Path) -> list[StreetPhoto]:
    """Read `labels.csv` of a CCP directory, in file order."""
    photos = []
    with (ccp_dir / "labels.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            pixel_level = row["annotation"] == "pixel-level"
            photos.append(
                StreetPhoto(
                    photo_id=row["photo"],
                    path=ccp_dir / "photos" / f"{row['photo']}.jpg",
                    has_hat=row["hat"] == "1",
                    mask_path=ccp_dir / "annotations" / f"{row['photo']}.mat"
                    if pixel_level
                    else None,
                )
            )
    return photos


def face_is_correct(face_box: tuple[int, int, int, int], labels: np.ndarray) -> bool:
    """Return whether a face box lies on the person's head in a CCP label map.

    The head top is the bounding box of hair, hat and glasses pixels. The face
    box's centre must lie within the head top's columns, and no lower than two
    head-top widths below its upper edge. At least half of the middle of the
    face box (the central half in each direction) must be skin, hair or glasses.
    This rejects a box on a hand, a bag or the background.
    """
    rows, columns = np.nonzero(np.isin(labels, HEAD_TOP_LABELS))
    if rows.size == 0:
        return False
    left, right, top = columns.min(), columns.max() + 1, rows.min()

    x0, y0, x1, y1 = face_box
    centre_x = (x0 + x1) / 2
    centre_y = (y0 + y1) / 2
    if not (left <= centre_x <= right and top <= centre_y <= top + 2 * (right - left)):
        return False

    quarter_width = (x1 - x0) // 4
    quarter_height = (y1 - y0) // 4
    middle = labels[
        y0 + quarter_height : y1 - quarter_height, x0 + quarter_width : x1 - quarter_width
    ]
    return middle.size > 0 and bool(np.isin(middle, FACE_LABELS).mean() >= 0.5)


@functools.cache
def baseline_cascade() -> cv2.CascadeClassifier:
    """Load the default frontal cascade once."""
    return cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / BASELINE_CASCADE))


def time_baseline(image: Image.Image) -> float:
    """Return the CPU seconds that the default frontal cascade takes on the full image."""
    cascade = baseline_cascade()
    grey = np.asarray(image.convert("L"))
    started = time.process_time()
    cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5)
    return time.process_time() - started


def measure_street_photo(
    photo: StreetPhoto, working_side: int, *, baseline: bool = False
) -> StreetResult:
    """Detect the head in one CCP photo and score it against the mask, if any."""
    image = load_image(photo.path)
    started_wall = time.perf_counter()
    started_cpu = time.process_time()
    detection = detect_head(image, working_side=working_side)
    result = StreetResult(
        photo=photo,
        detection=detection,
        wall_seconds=time.perf_counter() - started_wall,
        cpu_seconds=time.process_time() - started_cpu,
    )
    if baseline:
        result.baseline_cpu_seconds = time_baseline(image)
    if photo.mask_path is None:
        return result

    labels = np.asarray(scipy.io.loadmat(str(photo.mask_path))["groundtruth"])
    result.face_correct = detection is not None and face_is_correct(detection.face_box, labels)
    hat = labels == HAT
    if photo.has_hat and hat.any():
        result.hat_coverage = 0.0
        if detection is not None:
            x0, y0, x1, y1 = detection.box
            result.hat_coverage = float(hat[y0:y1, x0:x1].sum() / hat.sum())
            result.box_area_share = (x1 - x0) * (y1 - y0) / hat.size
    return result


def sample_products(hm_dir: Path, count: int, seed: int) -> list[Path]:
    """Draw `count` product photos from `images/`, the same ones for the same seed."""
    paths = sorted((hm_dir / "images").glob("*.jpg"))
    return random.Random(seed).sample(paths, min(count, len(paths)))


def print_street_report(results: list[StreetResult]) -> None:
    """Print detection, correctness, hat coverage and timing figures."""
    hat_results = [result for result in results if result.photo.has_hat]
    masked = [result for result in results if result.face_correct is not None]
    coverages = [result.hat_coverage for result in results if result.hat_coverage is not None]
    areas = [result.box_area_share for result in results if result.box_area_share is not None]

    def found(subset: list[StreetResult]) -> str:
        count = sum(result.detection is not None for result in subset)
        return f"{count}/{len(subset)} = {count / len(subset):.1%}"

    correct = sum(bool(result.face_correct) for result in masked)
    print(f"face found, all photos:         {found(results)}")
    print(f"face found, hat photos:         {found(hat_results)}")
    print(f"correct face, photos with masks: {correct}/{len(masked)} = {correct / len(masked):.1%}")
    print(f"hat photos with masks:          {len(coverages)}")
    print(
        f"  hat pixels inside head box:   mean {statistics.mean(coverages):.3f}, "
        f"median {statistics.median(coverages):.3f}"
    )
    covered = sum(coverage >= 0.9 for coverage in coverages)
    print(
        f"  photos with >= 90% covered:   {covered}/{len(coverages)} = "
        f"{covered / len(coverages):.1%}"
    )
    print(
        f"  head box share of image:      mean {statistics.mean(areas):.3f} "
        f"({len(areas)} photos with a detection)"
    )
    wall = statistics.mean(result.wall_seconds for result in results)
    cpu = statistics.mean(result.cpu_seconds for result in results)
    print(f"detection seconds per photo:    {wall:.3f} wall, {cpu:.3f} CPU")
    baselines = [
        result.baseline_cpu_seconds for result in results if result.baseline_cpu_seconds is not None
    ]
    if baselines:
        print(f"default frontal cascade at full resolution: {statistics.mean(baselines):.3f} CPU")


def print_product_report(paths: list[Path]) -> None:
    """Print the share of product photos taken for a person, and their ids."""
    people = []
    started = time.perf_counter()
    for path in paths:
        if looks_like_person(load_image(path)):
            people.append(path.stem)
    seconds = (time.perf_counter() - started) / len(paths)
    print(
        f"product photos taken for people: {len(people)}/{len(paths)} = "
        f"{len(people) / len(paths):.1%} ({seconds:.3f} s a photo, decoding included)"
    )
    if people:
        print(f"  article ids: {' '.join(sorted(people))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        help="directory that contains ccp/ and hm-week/ (default: ../shared/data)",
    )
    parser.add_argument(
        "--products", type=int, default=300, help="H&M product photos to check (default: 300)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the product photo sample")
    parser.add_argument(
        "--working-side",
        type=int,
        default=WORKING_SIDE,
        help=f"longer side in pixels that detection runs at (default: {WORKING_SIDE})",
    )
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="also time the default frontal cascade at full resolution on each photo",
    )
    args = parser.parse_args()
    cv2.setNumThreads(1)

    photos = read_street_photos(args.data / "ccp")
    results = [
        measure_street_photo(photo, args.working_side, baseline=args.baseline) for photo in photos
    ]
    print(f"CCP street photos under {args.data / 'ccp'}, working side {args.working_side} px")
    print_street_report(results)
    if args.products > 0:
        print_product_report(sample_products(args.data / "hm-week", args.products, args.seed))


if __name__ == "__main__":
    main()
