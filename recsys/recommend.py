"""The blend milliner serves: hybrid score, visual similarity and repurchase signal.

One `Recommender` serves both the API and the offline evaluation, so the
evaluated ranker is the served one. For a batch of shoppers it scores every
item with one matrix product per signal, blends the signals with fixed
weights, applies the filters and keeps the top k by partial sort.

Signals, each an array of shape (n_shoppers, n_items) in the ranker's item
order:

- hybrid: LightFM user factors times item factors plus item bias,
  standardised per shopper (zero for shoppers LightFM never saw);
- visual: how unusually alike an item is to the purchase it looks most
  like, as a z-score against all similarities of that purchase, counted
  among each purchase's nearest items (`recsys.visual_neighbours`; zero for
  other items and for items without a photo);
- repurchase: 0.5 ** (days since the shopper last bought the item / half-life),
  zero for items never bought;
- popularity: log(1 + units sold in the last week) / log(1 + top seller's units).

Shoppers with no purchase at all get the popularity ranking (`fallback`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from classifier.taxonomy import (
    COLOUR,
    colour_from_hm,
    product_type_display,
    type_from_product_type,
)
from recsys.ranker import RankerModel
from recsys.similarity import SimilarityIndex
from recsys.visual_neighbours import DEFAULT_NEIGHBOURS, VisualNeighbours

__all__ = [
    "MAX_K",
    "NEW_ITEM_SLOTS",
    "BlendWeights",
    "Recommendation",
    "RecommendationList",
    "Recommender",
    "ShopperSignals",
    "top_k_columns",
]

logger = logging.getLogger(__name__)

MAX_K = 100
# Places at the end of a 12-item list kept for never-bought items; fewer
# for shorter lists, because at least one place follows the blend.
NEW_ITEM_SLOTS = 2
_REPURCHASE_HALF_LIFE_DAYS = 14.0
_POPULARITY_WINDOW_DAYS = 7
# Shoppers scored at once: each signal keeps one row of all items per
# shopper, so 128 shoppers over 20,000 items take about 60 MB.
_BATCH_SHOPPERS = 128


@dataclass(frozen=True, kw_only=True)
class BlendWeights:
    """Weights of the four standardised signals in the served score."""

    hybrid: float = 1.0
    visual: float = 1.0
    repurchase: float = 2.0
    popularity: float = 0.5

    def __post_init__(self) -> None:
        for name, value in self.as_dict().items():
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"blend weight {name} must be finite and >= 0, got {value}")

    def as_dict(self) -> dict[str, float]:
        return {
            "hybrid": self.hybrid,
            "visual": self.visual,
            "repurchase": self.repurchase,
            "popularity": self.popularity,
        }


@dataclass(frozen=True)
class Recommendation:
    """One recommended item with the reason shown to the shopper."""

    article_id: str
    score: float
    reason_en: str
    reason_zh: str


@dataclass(frozen=True)
class RecommendationList:
    """A shopper's ranked items; `fallback` is True when they are the popular ones."""

    fallback: bool
    items: list[Recommendation]


@dataclass(frozen=True)
class ShopperSignals:
    """The four signals of a batch of shoppers, each float32 (n_shoppers, n_items).

    `popularity` is shared by all shoppers, float32 (n_items,), unless a
    caller restricts each shopper to their own columns, where it is 2-D too.
    `nearest_bought[s, i]` is the column of the bought item that looks most
    like item i for shopper s (-1 when the shopper bought nothing with a photo).
    """

    hybrid: np.ndarray
    visual: np.ndarray
    repurchase: np.ndarray
    popularity: np.ndarray
    nearest_bought: np.ndarray

    def blend(self, weights: BlendWeights) -> np.ndarray:
        """Return the served score, float32 (n_shoppers, n_items)."""
        score = weights.hybrid * self.hybrid
        score += weights.visual * self.visual
        score += weights.repurchase * self.repurchase
        popularity = self.popularity if self.popularity.ndim == 2 else self.popularity[None, :]
        score += weights.popularity * popularity
        return score


def top_k_columns(scores: np.ndarray, k: int) -> np.ndarray:
    """Return the columns of the k highest finite scores per row, best first.

    Selection is a partial sort with `torch.topk`, which was about 50 times
    faster than `np.argpartition` on 256 x 3,739 scores on one loaded CPU
    core. Only the k kept columns are then sorted, by score and then by column. When the k-th and
    (k+1)-th scores tie, either item may be kept. Rows with fewer than k
    finite scores are padded with -1.

    Returns:
        int64 (n_rows, min(k, n_columns)).
    """
    take = min(k, scores.shape[1])
    if take < 1 or scores.shape[0] == 0:
        return np.empty((scores.shape[0], max(take, 0)), dtype=np.int64)
    values, columns = torch.topk(
        torch.from_numpy(np.ascontiguousarray(scores)), take, dim=1, sorted=False
    )
    kept = values.numpy()
    part = columns.numpy().astype(np.int64)
    order = np.lexsort((part, -kept), axis=1)
    top = np.take_along_axis(part, order, axis=1)
    top[~np.isfinite(np.take_along_axis(kept, order, axis=1))] = -1
    return top


def _standardise_rows(matrix: np.ndarray) -> np.ndarray:
    mean = matrix.mean(axis=1, keepdims=True)
    std = matrix.std(axis=1, keepdims=True)
    std[std == 0] = 1.0
    return ((matrix - mean) / std).astype(np.float32)


def popularity_signal(
    purchases: pd.DataFrame, item_ids: Sequence[str], *, window_days: int = _POPULARITY_WINDOW_DAYS
) -> np.ndarray:
    """Return log(1 + units sold in the last `window_days`) scaled to [0, 1].

    Returns:
        float32 (len(item_ids),) in the order of `item_ids`.
    """
    signal = np.zeros(len(item_ids), dtype=np.float32)
    if purchases.empty:
        return signal
    last = max(purchases["purchased_on"])
    start = last - dt.timedelta(days=window_days - 1)
    counts = purchases.loc[purchases["purchased_on"] >= start, "article_id"].value_counts()
    column = {article_id: i for i, article_id in enumerate(item_ids)}
    for article_id, count in counts.items():
        position = column.get(str(article_id))
        if position is not None:
            signal[position] = np.log1p(count)
    if signal.max() > 0:
        signal /= signal.max()
    return signal


class Recommender:
    """Blend of the hybrid ranker, visual similarity and repurchase, in catalog id space.

    Items are the ranker's items (every catalog item that had features at
    training); new items enter with the next `milliner train`.

    Args:
        ranker: the trained LightFM representations.
        item_vectors: float32 (len(ranker.item_ids), dim) unit style
            embeddings in the ranker's item order; rows of zeros for items
            without a photo.
        items: catalog items indexed by article_id, with columns name,
            product_type, colour and department.
        purchases: columns customer_id, article_id, purchased_on: the
            history the signals read (what each shopper bought and when,
            and what sold in the last week).
        weights: blend weights.
        new_item_slots: the last places of each list that go to the items
            never bought in `purchases` that look most like the shopper's
            purchases, so new items get shown (0 turns this off).
        visual_neighbours: nearest items kept per item for the visual
            signal. Finding them takes one pass over all pairs of items when
            the recommender is built (about 21 s on one core for 17,033
            items of 1,280-d), so build it before requests need it.
        neighbours: neighbour lists already found for the same items in the
            same order and the same vectors (another recommender's
            `neighbours`); they replace that pass.
    """

    def __init__(
        self,
        ranker: RankerModel,
        item_vectors: np.ndarray,
        items: pd.DataFrame,
        purchases: pd.DataFrame,
        *,
        weights: BlendWeights | None = None,
        new_item_slots: int = NEW_ITEM_SLOTS,
        visual_neighbours: int = DEFAULT_NEIGHBOURS,
        neighbours: VisualNeighbours | None = None,
    ) -> None:
        if new_item_slots < 0:
            raise ValueError(f"new_item_slots must be >= 0, got {new_item_slots}")
        if item_vectors.shape[0] != len(ranker.item_ids):
            raise ValueError(
                f"item_vectors has {item_vectors.shape[0]} rows but the ranker has "
                f"{len(ranker.item_ids)} items: pass one row per ranker item"
            )
        self.ranker = ranker
        self.item_ids = list(ranker.item_ids)
        self.weights = weights or BlendWeights()
        self.new_item_slots = new_item_slots
        self._vectors = np.ascontiguousarray(item_vectors, dtype=np.float32)
        self._has_vector = np.linalg.norm(self._vectors, axis=1) > 0
        if neighbours is not None and neighbours.columns.shape[0] != len(self.item_ids):
            raise ValueError(
                f"neighbours has {neighbours.columns.shape[0]} rows but the ranker has "
                f"{len(self.item_ids)} items: pass the neighbours of the same items"
            )
        self._neighbours = neighbours or VisualNeighbours.build(
            self._vectors, self._has_vector, per_item=visual_neighbours
        )
        self._column = {article_id: i for i, article_id in enumerate(self.item_ids)}

        # Catalog attributes in item order, for filters and reasons.
        aligned = items.reindex(self.item_ids)
        self._in_catalog = aligned["name"].notna().to_numpy()
        self._names = aligned["name"].fillna("").astype(str).to_numpy()
        self._types = aligned["product_type"].fillna("").astype(str).to_numpy()
        self._colours = aligned["colour"].fillna("").astype(str).to_numpy()
        self._departments = aligned["department"].fillna("").astype(str).to_numpy()
        self._types_lower = np.char.lower(self._types.astype(str))
        self._departments_lower = np.char.lower(self._departments.astype(str))
        # The head-attire type label of each item, "none" for other products,
        # mapped once per distinct product type.
        product_types, positions = np.unique(self._types, return_inverse=True)
        attire_types = [type_from_product_type(name) for name in product_types]
        self._attire_types = np.asarray(attire_types, dtype=object)[positions]

        # Each shopper's bought columns and the days since they last bought each.
        known = purchases.loc[purchases["article_id"].isin(self._column.keys())]
        self.reference_day: dt.date | None = (
            max(purchases["purchased_on"]) if not purchases.empty else None
        )
        self._history: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if not known.empty and self.reference_day is not None:
            last = known.groupby(["customer_id", "article_id"])["purchased_on"].max().reset_index()
            last["column"] = last["article_id"].map(self._column)
            last["age"] = [(self.reference_day - day).days for day in last["purchased_on"]]
            for customer_id, group in last.groupby("customer_id"):
                self._history[str(customer_id)] = (
                    group["column"].to_numpy(np.int64),
                    group["age"].to_numpy(np.float32),
                )
        self._popularity = popularity_signal(purchases, self.item_ids)
        self._never_bought = ~np.isin(self.item_ids, purchases["article_id"].unique())
        self._popular_order = np.argsort(-self._popularity, kind="stable")
        logger.debug(
            "recommender over %d items (%d with a photo), %d shoppers with history",
            len(self.item_ids),
            int(self._has_vector.sum()),
            len(self._history),
        )

    @classmethod
    def from_artifacts(
        cls,
        ranker: RankerModel,
        index: SimilarityIndex,
        items: pd.DataFrame,
        purchases: pd.DataFrame,
        *,
        weights: BlendWeights | None = None,
        neighbours: VisualNeighbours | None = None,
    ) -> Recommender:
        """Build a recommender from the published ranker and similarity index.

        Style embeddings are read back from the index, so any embedding model
        the index was built with works. `neighbours` is as in the constructor.
        """
        vectors: np.ndarray | None = None
        for row, article_id in enumerate(ranker.item_ids):
            if article_id not in index:
                continue
            vector = index.vector(article_id)
            if vectors is None:
                vectors = np.zeros((len(ranker.item_ids), vector.shape[0]), dtype=np.float32)
            vectors[row] = vector
        if vectors is None:
            vectors = np.zeros((len(ranker.item_ids), 1), dtype=np.float32)
        return cls(ranker, vectors, items, purchases, weights=weights, neighbours=neighbours)

    @classmethod
    def from_embeddings(
        cls,
        ranker: RankerModel,
        embeddings: Mapping[str, np.ndarray],
        items: pd.DataFrame,
        purchases: pd.DataFrame,
        *,
        weights: BlendWeights | None = None,
    ) -> Recommender:
        """Build a recommender from article_id -> style embedding (normalised here)."""
        dim = len(next(iter(embeddings.values()))) if embeddings else 1
        vectors = np.zeros((len(ranker.item_ids), dim), dtype=np.float32)
        for row, article_id in enumerate(ranker.item_ids):
            vector = embeddings.get(article_id)
            if vector is not None:
                norm = float(np.linalg.norm(vector))
                if norm > 0:
                    vectors[row] = np.asarray(vector, dtype=np.float32) / norm
        return cls(ranker, vectors, items, purchases, weights=weights)

    def similar_of_type(
        self, vector: np.ndarray, type_name: str, k: int
    ) -> list[tuple[str, float]]:
        """Return up to `k` catalog items of head-attire type `type_name`, most similar first.

        An exact search over every item of that type (from its catalog
        product type): inner product with `vector`, a unit vector (dim,) in
        the space of the item vectors, so cosine similarity.
        """
        columns = np.flatnonzero(
            (self._attire_types == type_name) & self._has_vector & self._in_catalog
        )
        if columns.size == 0 or k < 1:
            return []
        scores = self._vectors[columns] @ np.asarray(vector, dtype=np.float32)
        best = np.argsort(-scores, kind="stable")[:k]
        return [(self.item_ids[columns[i]], float(scores[i])) for i in best]

    def has_history(self, customer_id: str) -> bool:
        """Return whether the shopper bought any of the ranker's items."""
        return customer_id in self._history

    def bought_columns(self, customer_id: str) -> np.ndarray:
        """Return the item columns the shopper bought (int64, possibly empty)."""
        history = self._history.get(customer_id)
        return history[0] if history is not None else np.empty(0, dtype=np.int64)

    @property
    def item_vectors(self) -> np.ndarray:
        """Unit style embeddings, float32 (n_items, dim); zero rows for items without a photo."""
        return self._vectors

    @property
    def neighbours(self) -> VisualNeighbours:
        """The neighbour lists of the visual signal."""
        return self._neighbours

    @property
    def popularity(self) -> np.ndarray:
        """The popularity signal, float32 (n_items,)."""
        return self._popularity

    def signals(self, customer_ids: Sequence[str]) -> ShopperSignals:
        """Compute the four signals for a batch of shoppers.

        Returns:
            Signals with one row per customer id, in the ranker's item order.
        """
        n_items = len(self.item_ids)
        rows = len(customer_ids)
        hybrid = np.zeros((rows, n_items), dtype=np.float32)
        known = [row for row, c in enumerate(customer_ids) if self.ranker.knows_customer(c)]
        if known:
            scores = self.ranker.score_items([customer_ids[row] for row in known])
            hybrid[known] = _standardise_rows(scores)

        visual = np.zeros((rows, n_items), dtype=np.float32)
        nearest = np.full((rows, n_items), -1, dtype=np.int64)
        repurchase = np.zeros((rows, n_items), dtype=np.float32)
        for row, customer_id in enumerate(customer_ids):
            history = self._history.get(customer_id)
            if history is None:
                continue
            columns, ages = history
            repurchase[row, columns] = np.power(0.5, ages / _REPURCHASE_HALF_LIFE_DAYS)
            visual[row], nearest[row] = self._neighbours.signal(columns, n_items)
        return ShopperSignals(
            hybrid=hybrid,
            visual=visual,
            repurchase=repurchase,
            popularity=self._popularity,
            nearest_bought=nearest,
        )

    def candidate_mask(
        self, *, product_type: str | None = None, department: str | None = None
    ) -> np.ndarray:
        """Return bool (n_items,): catalog items that pass the type and department filters.

        Filters compare case-insensitively with the catalog's product_type and
        department; a value that no item has leaves no candidate.
        """
        mask = self._in_catalog.copy()
        if product_type is not None:
            mask &= self._types_lower == product_type.strip().lower()
        if department is not None:
            mask &= self._departments_lower == department.strip().lower()
        return mask

    def serving_scores(
        self, customer_ids: Sequence[str], *, mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, ShopperSignals]:
        """Score every item for a batch of shoppers with the served blend.

        Blends the signals, gives shoppers with no history the popularity
        scores and applies `mask` (bool (n_items,), False items get -inf).
        Call `reserve_new_item_slots` after any further exclusions.

        Returns:
            float32 scores (len(customer_ids), n_items) and the signals.
        """
        signals = self.signals(customer_ids)
        scores = signals.blend(self.weights)
        if mask is not None:
            scores[:, ~mask] = -np.inf
        for row, customer_id in enumerate(customer_ids):
            if not self.has_history(customer_id):
                popularity = signals.popularity
                scores[row] = popularity if mask is None else np.where(mask, popularity, -np.inf)
        return scores, signals

    def reserve_new_item_slots(
        self, scores: np.ndarray, signals: ShopperSignals, customer_ids: Sequence[str], k: int
    ) -> None:
        """Move the best never-bought items into the last `new_item_slots` of each top k.

        Works in place on `scores` from `serving_scores`, for shoppers with
        history only. The blend's top k - slots keep their places. The
        never-bought items that look most like the shopper's purchases
        (hybrid plus visual signal) follow them, and every other item drops
        below them, keeping its order.
        """
        slots = min(self.new_item_slots, k - 1)
        if slots < 1:
            return
        look_weights = (self.weights.hybrid, self.weights.visual)
        hybrid_weight, visual_weight = look_weights if any(look_weights) else (1.0, 1.0)
        for row, customer_id in enumerate(customer_ids):
            if not self.has_history(customer_id):
                continue
            line = scores[row]
            finite = np.isfinite(line)
            regular = top_k_columns(line[None, :], k - slots)[0]
            if (regular < 0).any() or np.count_nonzero(finite) <= k:
                continue
            looks = hybrid_weight * signals.hybrid[row]
            looks += visual_weight * signals.visual[row]
            looks[~(self._never_bought & finite)] = -np.inf
            looks[regular] = -np.inf
            chosen = top_k_columns(looks[None, :], slots)[0]
            chosen = chosen[chosen >= 0]
            if chosen.size == 0:
                continue
            # Every other item drops below the chosen ones, keeping its order.
            floor = float(line[regular[-1]])
            step = max(abs(floor), 1.0) * 1e-3
            spread = float(line.max() - np.min(line, where=finite, initial=np.inf))
            others = finite
            others[regular] = False
            others[chosen] = False
            np.subtract(line, spread + step * (slots + 2), out=line, where=others)
            line[chosen] = floor - step * np.arange(1, chosen.size + 1)

    def recommend_batch(
        self,
        customer_ids: Sequence[str],
        k: int,
        *,
        exclude_bought: bool = False,
        product_type: str | None = None,
        department: str | None = None,
        exclude: Sequence[Collection[str]] | None = None,
    ) -> list[RecommendationList]:
        """Recommend up to `k` items to each shopper, scoring in batches.

        `exclude[i]` names more article ids to leave out for shopper i, for
        example purchases recorded after this recommender was built.

        Raises:
            ValueError: k is not between 1 and MAX_K.
        """
        if not 1 <= k <= MAX_K:
            raise ValueError(f"k must be between 1 and {MAX_K}, got {k}")
        mask = self.candidate_mask(product_type=product_type, department=department)
        results: list[RecommendationList] = []
        for start in range(0, len(customer_ids), _BATCH_SHOPPERS):
            batch = list(customer_ids[start : start + _BATCH_SHOPPERS])
            scores, signals = self.serving_scores(batch, mask=mask)
            for row, customer_id in enumerate(batch):
                if exclude_bought:
                    scores[row, self.bought_columns(customer_id)] = -np.inf
                if exclude is not None:
                    extra = [self._column[a] for a in exclude[start + row] if a in self._column]
                    scores[row, extra] = -np.inf
            self.reserve_new_item_slots(scores, signals, batch, k)
            top = top_k_columns(scores, k)
            for row, customer_id in enumerate(batch):
                results.append(self._explain(customer_id, row, top[row], scores[row], signals))
        return results

    def recommend(
        self,
        customer_id: str,
        k: int = 12,
        *,
        exclude_bought: bool = False,
        product_type: str | None = None,
        department: str | None = None,
        exclude: Collection[str] = (),
    ) -> RecommendationList:
        """Recommend up to `k` items to one shopper, best first.

        A shopper with no purchase of any ranker item gets the popular items
        and `fallback=True`; whether the customer exists at all is the
        caller's question.

        Raises:
            ValueError: k is not between 1 and MAX_K.
        """
        return self.recommend_batch(
            [customer_id],
            k,
            exclude_bought=exclude_bought,
            product_type=product_type,
            department=department,
            exclude=[exclude],
        )[0]

    def _explain(
        self,
        customer_id: str,
        row: int,
        columns: np.ndarray,
        scores: np.ndarray,
        signals: ShopperSignals,
    ) -> RecommendationList:
        fallback = not self.has_history(customer_id)
        weights = self.weights
        weighted = {name for name, weight in weights.as_dict().items() if weight > 0}
        items: list[Recommendation] = []
        for column in columns:
            if column < 0:
                break
            # Only weighted signals can explain an item: a signal with weight 0
            # contributes 0, which would beat a negative weighted one.
            contributions = {
                name: value
                for name, value in (
                    ("hybrid", weights.hybrid * signals.hybrid[row, column]),
                    ("visual", weights.visual * signals.visual[row, column]),
                    ("repurchase", weights.repurchase * signals.repurchase[row, column]),
                    ("popularity", weights.popularity * signals.popularity[column]),
                )
                if name in weighted
            } or {"popularity": 0.0}
            if fallback:
                strongest = "popularity"
            elif signals.repurchase[row, column] > 0:
                # An item the shopper bought is explained as a repurchase,
                # whichever signal ranked it, never as a look-alike.
                strongest = "repurchase"
            else:
                strongest = max(contributions, key=contributions.__getitem__)
            reason_en, reason_zh = self._reason(
                strongest, column, int(signals.nearest_bought[row, column])
            )
            items.append(
                Recommendation(
                    article_id=self.item_ids[column],
                    score=float(scores[column]),
                    reason_en=reason_en,
                    reason_zh=reason_zh,
                )
            )
        return RecommendationList(fallback=fallback, items=items)

    def _reason(self, signal: str, column: int, nearest: int) -> tuple[str, str]:
        if signal == "repurchase":
            return "you bought this before", "您之前买过这件商品"
        if signal == "visual" and nearest >= 0 and nearest != column:
            name = self._names[nearest] or self.item_ids[nearest]
            return f"looks like {name} you bought", f"看起来像您买过的{name}"
        if signal in {"hybrid", "visual"}:
            return self._style_reason(column)
        return "popular this week", "本周热销"

    def _style_reason(self, column: int) -> tuple[str, str]:
        colour = self._colours[column]
        product_type = self._types[column]
        colour_label = colour_from_hm(colour)
        colour_zh = COLOUR.display(colour_label, "zh-CN") if colour_label != COLOUR.fallback else ""
        type_zh = product_type_display(product_type, "zh-CN")
        style_en = " ".join(part.lower() for part in (colour, product_type) if part)
        return (
            f"matches your style: {style_en}",
            f"符合您的风格：{colour_zh}{type_zh}",
        )
