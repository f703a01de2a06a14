"""Compare the served blend's weights with the best weights in hindsight, chosen on the test window.

Run from the repository root on a data directory with a catalog, an index and purchases:

    MILLINER_HOME=/path/to/home .venv/bin/python benchmarks/blend_ceiling.py

The script splits the purchases at the default cut of `milliner evaluate`
and trains the hybrid and the purchases-only LightFM on the purchases before
it, on one thread so that a run repeats exactly. It prints MAP@12 on the
returning test shoppers for the baselines and for the blend with three sets
of weights. The first are the defaults, the second those `milliner evaluate`
chooses on its validation window. The third are the weights of the grid that
score best on the test window itself.
The last row chooses on the test, so it is no result. It is the most any
weights of the grid could reach with these signals, which shows whether a
goal stated relative to the best baseline can be reached by tuning at all.

All blend rows leave out the places reserved for never-bought items, as the
grid search does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

# Running the file directly puts benchmarks/ on sys.path, not the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from catalog.db import create_db_engine
from catalog.indexing import load_item_embeddings
from catalog.settings import Settings
from recsys.blending import WEIGHT_GRID, choose_blend_weights, tune_blend_weights
from recsys.data import build_item_features, load_items, load_purchases
from recsys.errors import ArtifactMissingError
from recsys.evaluation import split_by_time
from recsys.metrics import average_precision_at_k
from recsys.ranker import TrainingConfig, train_ranker
from recsys.rankers import build_rankers
from recsys.recommend import BlendWeights, Recommender, top_k_columns
from recsys.similarity import SimilarityIndex


def _single(weights: BlendWeights) -> dict[str, tuple[float, ...]]:
    return {name: (value,) for name, value in weights.as_dict().items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=12, help="list length (default: 12)")
    parser.add_argument("--seed", type=int, default=7, help="LightFM seed (default: 7)")
    args = parser.parse_args()

    settings = Settings.from_env()
    engine = create_db_engine(settings.database_url)
    try:
        index = SimilarityIndex.load(settings.index_dir)
    except ArtifactMissingError as error:
        sys.exit(f"{error}")
    items = load_items(engine)
    purchases = load_purchases(engine)
    if purchases.empty:
        sys.exit("the catalog has no purchases: run `milliner import --data DIR` first")
    article_ids, vectors = load_item_embeddings(engine, index.model_version)
    config = TrainingConfig(seed=args.seed, threads=1)
    features = build_item_features(items, article_ids, vectors, seed=config.seed)

    train, test, cut = split_by_time(purchases)
    window_days = (max(purchases["purchased_on"]) - cut).days + 1
    hybrid = train_ranker(train, features, config=config)
    purchases_only = train_ranker(train, {a: [] for a in features}, config=config)
    recommender = Recommender.from_artifacts(hybrid, index, items, train)

    relevant_by_shopper = test.groupby("customer_id")["article_id"].agg(set)
    shoppers = [str(s) for s in relevant_by_shopper.index if recommender.has_history(str(s))]
    relevant = [relevant_by_shopper[s] for s in shoppers]
    if not shoppers:
        sys.exit(f"no test shopper bought anything before the cut {cut}: nothing to compare")
    print(
        f"cut {cut}: {len(shoppers)} returning test shoppers of {len(relevant_by_shopper)}, "
        f"{len(recommender.item_ids)} items; MAP@{args.k} on the returning shoppers"
    )

    rows: list[tuple[str, float]] = []
    specs = build_rankers(
        recommender,
        index,
        purchases_only,
        k=args.k,
        popularity_window_days=config.popularity_window_days,
    )
    for spec in specs:
        if spec.name == "blend":
            continue
        top = top_k_columns(spec.score(shoppers), args.k)
        lists = [[recommender.item_ids[c] for c in row if c >= 0] for row in top]
        rows.append((spec.name, float(np.mean(average_precision_at_k(lists, relevant, k=args.k)))))
    best_baseline = max(rows, key=lambda row: row[1])

    validated, report = choose_blend_weights(
        train,
        cut,
        window_days,
        items=items,
        features=features,
        index=index,
        config=config,
        k=args.k,
        neighbours=recommender.neighbours,
    )
    for label, weights in (
        ("blend, default weights", BlendWeights()),
        (f"blend, validation ({'tuned' if report['tuned'] else 'default'})", validated),
    ):
        _, score = tune_blend_weights(recommender, test, k=args.k, grid=_single(weights))
        rows.append((f"{label}: {weights.as_dict()}", score))
    hindsight, score = tune_blend_weights(recommender, test, k=args.k, grid=WEIGHT_GRID)
    rows.append((f"blend, best in hindsight (chosen on the test): {hindsight.as_dict()}", score))

    for name, value in rows:
        gain = value / best_baseline[1] - 1.0 if best_baseline[1] > 0 else float("nan")
        print(f"{value:.4f}  {gain:+7.1%} vs {best_baseline[0]:<10}  {name}")


if __name__ == "__main__":
    main()
