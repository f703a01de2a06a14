"""Offline evaluation: replay purchases on a time split and score each ranker.

Protocol: train on every purchase before the cut date, test on the
purchases from the cut on. The blend weights are chosen on a validation
window of the same length just before the cut, with models trained on the
purchases before that window, so the test window never informs a choice.
Every headline figure carries a 95% percentile bootstrap interval over
shoppers.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from catalog.indexing import load_item_embeddings
from classifier.taxonomy import type_from_product_type
from recsys.blending import choose_blend_weights
from recsys.data import build_item_features, load_items, load_purchases
from recsys.metrics import (
    ConfidenceInterval,
    auc,
    bootstrap_ci,
    catalog_coverage,
    evaluate_lists,
    intra_list_diversity,
    novelty,
    recall_curve,
    relative_gain_ci,
)
from recsys.ranker import TrainingConfig, train_ranker
from recsys.rankers import RankerSpec, build_rankers
from recsys.recommend import BlendWeights, Recommender, top_k_columns
from recsys.similarity import SimilarityIndex

__all__ = [
    "LONG_HISTORY_DAYS",
    "RECALL_CURVE_KS",
    "SEGMENTS",
    "BlendGain",
    "EvaluationResult",
    "RankerScores",
    "blend_gains",
    "default_test_days",
    "describe_gain",
    "evaluate_rankers",
    "split_by_time",
]

logger = logging.getLogger(__name__)

# A history spanning at least this many days is tested on its last 28 days,
# which cover four weekly cycles. A shorter one is tested on its last 2 days,
# so that a week of data still leaves most days for training.
LONG_HISTORY_DAYS = 56
_LONG_TEST_DAYS = 28
_SHORT_TEST_DAYS = 2
RECALL_CURVE_KS = (1, 2, 3, 5, 8, 12, 20, 30, 50, 100)
SEGMENTS = {
    "all": "every shopper with a test purchase",
    "returning": "shoppers with a purchase before the cut",
    "new": "shoppers with no purchase before the cut (popularity fallback)",
    "cold_items": "relevant items restricted to items never bought before the cut",
    "head_attire": "shoppers who bought head attire in the test window",
}
_SEGMENT_METRICS = ("map", "recall", "ndcg", "hit_rate")
_BATCH_SHOPPERS = 128


@dataclass
class RankerScores:
    """Metrics of one ranker: per shopper, bootstrap intervals, curves and segments.

    Attributes:
        per_shopper: metric -> float64 (test_shoppers,) in `EvaluationResult.shoppers` order.
        intervals: metric -> mean and 95% interval; metrics map, recall,
            precision, ndcg, hit_rate, auc, diversity, novelty.
        recall_curve: k -> mean recall@k over all test shoppers.
        coverage: share of the candidate items in at least one top-k list.
        segments: segment name -> metric -> interval.
        recommendations: customer id -> top-k article ids.
    """

    name: str
    description: str
    per_shopper: dict[str, np.ndarray]
    intervals: dict[str, ConfidenceInterval]
    recall_curve: dict[int, float]
    coverage: float
    segments: dict[str, dict[str, ConfidenceInterval]]
    recommendations: dict[str, list[str]]


@dataclass(frozen=True)
class BlendGain:
    """The served blend against the best other ranker of a segment, on MAP@k.

    Attributes:
        baseline: name of the other ranker with the highest mean MAP@k.
        baseline_map: its mean MAP@k.
        blend_map: the blend's mean MAP@k.
        gain: blend / baseline - 1, with a paired bootstrap interval over
            shoppers; None when the baseline's MAP is 0.
    """

    baseline: str
    baseline_map: float
    blend_map: float
    gain: ConfidenceInterval | None


def describe_gain(comparison: BlendGain) -> str:
    """Return the relative gain as text, such as "+5.4% [-37.9%, +52.9%]"."""
    gain = comparison.gain
    if gain is None:
        return f"undefined: {comparison.baseline} scores 0"
    return f"{100 * gain.mean:+.1f}% [{100 * gain.low:+.1f}%, {100 * gain.high:+.1f}%]"


def blend_gains(
    rankers: Sequence[RankerScores], segments: dict[str, np.ndarray]
) -> dict[str, BlendGain]:
    """Compare the blend with the best other ranker in each segment (shopper rows).

    Segments without shoppers are left out.
    """
    blend = next((r for r in rankers if r.name == "blend"), None)
    if blend is None:
        return {}
    gains: dict[str, BlendGain] = {}
    for segment, rows in segments.items():
        if rows.size == 0:
            continue
        ours = blend.per_shopper["map"][rows]
        others = {r.name: r.per_shopper["map"][rows] for r in rankers if r is not blend}
        name = max(others, key=lambda n: float(others[n].mean()))
        baseline_map = float(others[name].mean())
        gains[segment] = BlendGain(
            baseline=name,
            baseline_map=baseline_map,
            blend_map=float(ours.mean()),
            gain=relative_gain_ci(ours, others[name]) if baseline_map > 0 else None,
        )
    return gains


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
    shoppers: list[str] = field(default_factory=list)
    segment_sizes: dict[str, int] = field(default_factory=dict)
    cold_test_items: int = 0
    test_items: int = 0
    validation: dict[str, object] = field(default_factory=dict)
    rankers: list[RankerScores] = field(default_factory=list)
    blend_gains: dict[str, BlendGain] = field(default_factory=dict)
    training: dict[str, object] = field(default_factory=dict)
    train: pd.DataFrame = field(default_factory=pd.DataFrame)
    test: pd.DataFrame = field(default_factory=pd.DataFrame)


def default_test_days(first_day: dt.date, last_day: dt.date) -> int:
    """Return the default test window: 28 days for long histories, 2 for short ones.

    A history is long when it spans at least `LONG_HISTORY_DAYS` days.
    """
    span = (last_day - first_day).days + 1
    return _LONG_TEST_DAYS if span >= LONG_HISTORY_DAYS else _SHORT_TEST_DAYS


def split_by_time(
    purchases: pd.DataFrame, *, cut: dt.date | None = None, test_days: int | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, dt.date]:
    """Split purchases into those before `cut` (train) and from `cut` on (test).

    Without `cut`, the test window is the last `test_days` calendar days of
    the purchases (cut = last purchase day - test_days + 1); without either,
    `default_test_days` chooses the window.

    Raises:
        ValueError: there are no purchases, test_days < 1, or either side of
            the split would be empty.
    """
    if purchases.empty:
        raise ValueError("there are no purchases to evaluate on: import a transactions.csv first")
    first: dt.date = min(purchases["purchased_on"])
    last: dt.date = max(purchases["purchased_on"])
    if test_days is None:
        test_days = default_test_days(first, last)
    if test_days < 1:
        raise ValueError(f"test_days must be at least 1, got {test_days}")
    if cut is None:
        cut = last - dt.timedelta(days=test_days - 1)
    train = purchases.loc[purchases["purchased_on"] < cut]
    test = purchases.loc[purchases["purchased_on"] >= cut]
    if first == last:
        raise ValueError(
            f"every purchase is from {first}: evaluation needs purchases on at least two days, "
            "training on the earlier and testing on the later ones"
        )
    if train.empty or test.empty:
        raise ValueError(
            f"cut date {cut} leaves {'no training' if train.empty else 'no test'} purchases; "
            f"the purchases span {first} to {last}: pick a cut from "
            f"{first + dt.timedelta(days=1)} to {last}"
        )
    return train, test, cut


def _interval(values: np.ndarray) -> ConfidenceInterval:
    finite = values[~np.isnan(values)]
    if finite.size == 0:
        return ConfidenceInterval(mean=float("nan"), low=float("nan"), high=float("nan"), n=0)
    return bootstrap_ci(values)


def _score_ranker(
    spec: RankerSpec,
    recommender: Recommender,
    shoppers: Sequence[str],
    relevant: Sequence[set[str]],
    segments: dict[str, tuple[np.ndarray, list[set[str]]]],
    item_popularity: dict[str, int],
    n_train_shoppers: int,
    k: int,
) -> RankerScores:
    column = {article_id: i for i, article_id in enumerate(recommender.item_ids)}
    longest = max(max(RECALL_CURVE_KS), k)
    lists: list[list[str]] = []
    auc_values = np.full(len(shoppers), np.nan)
    for start in range(0, len(shoppers), _BATCH_SHOPPERS):
        batch = list(shoppers[start : start + _BATCH_SHOPPERS])
        scores = spec.score(batch)
        top = top_k_columns(scores, longest)
        lists.extend([recommender.item_ids[c] for c in row if c >= 0] for row in top)
        indices = [
            sorted(column[a] for a in relevant[start + row] if a in column)
            for row in range(len(batch))
        ]
        scored = [row for row, found in enumerate(indices) if found]
        if scored:
            auc_values[[start + row for row in scored]] = auc(
                scores[scored], [indices[row] for row in scored]
            )

    top_k = [items[:k] for items in lists]
    per_shopper = evaluate_lists(top_k, relevant, k=k)
    per_shopper["auc"] = auc_values
    # Items without a photo have a zero vector; leaving them out of the row
    # index makes the diversity metric skip them.
    with_photo = np.linalg.norm(recommender.item_vectors, axis=1) > 0
    embedded = {article_id: i for article_id, i in column.items() if with_photo[i]}
    per_shopper["diversity"] = intra_list_diversity(
        top_k, recommender.item_vectors, k, row_index=embedded
    )
    per_shopper["novelty"] = novelty(top_k, item_popularity, n_train_shoppers, k)
    intervals = {metric: _interval(values) for metric, values in per_shopper.items()}

    segment_intervals: dict[str, dict[str, ConfidenceInterval]] = {}
    for segment, (rows, segment_relevant) in segments.items():
        if rows.size == 0:
            continue
        values = evaluate_lists([top_k[row] for row in rows], segment_relevant, k=k)
        segment_intervals[segment] = {
            metric: bootstrap_ci(values[metric]) for metric in _SEGMENT_METRICS
        }

    logger.info(
        "%s: MAP@%d %.4f [%.4f, %.4f], recall@%d %.4f on %d shoppers",
        spec.name,
        k,
        intervals["map"].mean,
        intervals["map"].low,
        intervals["map"].high,
        k,
        intervals["recall"].mean,
        len(shoppers),
    )
    return RankerScores(
        name=spec.name,
        description=spec.description,
        per_shopper=per_shopper,
        intervals=intervals,
        recall_curve=recall_curve(lists, relevant, RECALL_CURVE_KS),
        coverage=catalog_coverage(top_k, len(recommender.item_ids), k),
        segments=segment_intervals,
        recommendations=dict(zip(shoppers, top_k, strict=True)),
    )


def evaluate_rankers(
    engine: Engine,
    index: SimilarityIndex,
    *,
    cut: dt.date | None = None,
    test_days: int | None = None,
    k: int = 12,
    config: TrainingConfig | None = None,
    weights: BlendWeights | None = None,
    progress: bool = False,
) -> EvaluationResult:
    """Train on purchases before the cut and score the six rankers on those after it.

    Rankers (see `recsys.rankers`): popularity, repurchase then popularity,
    visual nearest neighbours, LightFM on purchases only, LightFM hybrid,
    and the served blend. All score the same candidates with no filter, so
    repeat purchases count as hits. Shoppers with no purchase before the
    cut get popularity from every ranker.

    Args:
        index: the similarity index; its embedding model gives the visual
            features and the style vectors.
        weights: blend weights to use as given; tuned on the validation
            window before the cut when None.

    Raises:
        ValueError: the split leaves no training or test purchases, or k < 1.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    config = config or TrainingConfig()
    purchases = load_purchases(engine)
    first_day: dt.date = min(purchases["purchased_on"]) if not purchases.empty else dt.date.min
    last_day: dt.date = max(purchases["purchased_on"]) if not purchases.empty else dt.date.min
    if test_days is None and cut is None and not purchases.empty:
        test_days = default_test_days(first_day, last_day)
    train, test, cut = split_by_time(purchases, cut=cut, test_days=test_days)
    window_days = (last_day - cut).days + 1

    items = load_items(engine)
    article_ids, vectors = load_item_embeddings(engine, index.model_version)
    features = build_item_features(items, article_ids, vectors, seed=config.seed)

    hybrid = train_ranker(train, features, config=config, progress=progress)
    purchases_only = train_ranker(
        train, {article_id: [] for article_id in features}, config=config, progress=progress
    )
    recommender = Recommender.from_artifacts(hybrid, index, items, train, weights=weights)

    # Choose the blend weights without looking at the test window. The
    # validation ranker has the same items, so the neighbour lists are reused.
    if weights is None:
        weights, validation = choose_blend_weights(
            train,
            cut,
            window_days,
            items=items,
            features=features,
            index=index,
            config=config,
            k=k,
            neighbours=recommender.neighbours,
        )
        recommender = Recommender.from_artifacts(
            hybrid, index, items, train, weights=weights, neighbours=recommender.neighbours
        )
    else:
        validation = {"weights": weights.as_dict(), "tuned": False, "map": None}
    rankers = build_rankers(
        recommender,
        index,
        purchases_only,
        k=k,
        popularity_window_days=config.popularity_window_days,
    )

    # Test shoppers, their relevant items and the segments.
    relevant_by_shopper = test.groupby("customer_id")["article_id"].agg(set)
    shoppers = [str(s) for s in sorted(relevant_by_shopper.index)]
    relevant = [set(relevant_by_shopper[s]) for s in shoppers]
    bought_before = set(train["article_id"])
    head_attire_items = {
        str(a)
        for a, product_type in items["product_type"].items()
        if type_from_product_type(product_type) != "none"
    }
    returning = np.array([recommender.has_history(s) for s in shoppers], dtype=bool)
    cold = [items_ - bought_before for items_ in relevant]
    head = np.array([bool(items_ & head_attire_items) for items_ in relevant], dtype=bool)
    segments: dict[str, tuple[np.ndarray, list[set[str]]]] = {
        "all": (np.arange(len(shoppers)), relevant),
        "returning": (np.flatnonzero(returning), [relevant[i] for i in np.flatnonzero(returning)]),
        "new": (np.flatnonzero(~returning), [relevant[i] for i in np.flatnonzero(~returning)]),
        "cold_items": (
            np.array([i for i, c in enumerate(cold) if c], dtype=np.int64),
            [c for c in cold if c],
        ),
        "head_attire": (np.flatnonzero(head), [relevant[i] for i in np.flatnonzero(head)]),
    }
    item_popularity = {
        str(a): int(n) for a, n in train.groupby("article_id")["customer_id"].nunique().items()
    }
    n_train_shoppers = int(train["customer_id"].nunique())

    test_items = set(test["article_id"])
    result = EvaluationResult(
        cut=cut,
        k=k,
        train_purchases=len(train),
        test_purchases=len(test),
        test_shoppers=len(shoppers),
        returning_shoppers=int(returning.sum()),
        first_day=first_day,
        last_day=last_day,
        shoppers=shoppers,
        segment_sizes={name: int(rows.size) for name, (rows, _) in segments.items()},
        cold_test_items=len(test_items - bought_before),
        test_items=len(test_items),
        validation=validation,
        training=dict(hybrid.metadata),
        train=train,
        test=test,
    )
    for spec in rankers:
        result.rankers.append(
            _score_ranker(
                spec,
                recommender,
                shoppers,
                relevant,
                segments,
                item_popularity,
                n_train_shoppers,
                k,
            )
        )
    result.blend_gains = blend_gains(
        result.rankers, {name: segments[name][0] for name in ("all", "returning")}
    )
    return result
