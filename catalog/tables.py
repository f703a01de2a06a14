"""SQL tables of the catalog: items, their images, shoppers, purchases, embeddings, labels."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = ["Base", "Customer", "Embedding", "Item", "ItemImage", "ItemLabels", "Purchase"]

# Explicit constraint names keep Alembic migrations identical on SQLite and
# PostgreSQL, and let batch mode on SQLite find constraints by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Item(Base):
    """A catalog product (an H&M article), identified by its string id."""

    __tablename__ = "items"

    # Article ids are strings: "0123173001" as an integer loses its leading
    # zero and no longer matches the image file name.
    article_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    product_code: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255), default="")
    product_type: Mapped[str] = mapped_column(String(128), default="")
    product_group: Mapped[str] = mapped_column(String(128), default="")
    pattern: Mapped[str] = mapped_column(String(128), default="")
    colour: Mapped[str] = mapped_column(String(128), default="")
    department: Mapped[str] = mapped_column(String(128), default="")
    section: Mapped[str] = mapped_column(String(128), default="")
    garment_group: Mapped[str] = mapped_column(String(128), default="")
    description: Mapped[str] = mapped_column(Text, default="")

    images: Mapped[list[ItemImage]] = relationship(
        back_populates="item", cascade="all, delete-orphan"
    )


class ItemImage(Base):
    """A product photo on disk. A new `sha256` means its content changed."""

    __tablename__ = "item_images"
    __table_args__ = (UniqueConstraint("article_id", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[str] = mapped_column(
        ForeignKey("items.article_id", ondelete="CASCADE"), index=True
    )
    path: Mapped[str] = mapped_column(String(1024))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)

    item: Mapped[Item] = relationship(back_populates="images")


class Customer(Base):
    """A shopper, identified by the retailer's id string."""

    __tablename__ = "customers"

    customer_id: Mapped[str] = mapped_column(String(128), primary_key=True)


class Purchase(Base):
    """One purchased unit. Repeated rows are real repeat purchases.

    `source` names the file a row was imported from, so importing the same
    file again replaces its rows instead of adding them twice.
    """

    __tablename__ = "purchases"
    __table_args__ = (
        Index("ix_purchases_customer_id_purchased_on", "customer_id", "purchased_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.customer_id", ondelete="CASCADE")
    )
    article_id: Mapped[str] = mapped_column(
        ForeignKey("items.article_id", ondelete="CASCADE"), index=True
    )
    purchased_on: Mapped[dt.date] = mapped_column(Date, index=True)
    price: Mapped[float | None] = mapped_column(Float)
    sales_channel: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(1024), index=True)


class Embedding(Base):
    """The style embedding of an item image under one model version.

    `vector` is `dim` little-endian float32 values, L2-normalised.
    """

    __tablename__ = "embeddings"
    __table_args__ = (UniqueConstraint("image_id", "model_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(
        ForeignKey("item_images.id", ondelete="CASCADE"), index=True
    )
    model_version: Mapped[str] = mapped_column(String(255), index=True)
    image_sha256: Mapped[str] = mapped_column(String(64))
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class ItemLabels(Base):
    """The head-attire labels that one classifier version gave an item image.

    Label columns contain the English label names of `classifier.taxonomy`,
    and ``type`` is ``none`` for everything that is not head attire. Each
    confidence is the classifier's softmax probability of that label, 0..1.
    """

    __tablename__ = "item_labels"
    __table_args__ = (UniqueConstraint("image_id", "model_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(
        ForeignKey("item_images.id", ondelete="CASCADE"), index=True
    )
    model_version: Mapped[str] = mapped_column(String(255), index=True)
    image_sha256: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(64))
    type_confidence: Mapped[float] = mapped_column(Float)
    colour: Mapped[str] = mapped_column(String(64))
    colour_confidence: Mapped[float] = mapped_column(Float)
    pattern: Mapped[str] = mapped_column(String(64))
    pattern_confidence: Mapped[float] = mapped_column(Float)
    material: Mapped[str] = mapped_column(String(64))
    material_confidence: Mapped[float] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
