"""The rankers the evaluation compares, as functions from shoppers to score matrices.

Every ranker scores the same candidates, the ranker's items, and returns
float32 (n_shoppers, n_items); higher is better. A shopper with no purchase
before the cut gets the popularity scores from every ranker, so the rankers
differ only on shoppers with history.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from recsys.ranker import RankerModel
from recsys.recommend import Recommender
from recsys.similarity import SimilarityIndex

__all__ = ["RankerSpec", "build_rankers"]

logger = logging.getLogger(__name__)

# Neighbours fetched from FAISS per bought item by the visual baseline.
_VISUAL_NEIGHBOURS = 100

ScoreFunction = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class RankerSpec:
    """A ranker under evaluation: a name, a one-line description and its score function."""

    name: str
    description: str
    score: ScoreFunction


def _popularity_rows(recommender: Recommender, rows: int) -> np.ndarray:
    return np.repeat(recommender.popularity[None, :], rows, axis=0).astype(np.float32)


def _with_fallback(
    recommender: Recommender, customer_ids: Sequence[str], scores: np.ndarray
) -> np.ndarray:
    for row, customer_id in enumerate(customer_ids):
        if not recommender.has_history(customer_id):
            scores[row] = recommender.popularity
    return scores


def build_rankers(
    recommender: Recommender,
    index: SimilarityIndex,
    purchases_only: RankerModel,
    *,
    k: int,
    popularity_window_days: int,
) -> list[RankerSpec]:
    """Return the six compared rankers, the served blend last.

    Args:
        recommender: the served blend, built on the training purchases; its
            popularity and history also feed the baselines.
        index: the similarity index the visual baseline queries.
        purchases_only: LightFM trained with identity item features only,
            on the same items as the recommender's ranker.
        k: list length; the blend keeps its last places for never-bought items.
        popularity_window_days: the popularity window, for the description.
    """
    column = {article_id: i for i, article_id in enumerate(recommender.item_ids)}
    if purchases_only.item_ids != recommender.item_ids:
        raise ValueError("the purchases-only ranker must score the same items as the blend")

    def popularity(customer_ids: Sequence[str]) -> np.ndarray:
        return _popularity_rows(recommender, len(customer_ids))

    def repurchase(customer_ids: Sequence[str]) -> np.ndarray:
        scores = _popularity_rows(recommender, len(customer_ids))
        signals = recommender.signals(customer_ids)
        # Bought items first, most recent first; popularity in [0, 1] orders the rest.
        scores += 2.0 * signals.repurchase + (signals.repurchase > 0)
        return scores

    def visual(customer_ids: Sequence[str]) -> np.ndarray:
        # Items outside every neighbour list keep popularity - 2, below any cosine.
        scores = _popularity_rows(recommender, len(customer_ids)) - 2.0
        for row, customer_id in enumerate(customer_ids):
            bought = [
                recommender.item_ids[c]
                for c in recommender.bought_columns(customer_id)
                if recommender.item_ids[c] in index
            ]
            if not bought:
                continue
            queries = np.stack([index.vector(article_id) for article_id in bought])
            for neighbours in index.search(queries, _VISUAL_NEIGHBOURS):
                for article_id, similarity in neighbours:
                    position = column.get(article_id)
                    if position is not None:
                        scores[row, position] = max(scores[row, position], similarity)
        return _with_fallback(recommender, customer_ids, scores)

    def lightfm_scores(model: RankerModel) -> ScoreFunction:
        def score(customer_ids: Sequence[str]) -> np.ndarray:
            scores = _popularity_rows(recommender, len(customer_ids))
            known = [row for row, c in enumerate(customer_ids) if model.knows_customer(c)]
            if known:
                scores[known] = model.score_items([customer_ids[row] for row in known])
            return scores

        return score

    def blend(customer_ids: Sequence[str]) -> np.ndarray:
        scores, signals = recommender.serving_scores(customer_ids)
        recommender.reserve_new_item_slots(scores, signals, customer_ids, k)
        return scores

    weights = ", ".join(
        f"{name} {value:g}" for name, value in recommender.weights.as_dict().items()
    )
    return [
        RankerSpec(
            "popularity",
            f"most units sold in the last {popularity_window_days} days before the cut",
            popularity,
        ),
        RankerSpec(
            "repurchase",
            "the shopper's own past items, most recent first, then popularity",
            repurchase,
        ),
        RankerSpec(
            "visual",
            f"FAISS nearest neighbours ({_VISUAL_NEIGHBOURS} per item) of the shopper's "
            "purchases by style-embedding cosine, then popularity",
            visual,
        ),
        RankerSpec(
            "lightfm",
            "LightFM on purchases only (identity item features)",
            lightfm_scores(purchases_only),
        ),
        RankerSpec(
            "hybrid",
            "LightFM with identity, attribute and visual-cluster item features",
            lightfm_scores(recommender.ranker),
        ),
        RankerSpec(
            "blend",
            f"the served blend of standardised signals (weights: {weights}), "
            "tuned on a validation window before the cut; the last "
            f"{min(recommender.new_item_slots, k - 1)} places go to never-bought items",
            blend,
        ),
    ]
