"""Item features for the hybrid ranker: attribute tags and visual clusters."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import faiss
import numpy as np

__all__ = ["attribute_tags", "default_cluster_count", "visual_clusters"]

logger = logging.getLogger(__name__)

_MAX_CLUSTERS = 64
_ITEMS_PER_CLUSTER = 50


def attribute_tags(attributes: Mapping[str, str]) -> list[str]:
    """Turn an item's attribute values into ranker feature names.

    `{"type": "Hat/beanie", "colour": "Black"}` gives
    `["type:Hat/beanie", "colour:Black"]`; empty values are left out.
    """
    return [f"{name}:{value}" for name, value in attributes.items() if value]


def default_cluster_count(n_items: int) -> int:
    """Return about one visual cluster per 50 items, between 2 and 64."""
    return max(2, min(_MAX_CLUSTERS, n_items // _ITEMS_PER_CLUSTER))


def visual_clusters(
    article_ids: Sequence[str], vectors: np.ndarray, *, n_clusters: int | None = None, seed: int = 0
) -> dict[str, str]:
    """Assign each item to a k-means cluster of its style embedding.

    Clustering runs on the unit vectors with inner product (spherical
    k-means). Items that look alike share a cluster feature, so an item with
    no purchases borrows what the ranker learned from its look-alikes.

    Returns:
        article_id -> feature name such as "visual:17". Empty when there are
        fewer than two items.
    """
    if len(article_ids) < 2:
        return {}
    count = min(n_clusters or default_cluster_count(len(article_ids)), len(article_ids))
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    kmeans = faiss.Kmeans(
        matrix.shape[1],
        count,
        niter=20,
        seed=seed,
        spherical=True,
        verbose=False,
        # FAISS warns when it has under 39 points per centroid; those runs
        # are still valid for grouping items, so the warning is silenced.
        min_points_per_centroid=1,
    )
    kmeans.train(matrix)
    _, assignment = kmeans.index.search(matrix, 1)
    logger.debug("clustered %d items into %d visual clusters", len(article_ids), count)
    return {
        article_id: f"visual:{int(cluster)}"
        for article_id, cluster in zip(article_ids, assignment[:, 0], strict=True)
    }
