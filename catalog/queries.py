"""Read helpers over the catalog tables, used by the API."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import Session

from catalog.errors import NotFoundError
from catalog.tables import Customer, Item, ItemImage, ItemLabels, Purchase

__all__ = [
    "ItemCard",
    "bought_items",
    "customer_exists",
    "get_item",
    "get_items",
    "image_path",
    "image_paths",
    "item_cards",
    "item_labels",
    "latest_labels_version",
]


def get_items(session: Session, *, article_ids: Sequence[str]) -> dict[str, Item]:
    """Return the items with these ids, by id; unknown ids are left out."""
    if not article_ids:
        return {}
    items = session.scalars(select(Item).where(Item.article_id.in_(list(article_ids))))
    return {item.article_id: item for item in items}


def get_item(session: Session, *, article_id: str) -> Item:
    """Return one item.

    Raises:
        NotFoundError: no item has this id.
    """
    item = session.get(Item, article_id)
    if item is None:
        raise NotFoundError("item", article_id)
    return item


def customer_exists(session: Session, *, customer_id: str) -> bool:
    return session.get(Customer, customer_id) is not None


def bought_items(session: Session, *, customer_id: str) -> set[str]:
    """Return the ids of every item the customer bought."""
    return set(
        session.scalars(select(Purchase.article_id).where(Purchase.customer_id == customer_id))
    )


def image_path(session: Session, *, article_id: str) -> str | None:
    """Return the path of the item's first photo, or None when it has none."""
    return session.scalars(
        select(ItemImage.path).where(ItemImage.article_id == article_id).order_by(ItemImage.id)
    ).first()


def image_paths(session: Session, *, article_ids: Sequence[str]) -> dict[str, str]:
    """Return article_id -> path of its first photo, for the items that have one."""
    if not article_ids:
        return {}
    rows = session.execute(
        select(ItemImage.article_id, ItemImage.path)
        .where(ItemImage.article_id.in_(list(article_ids)))
        .order_by(ItemImage.id.desc())
    )
    # Later rows overwrite earlier ones, so descending ids leave the first photo.
    return {article_id: path for article_id, path in rows}


def latest_labels_version(session: Session) -> str | None:
    """Return the model version of the most recently stored labels, or None when there are none."""
    return session.scalars(
        select(ItemLabels.model_version).order_by(ItemLabels.id.desc()).limit(1)
    ).first()


def item_labels(
    session: Session, *, article_ids: Sequence[str], model_version: str | None = None
) -> dict[str, ItemLabels]:
    """Return article_id -> the labels of its first photo, for items that have current labels.

    Labels count as current when they were made from the photo's present
    content (same sha256). `model_version` defaults to the version of the most
    recently stored labels; items without labels of that version are left out.
    """
    if not article_ids:
        return {}
    version = model_version or latest_labels_version(session)
    if version is None:
        return {}
    rows = session.execute(
        select(ItemImage.article_id, ItemLabels)
        .join(ItemLabels, ItemLabels.image_id == ItemImage.id)
        .where(
            ItemImage.article_id.in_(list(article_ids)),
            ItemLabels.model_version == version,
            ItemLabels.image_sha256 == ItemImage.sha256,
        )
        .order_by(ItemImage.id.desc())
    )
    # Later rows overwrite earlier ones, so descending ids leave the first photo.
    return {article_id: labels for article_id, labels in rows}


@dataclass(frozen=True)
class ItemCard:
    """One item of a list: its catalog row, whether it has a photo, and its labels."""

    item: Item
    has_photo: bool
    labels: ItemLabels | None


# Built once: constructing the statement cost more than running it on SQLite.
_NEWEST_LABELS_VERSION = (
    select(ItemLabels.model_version).order_by(ItemLabels.id.desc()).limit(1).scalar_subquery()
)
_ITEM_CARDS = (
    select(Item, ItemImage.id, ItemLabels)
    .outerjoin(ItemImage, ItemImage.article_id == Item.article_id)
    .outerjoin(
        ItemLabels,
        and_(
            ItemLabels.image_id == ItemImage.id,
            ItemLabels.model_version == _NEWEST_LABELS_VERSION,
            ItemLabels.image_sha256 == ItemImage.sha256,
        ),
    )
    .where(Item.article_id.in_(bindparam("article_ids", expanding=True)))
    .order_by(ItemImage.id.desc())
)


def item_cards(session: Session, *, article_ids: Sequence[str]) -> dict[str, ItemCard]:
    """Return article_id -> its card, for the ids that are in the catalog.

    One query gives what `get_items`, `image_paths` and `item_labels` give
    together: a recommendation list costs one round trip instead of four.
    The labels are those of the item's first photo, from the most recently
    stored labels' model version, made from the photo's present content.
    """
    if not article_ids:
        return {}
    rows = session.execute(_ITEM_CARDS, {"article_ids": list(article_ids)})
    # Later rows overwrite earlier ones, so descending ids leave the first photo.
    return {
        item.article_id: ItemCard(item=item, has_photo=image_id is not None, labels=labels)
        for item, image_id, labels in rows
    }
