"""Request and response schemas of the HTTP API."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field, field_validator

__all__ = [
    "AttirePublic",
    "CustomerListPublic",
    "CustomerPublic",
    "HealthPublic",
    "ItemLabelsPublic",
    "ItemPublic",
    "LabelPublic",
    "LookPublic",
    "PurchaseCreate",
    "PurchasesRecorded",
    "ReadinessPublic",
    "RecommendationsPublic",
    "SimilarItemsPublic",
]


class LabelPublic(BaseModel):
    """One predicted or catalog label with its display name in the requested language."""

    name: str = Field(description="Label identifier (lowercase snake_case English).")
    display: str = Field(description="Display name in the language of `Accept-Language`.")
    confidence: float | None = Field(
        default=None, description="Probability in [0, 1]; null for labels taken from the catalog."
    )


class ItemLabelsPublic(BaseModel):
    """Head-attire labels of a catalog item."""

    type: LabelPublic
    colour: LabelPublic
    pattern: LabelPublic
    material: LabelPublic | None = Field(
        default=None, description="Null when the catalog gives no material."
    )
    source: Literal["classifier", "catalog"] = Field(
        description="`classifier`: predicted by the trained classifier; `catalog`: mapped "
        "from the retailer's product fields."
    )


class ItemPublic(BaseModel):
    """A catalog item as storefronts see it."""

    article_id: str = Field(examples=["0706016001"])
    name: str
    product_type: str
    colour: str
    pattern: str
    department: str
    image_url: str | None = Field(description="Path of the product photo on this server, if any.")
    score: float | None = Field(
        default=None, description="Ranking score or cosine similarity; higher is closer."
    )
    reason: str | None = Field(
        default=None, description="Why the item was recommended, in the requested language."
    )
    labels: ItemLabelsPublic | None = Field(
        default=None, description="Head-attire labels; null where they were not looked up."
    )


class RecommendationsPublic(BaseModel):
    """Items recommended for one shopper, best first."""

    customer_id: str
    fallback: bool = Field(
        description="True when the shopper has no purchase the ranker learned from and "
        "the items are the most popular ones instead."
    )
    model_version: str = Field(description="Training time of the ranker that produced the list.")
    items: list[ItemPublic]


class SimilarItemsPublic(BaseModel):
    """Items that look most like a given item, closest first."""

    article_id: str
    model_version: str = Field(description="Embedding model of the similarity index.")
    items: list[ItemPublic]


class AttirePublic(BaseModel):
    """The head attire that the classifier detects on the head (or in the whole product photo)."""

    type: LabelPublic = Field(description="`none` when nothing is worn on the head.")
    colour: LabelPublic
    pattern: LabelPublic
    material: LabelPublic


class LookPublic(BaseModel):
    """The result of "shop this look" on one uploaded photo."""

    kind: Literal["person", "product"] = Field(
        description="`person`: a head was found and its region was analysed; `product`: "
        "no person was found and the whole photo was analysed."
    )
    width: int = Field(description="Width of the upright photo, in pixels.")
    height: int = Field(description="Height of the upright photo, in pixels.")
    head_box: tuple[int, int, int, int] | None = Field(
        description="Head region as (left, top, right, bottom) pixels of the upright photo; "
        "null for a product photo."
    )
    attire: AttirePublic | None = Field(
        description="Detected head attire; null when nothing is worn on a person's head, "
        "or when no trained classifier is loaded (see `attire_note`)."
    )
    attire_note: str | None = Field(
        default=None, description="Why `attire` is null, and how to get labels."
    )
    customer_id: str | None = Field(
        default=None, description="The shopper whose history re-ranked the items, if any."
    )
    model_version: str = Field(description="Embedding model of the similarity index.")
    items: list[ItemPublic]


class CustomerPublic(BaseModel):
    """A shopper and the size of their purchase history."""

    customer_id: str
    purchases: int = Field(description="Number of purchased units in the catalog.")


class CustomerListPublic(BaseModel):
    """Example shoppers for demos, those with the longest histories first."""

    customers: list[CustomerPublic]


class PurchaseCreate(BaseModel):
    """One purchased unit to record for the next ranker training."""

    customer_id: str = Field(
        min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$"
    )
    article_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")
    purchased_on: dt.date = Field(description="Day of the purchase; at most one day ahead of UTC.")
    price: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    sales_channel: int | None = Field(default=None, ge=0)

    @field_validator("purchased_on")
    @classmethod
    def _not_in_future(cls, value: dt.date) -> dt.date:
        # One day of slack covers shops ahead of UTC. A far-future date would
        # otherwise move every later evaluation's default cut past the data.
        latest = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
        if value > latest:
            raise ValueError(
                f"purchased_on {value} is in the future (latest accepted: {latest}): "
                "send the day the purchase was made"
            )
        return value


class PurchasesRecorded(BaseModel):
    """How many purchases a request stored, and how many shoppers were new."""

    recorded: int
    new_customers: int


class HealthPublic(BaseModel):
    status: str = Field(examples=["ok"])


class ReadinessPublic(BaseModel):
    """The artifact versions that a ready server serves from."""

    status: str = Field(examples=["ready"])
    index_version: str
    index_size: int
    embedding_model: str
    ranker_version: str
    classifier_version: str | None
    classifier_error: str | None = Field(
        default=None,
        description="Why the published classifier cannot be loaded; the rest still serves.",
    )
