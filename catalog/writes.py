"""Write helpers over the catalog tables, used by the API's write endpoints."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from catalog.errors import NotFoundError
from catalog.tables import Customer, Embedding, Item, ItemImage, ItemLabels, Purchase

__all__ = [
    "API_PURCHASE_SOURCE",
    "ItemFields",
    "PurchaseRecord",
    "record_purchases",
    "replace_item_image",
    "save_item",
]

logger = logging.getLogger(__name__)

# Purchases recorded through the API carry this `source`, so re-importing a
# transactions file (which replaces the rows of that file) never removes them.
API_PURCHASE_SOURCE = "api"

_LABEL_COLUMNS = tuple(
    column
    for task in ("type", "colour", "pattern", "material")
    for column in (task, f"{task}_confidence")
)


@dataclass(frozen=True, kw_only=True)
class ItemFields:
    """Descriptive fields of a catalog item; None leaves a stored value unchanged."""

    name: str | None = None
    product_type: str | None = None
    product_group: str | None = None
    colour: str | None = None
    pattern: str | None = None
    department: str | None = None
    section: str | None = None
    garment_group: str | None = None
    description: str | None = None


@dataclass(frozen=True, kw_only=True)
class PurchaseRecord:
    """One purchased unit; ids are catalog ids."""

    customer_id: str
    article_id: str
    purchased_on: dt.date
    price: float | None = None
    sales_channel: int | None = None


def save_item(session: Session, *, article_id: str, fields: ItemFields) -> Item:
    """Create the item `article_id`, or update the fields that are not None.

    Returns:
        The item row, flushed but not committed.
    """
    item = session.get(Item, article_id)
    if item is None:
        item = Item(article_id=article_id)
        session.add(item)
    for name, value in vars(fields).items():
        if value is not None:
            setattr(item, name, value)
    session.flush()
    return item


def replace_item_image(
    session: Session,
    *,
    article_id: str,
    path: str,
    sha256: str,
    size_bytes: int,
    vector: np.ndarray,
    model_version: str,
    labels: Mapping[str, str | float] | None = None,
    labels_version: str | None = None,
) -> ItemImage:
    """Make `path` the item's only photo and store its embedding under `model_version`.

    The stored embedding (and labels) carry the photo's hash, so the batch
    indexing job treats the photo as up to date and includes it in the next
    index without embedding it again.

    Args:
        vector: unit float32 embedding, shape (dim,).
        labels: classifier labels as `HeadAttire.to_dict()` gives them (`type`,
            `type_confidence`, ...), stored under `labels_version`; None stores none.

    Raises:
        NotFoundError: no item has this id.
    """
    if session.get(Item, article_id) is None:
        raise NotFoundError("item", article_id)
    session.execute(delete(ItemImage).where(ItemImage.article_id == article_id))
    image = ItemImage(article_id=article_id, path=path, sha256=sha256, size_bytes=size_bytes)
    session.add(image)
    session.flush()
    values = np.asarray(vector, dtype="<f4").reshape(-1)
    session.add(
        Embedding(
            image_id=image.id,
            model_version=model_version,
            image_sha256=sha256,
            dim=int(values.shape[0]),
            vector=values.tobytes(),
        )
    )
    if labels is not None and labels_version is not None:
        session.add(
            ItemLabels(
                image_id=image.id,
                model_version=labels_version,
                image_sha256=sha256,
                **{column: labels[column] for column in _LABEL_COLUMNS},
            )
        )
    session.flush()
    return image


def record_purchases(session: Session, *, purchases: Sequence[PurchaseRecord]) -> int:
    """Store purchases for the next ranker training, adding shoppers seen for the first time.

    Returns:
        The number of shoppers that were not in the catalog before.

    Raises:
        NotFoundError: an article id is not in the catalog; nothing is stored.
    """
    article_ids = {purchase.article_id for purchase in purchases}
    known_items = set(
        session.scalars(select(Item.article_id).where(Item.article_id.in_(article_ids)))
    )
    for purchase in purchases:
        if purchase.article_id not in known_items:
            raise NotFoundError("item", purchase.article_id)

    customer_ids = {purchase.customer_id for purchase in purchases}
    known_customers = set(
        session.scalars(select(Customer.customer_id).where(Customer.customer_id.in_(customer_ids)))
    )
    new_customers = sorted(customer_ids - known_customers)
    session.add_all(Customer(customer_id=customer_id) for customer_id in new_customers)
    session.add_all(
        Purchase(
            customer_id=purchase.customer_id,
            article_id=purchase.article_id,
            purchased_on=purchase.purchased_on,
            price=purchase.price,
            sales_channel=purchase.sales_channel,
            source=API_PURCHASE_SOURCE,
        )
        for purchase in purchases
    )
    session.flush()
    logger.info(
        "recorded %d purchases of %d shoppers (%d new)",
        len(purchases),
        len(customer_ids),
        len(new_customers),
    )
    return len(new_customers)
