"""Request and response schemas of the HTTP API."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["HealthPublic", "ItemPublic", "RecommendationsPublic", "SimilarItemsPublic"]


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


class HealthPublic(BaseModel):
    status: str = Field(examples=["ok"])
