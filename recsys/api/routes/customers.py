"""Customers: personal recommendations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as PathParam

from catalog.errors import NotFoundError
from catalog.queries import bought_items, customer_exists
from recsys.api.dependencies import DbSession, State
from recsys.api.routes.items import item_public_list
from recsys.api.schemas import RecommendationsPublic

__all__ = ["router"]

router = APIRouter(prefix="/v1/customers", tags=["customers"])

CUSTOMER_ID = PathParam(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")


@router.get("/{customer_id}/recommendations", response_model=RecommendationsPublic)
def recommendations(
    customer_id: Annotated[str, CUSTOMER_ID],
    state: State,
    session: DbSession,
    k: Annotated[int, Query(ge=1, le=100, description="Number of items to return.")] = 12,
    exclude_bought: Annotated[
        bool, Query(description="Leave out items the shopper already bought.")
    ] = False,
) -> RecommendationsPublic:
    """Rank catalog items for a shopper with the hybrid ranker.

    A shopper the ranker has not learned from (no purchase before the last
    training) gets the most popular items, and `fallback` says so.
    """
    ranker = state.ranker
    known = ranker.knows_customer(customer_id)
    if not known and not customer_exists(session, customer_id=customer_id):
        raise NotFoundError("customer", customer_id)

    excluded = bought_items(session, customer_id=customer_id) if exclude_bought else set()
    if known:
        scored = ranker.recommend([customer_id], k, exclude=[excluded])[0]
    else:
        popular = [article for article in ranker.popular if article not in excluded][:k]
        scored = [(article, float(len(popular) - rank)) for rank, article in enumerate(popular)]
    return RecommendationsPublic(
        customer_id=customer_id,
        fallback=not known,
        model_version=str(ranker.metadata.get("trained_at", "unknown")),
        items=item_public_list(session, scored),
    )
