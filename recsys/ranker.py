"""The hybrid ranker: LightFM on purchases, with visual and attribute item features.

Training uses LightFM. Serving does not: the learned user and item
representations are saved as arrays, and scoring all items for a batch of
shoppers is one matrix product plus a partial sort.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from recsys.artifacts import current_version_dir, publish_version, write_json_atomic
from recsys.popularity import popular_items

__all__ = [
    "LightFMFit",
    "RankerModel",
    "TrainingConfig",
    "fit_lightfm",
    "ranker_from_fit",
    "train_ranker",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class TrainingConfig:
    """LightFM hyper-parameters.

    Attributes:
        components: dimension of the user and item representations.
        epochs: passes over the interactions.
        learning_rate: SGD step size (adagrad schedule).
        loss: LightFM loss; "warp" optimises the top of the ranking.
        item_alpha: L2 penalty on item features, per sample.
        popularity_window_days: days of the fallback popularity window.
        seed: random seed of LightFM and of the feature clustering.
        threads: LightFM training threads.
    """

    components: int = 48
    epochs: int = 30
    learning_rate: float = 0.05
    loss: str = "warp"
    item_alpha: float = 1e-6
    popularity_window_days: int = 7
    seed: int = 7
    threads: int = 2

    def __post_init__(self) -> None:
        if self.components < 1:
            raise ValueError(f"components must be at least 1, got {self.components}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.loss not in {"warp", "bpr", "logistic", "warp-kos"}:
            raise ValueError(f"loss must be warp, bpr, logistic or warp-kos, got {self.loss!r}")


@dataclass
class RankerModel:
    """Learned representations of shoppers and items, in catalog id space.

    Scores are `user_factors[u] @ item_factors.T + item_biases`; the user
    bias is left out because it does not change a shopper's ranking.

    Attributes:
        user_ids: customer ids with a purchase in the training data.
        item_ids: every item that had features at training time, including
            items never bought (they are scored through their features).
        user_factors: float32 (len(user_ids), components).
        item_factors: float32 (len(item_ids), components).
        item_biases: float32 (len(item_ids),).
        popular: fallback ranking for shoppers with no history, most popular first.
        metadata: training parameters, counts and data range.
    """

    user_ids: list[str]
    item_ids: list[str]
    user_factors: np.ndarray
    item_factors: np.ndarray
    item_biases: np.ndarray
    popular: list[str]
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._user_row = {customer_id: i for i, customer_id in enumerate(self.user_ids)}
        self._item_column = {article_id: i for i, article_id in enumerate(self.item_ids)}

    def knows_customer(self, customer_id: str) -> bool:
        return customer_id in self._user_row

    def item_column(self, article_id: str) -> int | None:
        return self._item_column.get(article_id)

    def score_items(self, customer_ids: Sequence[str]) -> np.ndarray:
        """Score every item for each known shopper.

        Returns:
            float32 (len(customer_ids), len(item_ids)), higher is better.

        Raises:
            KeyError: a customer id is not in `user_ids`; check
                `knows_customer` first and use `popular` for the others.
        """
        rows = [self._user_row[customer_id] for customer_id in customer_ids]
        scores = self.user_factors[rows] @ self.item_factors.T
        scores += self.item_biases[None, :]
        return scores

    def recommend(
        self,
        customer_ids: Sequence[str],
        k: int,
        *,
        exclude: Sequence[set[str]] | None = None,
    ) -> list[list[tuple[str, float]]]:
        """Return the top `k` items per known shopper, best first.

        `exclude[i]` names items that must not appear for shopper i (for
        example what they bought already). Ties keep catalog order.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if not customer_ids:
            return []
        scores = self.score_items(customer_ids)
        if exclude is not None:
            for row, items in enumerate(exclude):
                columns = [self._item_column[a] for a in items if a in self._item_column]
                scores[row, columns] = -np.inf
        take = min(k, scores.shape[1])
        top = np.argpartition(-scores, take - 1, axis=1)[:, :take]
        results: list[list[tuple[str, float]]] = []
        for row, candidates in enumerate(top):
            order = candidates[np.argsort(-scores[row, candidates], kind="stable")]
            results.append(
                [
                    (self.item_ids[c], float(scores[row, c]))
                    for c in order
                    if np.isfinite(scores[row, c])
                ]
            )
        return results

    def save(self, root: Path) -> Path:
        """Publish the model as a new version under `root`; return its directory."""
        with publish_version(root) as publication:
            np.savez(
                publication.staging / "factors.npz",
                user_factors=self.user_factors,
                item_factors=self.item_factors,
                item_biases=self.item_biases,
            )
            write_json_atomic(
                publication.staging / "ids.json",
                {"user_ids": self.user_ids, "item_ids": self.item_ids, "popular": self.popular},
            )
            write_json_atomic(publication.staging / "metadata.json", self.metadata)
        return publication.final

    @classmethod
    def load(cls, root: Path) -> RankerModel:
        """Load the current version under `root`.

        Raises:
            ArtifactMissingError: no ranker was published.
        """
        directory = current_version_dir(root, produced_by="milliner train")
        arrays = np.load(directory / "factors.npz")
        ids = json.loads((directory / "ids.json").read_text(encoding="utf-8"))
        metadata = json.loads((directory / "metadata.json").read_text(encoding="utf-8"))
        return cls(
            user_ids=ids["user_ids"],
            item_ids=ids["item_ids"],
            user_factors=arrays["user_factors"],
            item_factors=arrays["item_factors"],
            item_biases=arrays["item_biases"],
            popular=ids["popular"],
            metadata=metadata,
        )


@dataclass
class LightFMFit:
    """A trained LightFM model with the matrices and id maps it was trained on.

    `user_ids[i]` and `item_ids[j]` are the catalog ids of LightFM's
    internal user index i and item index j.
    """

    model: Any
    interactions: Any
    item_features: Any
    user_ids: list[str]
    item_ids: list[str]
    purchases: pd.DataFrame
    tags: list[str]
    seconds: float


def fit_lightfm(
    purchases: pd.DataFrame,
    item_features: Mapping[str, Sequence[str]],
    *,
    config: TrainingConfig | None = None,
    progress: bool = False,
) -> LightFMFit:
    """Fit LightFM on purchases with per-item feature tags.

    Args:
        purchases: columns `customer_id`, `article_id` (str) and
            `purchased_on` (date). Repeat purchases of the same item by the
            same shopper collapse into one interaction.
        item_features: article_id -> feature names (attribute tags, visual
            cluster). Every item here is scored, bought or not; each also
            gets an identity feature, so items with identical tags still
            score differently once bought. Purchases of items missing here
            are dropped with a warning.

    Raises:
        ValueError: no purchase refers to a known item, or training diverged.
    """
    from lightfm import LightFM
    from lightfm.data import Dataset

    config = config or TrainingConfig()
    started = time.perf_counter()

    # Validate and collapse repeat purchases into one interaction each.
    known = purchases["article_id"].isin(item_features.keys())
    if not known.all():
        logger.warning(
            "dropping %d purchases of %d items that have no features",
            int((~known).sum()),
            purchases.loc[~known, "article_id"].nunique(),
        )
    usable = purchases.loc[known]
    if usable.empty:
        raise ValueError("no purchase refers to an item with features: run `milliner index` first")
    pairs = usable[["customer_id", "article_id"]].drop_duplicates()

    # Build the interaction and feature matrices.
    item_ids = sorted(item_features)
    tags = sorted({tag for item_tags in item_features.values() for tag in item_tags})
    dataset = Dataset(user_identity_features=True, item_identity_features=True)
    dataset.fit(users=sorted(pairs["customer_id"].unique()), items=item_ids, item_features=tags)
    interactions, _ = dataset.build_interactions(pairs.itertuples(index=False, name=None))
    features = dataset.build_item_features(
        ((article_id, list(item_features[article_id])) for article_id in item_ids),
        normalize=True,
    )

    # Train one epoch at a time, so the progress bar moves.
    model = LightFM(
        no_components=config.components,
        loss=config.loss,
        learning_rate=config.learning_rate,
        item_alpha=config.item_alpha,
        random_state=np.random.RandomState(config.seed),
    )
    for _ in tqdm(range(config.epochs), desc="train", unit="epoch", disable=not progress):
        model.fit_partial(
            interactions, item_features=features, epochs=1, num_threads=config.threads
        )
    if not np.isfinite(model.item_embeddings).all():
        raise ValueError(
            "LightFM produced non-finite parameters: lower the learning rate "
            f"(now {config.learning_rate}) or the number of epochs"
        )

    user_map, _, item_map, _ = dataset.mapping()
    seconds = time.perf_counter() - started
    logger.info(
        "trained LightFM on %d interactions of %d shoppers and %d items in %.1f s",
        interactions.nnz,
        len(user_map),
        len(item_map),
        seconds,
    )
    return LightFMFit(
        model=model,
        interactions=interactions,
        item_features=features,
        user_ids=sorted(user_map, key=user_map.__getitem__),
        item_ids=sorted(item_map, key=item_map.__getitem__),
        purchases=usable,
        tags=tags,
        seconds=seconds,
    )


def train_ranker(
    purchases: pd.DataFrame,
    item_features: Mapping[str, Sequence[str]],
    *,
    config: TrainingConfig | None = None,
    progress: bool = False,
) -> RankerModel:
    """Fit LightFM (see `fit_lightfm`) and keep what serving needs.

    Raises:
        ValueError: no purchase refers to a known item, or training diverged.
    """
    config = config or TrainingConfig()
    fit = fit_lightfm(purchases, item_features, config=config, progress=progress)
    return ranker_from_fit(fit, config=config)


def ranker_from_fit(fit: LightFMFit, *, config: TrainingConfig) -> RankerModel:
    """Extract the learned representations of a LightFM fit into a `RankerModel`."""
    item_biases, item_factors = fit.model.get_item_representations(fit.item_features)
    _, user_factors = fit.model.get_user_representations()
    usable = fit.purchases
    metadata = {
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "config": dict(config.__dict__),
        "users": len(fit.user_ids),
        "items": len(fit.item_ids),
        "interactions": int(fit.interactions.nnz),
        "purchases": len(usable),
        "features": len(fit.tags),
        "first_day": str(min(usable["purchased_on"])),
        "last_day": str(max(usable["purchased_on"])),
        "seconds": round(fit.seconds, 2),
    }
    return RankerModel(
        user_ids=fit.user_ids,
        item_ids=fit.item_ids,
        user_factors=np.ascontiguousarray(user_factors, dtype=np.float32),
        item_factors=np.ascontiguousarray(item_factors, dtype=np.float32),
        item_biases=np.ascontiguousarray(item_biases, dtype=np.float32),
        popular=popular_items(usable, window_days=config.popularity_window_days),
        metadata=metadata,
    )
