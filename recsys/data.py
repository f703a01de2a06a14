"""Read the catalog tables into the frames and features that ranking needs."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from catalog.db import session_scope
from catalog.tables import Item, Purchase
from recsys.features import attribute_tags, visual_clusters

__all__ = ["ITEM_ATTRIBUTES", "build_item_features", "load_items", "load_purchases"]

logger = logging.getLogger(__name__)

# Item columns that become ranker feature tags, by tag prefix.
ITEM_ATTRIBUTES = {
    "type": "product_type",
    "colour": "colour",
    "pattern": "pattern",
    "department": "department",
}


def load_purchases(engine: Engine) -> pd.DataFrame:
    """Return all purchases: columns customer_id, article_id (str), purchased_on (date)."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(Purchase.customer_id, Purchase.article_id, Purchase.purchased_on).order_by(
                Purchase.purchased_on, Purchase.id
            )
        ).all()
    return pd.DataFrame(rows, columns=["customer_id", "article_id", "purchased_on"])


def load_items(engine: Engine) -> pd.DataFrame:
    """Return the catalog items, indexed by article_id (str)."""
    with session_scope(engine) as session:
        items = list(session.scalars(select(Item)))
    frame = pd.DataFrame(
        [
            {
                "article_id": item.article_id,
                "name": item.name,
                "product_type": item.product_type,
                "product_group": item.product_group,
                "colour": item.colour,
                "pattern": item.pattern,
                "department": item.department,
            }
            for item in items
        ],
        columns=[
            "article_id",
            "name",
            "product_type",
            "product_group",
            "colour",
            "pattern",
            "department",
        ],
    )
    return frame.set_index("article_id", drop=False)


def build_item_features(
    items: pd.DataFrame,
    embedded_ids: Sequence[str],
    vectors: np.ndarray,
    *,
    seed: int = 0,
) -> dict[str, list[str]]:
    """Return article_id -> ranker feature tags for every catalog item.

    Tags are the item's attributes (type, colour, pattern, department) and,
    for items with a style embedding, its visual cluster.
    """
    clusters = visual_clusters(embedded_ids, vectors, seed=seed) if len(embedded_ids) else {}
    features: dict[str, list[str]] = {}
    for row in items.itertuples(index=False):
        values = {prefix: str(getattr(row, column)) for prefix, column in ITEM_ATTRIBUTES.items()}
        tags = attribute_tags(values)
        cluster = clusters.get(row.article_id)
        if cluster is not None:
            tags.append(cluster)
        features[str(row.article_id)] = tags
    logger.debug(
        "built features for %d items, %d with a visual cluster", len(features), len(clusters)
    )
    return features
