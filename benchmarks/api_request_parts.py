"""CPU time of the parts of an API request, measured in-process with one thread.

Run from the repository root:

    .venv/bin/python benchmarks/api_request_parts.py --home HOME \\
        --photos ../shared/data/ccp/photos --count 60

For "shop this look" it times, on the first `--count` photos (sorted by
name): decoding, the face cascade of `classifier.head` at several working
sides (with how many photos got a face), and the embedding of the head
crop. For recommendations it times the recommender's `recommend` and the
catalog lookups and labels of its 12 items (`item_public_list`) over the
first 200 shoppers the ranker learned from, each once. All figures are CPU
milliseconds per call (`time.process_time`), so they count this process's
work and not the time it waited for a core on a loaded machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TypeVar

import cv2
import torch
from threadpoolctl import threadpool_limits

# Running the file directly puts benchmarks/ on sys.path, not the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy.orm import Session

from catalog.settings import Settings
from classifier.head import WORKING_SIDE, detect_head
from classifier.images import load_image
from recsys.api.photo_analysis import LOOK_DETECTION_SIDE
from recsys.api.routes.items import item_public_list
from recsys.api.state import load_state

T = TypeVar("T")


def cpu_ms(work: Callable[[T], object], inputs: Sequence[T]) -> float:
    """Return the mean CPU milliseconds of `work` over `inputs`, after one warm-up call."""
    work(inputs[0])
    started = time.process_time()
    for value in inputs:
        work(value)
    return 1000.0 * (time.process_time() - started) / len(inputs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="data directory to load")
    parser.add_argument("--photos", type=Path, required=True, help="directory of street photos")
    parser.add_argument("--count", type=int, default=60, help="photos to time (default: 60)")
    args = parser.parse_args()

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    threadpool_limits(1)
    state = load_state(Settings.from_env(home=args.home))

    paths = sorted(args.photos.glob("*.jpg"))[: args.count]
    data = [path.read_bytes() for path in paths]
    images = [load_image(blob) for blob in data]
    print(f"| look part ({len(paths)} photos) | CPU ms per photo | photos with a face |")
    print("|---|---:|---:|")
    print(f"| decode | {cpu_ms(load_image, data):.1f} | |")
    for side in sorted({WORKING_SIDE, LOOK_DETECTION_SIDE, 400}, reverse=True):
        found = sum(detect_head(image, working_side=side) is not None for image in images)
        cost = cpu_ms(partial(detect_head, working_side=side), images)
        print(f"| face cascade, working side {side} | {cost:.1f} | {found} |")
    crops = []
    for image in images:
        detection = detect_head(image, working_side=LOOK_DETECTION_SIDE)
        crops.append(image.crop(detection.box) if detection else image)
    embedding = cpu_ms(lambda crop: state.embedder.embed([crop]), crops)
    print(f"| embedding of the head crop | {embedding:.1f} | |")

    recommender = state.recommender
    shoppers = state.ranker.user_ids[:200]

    def recommend(customer_id: str) -> list[tuple[str, float]]:
        ranked = recommender.recommend(
            customer_id, 12, exclude_bought=False, product_type=None, department=None
        )
        return [(item.article_id, item.score) for item in ranked.items]

    lists = {customer_id: recommend(customer_id) for customer_id in shoppers}
    with Session(state.engine) as session:
        lookups = cpu_ms(lambda c: item_public_list(session, lists[c]), shoppers)
    print()
    print(f"| recommendation part ({len(shoppers)} shoppers) | CPU ms per request |")
    print("|---|---:|")
    print(f"| Recommender.recommend (k=12) | {cpu_ms(recommend, shoppers):.1f} |")
    print(f"| catalog lookups and labels of the 12 items | {lookups:.1f} |")


if __name__ == "__main__":
    main()
