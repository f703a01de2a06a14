"""Offline evaluation: replay purchases on a time split and score each ranker."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from catalog.indexing import load_item_embeddings
from recsys.data import build_item_features, load_items, load_purchases
from recsys.metrics import ConfidenceInterval, average_precision_at_k, bootstrap_ci, recall_at_k
from recsys.popularity import popular_items
from recsys.ranker import RankerModel, TrainingConfig, train_ranker

__all__ = ["EvaluationResult", "RankerScores", "evaluate_rankers", "split_by_time"]

logger = logging.getLogger(__name__)


@dataclass
class RankerScores:
    """Per-shopper metrics of one ranker and their bootstrap intervals."""

    name: str
    description: str
    per_shopper: dict[str, np.ndarray]
    intervals: dict[str, ConfidenceInterval]
    recommendations: dict[str, list[str]]


@dataclass
class EvaluationResult:
    """Everything an evaluation report shows."""

    cut: dt.date
    k: int
    train_purchases: int
    test_purchases: int
    test_shoppers: int
    returning_shoppers: int
    first_day: dt.date
    last_day: dt.date
    rankers: list[RankerScores] = field(default_factory=list)
    training: dict[str, object] = field(default_factory=dict)


def split_by_time(
    purchases: pd.DataFrame, *, cut: dt.date | None = None, test_days: int = 2
) -> tuple[pd.DataFrame, pd.DataFrame, dt.date]:
    """Split purchases into those before `cut` (train) and from `cut` on (test).

    Without `cut`, the test window is the last `test_days` calendar days
    of the purchases: cut = last purchase day - test_days + 1.

    Raises:
        ValueError: either side of the split would be empty.
    """
    if purchases.empty:
        raise ValueError("there are no purchases to evaluate on: import a transactions.csv first")
    if test_days < 1:
        raise ValueError(f"test_days must be at least 1, got {test_days}")
    first: dt.date = min(purchases["purchased_on"])
    last: dt.date = max(purchases["purchased_on"])
    if cut is None:
        cut = last - dt.timedelta(days=test_days - 1)
    train = purchases.loc[purchases["purchased_on"] < cut]
    test = purchases.loc[purchases["purchased_on"] >= cut]
    if train.empty or test.empty:
        raise ValueError(
            f"cut date {cut} leaves {'no training' if train.empty else 'no test'} purchases; "
            f"the purchases span {first} to {last}: pick a cut inside that range"
        )
    return train, test, cut


def _score_lists(
    name: str,
    description: str,
    recommend: Callable[[Sequence[str]], list[list[str]]],
    shoppers: Sequence[str],
    relevant: Sequence[set[str]],
    k: int,
) -> RankerScores:
    lists = recommend(shoppers)
    per_shopper = {
        "map": average_precision_at_k(lists, relevant, k=k),
        "recall": recall_at_k(lists, relevant, k=k),
    }
    intervals = {metric: bootstrap_ci(values) for metric, values in per_shopper.items()}
    logger.info(
        "%s: MAP@%d %.4f, recall@%d %.4f on %d shoppers",
        name,
        k,
        intervals["map"].mean,
        k,
        intervals["recall"].mean,
        len(shoppers),
    )
    return RankerScores(
        name=name,
        description=description,
        per_shopper=per_shopper,
        intervals=intervals,
        recommendations=dict(zip(shoppers, lists, strict=True)),
    )


def evaluate_rankers(
    engine: Engine,
    *,
    model_version: str,
    cut: dt.date | None = None,
    test_days: int = 2,
    k: int = 12,
    config: TrainingConfig | None = None,
    progress: bool = False,
) -> EvaluationResult:
    """Train on purchases before the cut and score rankers on those after it.

    Rankers: popularity over the last days before the cut, and the hybrid
    LightFM ranker, which falls back to popularity for shoppers with no
    purchase before the cut (the behaviour served by the API). Metrics are
    MAP@k and recall@k over every shopper with a test purchase, with 95%
    bootstrap intervals over shoppers.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    config = config or TrainingConfig()
    purchases = load_purchases(engine)
    train, test, cut = split_by_time(purchases, cut=cut, test_days=test_days)

    article_ids, vectors = load_item_embeddings(engine, model_version)
    features = build_item_features(load_items(engine), article_ids, vectors, seed=config.seed)
    model: RankerModel = train_ranker(train, features, config=config, progress=progress)
    popular = popular_items(train, window_days=config.popularity_window_days)[:k]

    relevant_by_shopper = test.groupby("customer_id")["article_id"].agg(set)
    shoppers = sorted(relevant_by_shopper.index)
    relevant = [set(relevant_by_shopper[s]) for s in shoppers]
    returning = [s for s in shoppers if model.knows_customer(s)]

    def recommend_popular(batch: Sequence[str]) -> list[list[str]]:
        return [list(popular) for _ in batch]

    def recommend_hybrid(batch: Sequence[str]) -> list[list[str]]:
        known = [s for s in batch if model.knows_customer(s)]
        ranked = dict(zip(known, model.recommend(known, k), strict=True))
        return [
            [article for article, _ in ranked[s]] if s in ranked else list(popular) for s in batch
        ]

    result = EvaluationResult(
        cut=cut,
        k=k,
        train_purchases=len(train),
        test_purchases=len(test),
        test_shoppers=len(shoppers),
        returning_shoppers=len(returning),
        first_day=min(purchases["purchased_on"]),
        last_day=max(purchases["purchased_on"]),
        training=dict(model.metadata),
    )
    result.rankers.append(
        _score_lists(
            "popularity",
            f"most units sold in the {config.popularity_window_days} days before the cut",
            recommend_popular,
            shoppers,
            relevant,
            k,
        )
    )
    result.rankers.append(
        _score_lists(
            "hybrid",
            "LightFM with identity, attribute and visual-cluster item features; "
            "popularity for shoppers with no purchase before the cut",
            recommend_hybrid,
            shoppers,
            relevant,
            k,
        )
    )
    return result
