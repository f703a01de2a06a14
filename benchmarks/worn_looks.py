"""Count the head attire that "shop this look" returns for CCP street photos with a hat.

Run from the repository root, on a home with an index, a ranker and a trained
classifier (for example a quickstart run after the classifier was published):

    .venv/bin/python benchmarks/worn_looks.py --home HOME [--photos 40] [--k 12]

For each of the first --photos CCP photos labelled with a hat, the script
sends the photo to `POST /v1/looks?kind=person` of an in-process app and
counts the returned items whose catalog product type is head attire. It
prints that count next to the count among the plain nearest neighbours of
the same search vector in the index, which is what the endpoint returned
before it searched the type worn apart.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

# Running the file directly puts benchmarks/ on sys.path, not the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from catalog.queries import item_cards
from catalog.settings import Settings
from classifier.images import load_image
from classifier.taxonomy import TYPE, type_from_product_type
from recsys.api import create_app
from recsys.api.photo_analysis import analyse_photo
from recsys.api.state import ServingState, load_state

DEFAULT_CCP = Path(__file__).resolve().parents[2] / "shared" / "data" / "ccp"


def head_attire_count(state: ServingState, article_ids: list[str]) -> int:
    """Return how many of the items are head attire by their catalog product type."""
    with Session(state.engine) as session:
        cards = item_cards(session, article_ids=article_ids)
    return sum(
        type_from_product_type(cards[article_id].item.product_type) != TYPE.fallback
        for article_id in article_ids
        if article_id in cards
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="milliner data directory")
    parser.add_argument("--ccp", type=Path, default=DEFAULT_CCP, help="the CCP directory")
    parser.add_argument("--photos", type=int, default=40, help="hat photos to send")
    parser.add_argument("--k", type=int, default=12, help="items a look returns")
    args = parser.parse_args()

    settings = Settings(home=args.home, database_url=f"sqlite:///{args.home / 'milliner.db'}")
    state = load_state(settings)
    if state.classifier is None:
        sys.exit(f"error: no classifier loaded under {args.home}: {state.classifier_error}")
    with (args.ccp / "labels.csv").open(newline="") as handle:
        photos = [row["photo"] for row in csv.DictReader(handle) if row["hat"] == "1"]
    photos = photos[: args.photos]

    nearest = returned = total = 0
    with TestClient(create_app(settings, state=state)) as client:
        for photo in photos:
            path = args.ccp / "photos" / f"{photo}.jpg"
            analysis = analyse_photo(state, load_image(path), kind="person")
            plain = [article_id for article_id, _ in state.live.search(analysis.vector, args.k)]
            response = client.post(
                f"/v1/looks?k={args.k}&kind=person",
                files={"photo": (path.name, path.read_bytes(), "image/jpeg")},
            )
            response.raise_for_status()
            items = [item["article_id"] for item in response.json()["items"]]
            nearest += head_attire_count(state, plain)
            returned += head_attire_count(state, items)
            total += len(items)
    print(f"{len(photos)} CCP hat photos, {args.k} items each, {state.classifier_version}")
    print(f"head attire among the plain nearest neighbours: {nearest} of {total}")
    print(f"head attire among the items /v1/looks returns:  {returned} of {total}")


if __name__ == "__main__":
    main()
