"""Customers: personal recommendations from the served blend."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as PathParam

from catalog.errors import NotFoundError
from catalog.queries import bought_items, customer_exists
from recsys.api.dependencies import DbSession, RequestLanguage, State
from recsys.api.routes.items import item_public_list
from recsys.api.schemas import RecommendationsPublic
from recsys.recommend import MAX_K

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/customers", tags=["customers"])

CUSTOMER_ID = PathParam(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")


# NOTE: this handler is `async def`, so it runs on the event loop instead of
# FastAPI's thread pool. Its work is a few milliseconds of CPU under the GIL
# plus indexed catalog reads, so the pool added no parallelism. At 200
# requests/s over 32 connections on 2 cores (benchmarks/api_load.py) the
# handoff cost 1.3 ms of CPU a request and raised p99 from 25 to 92 ms.
# A catalog read that stalls (a remote database that hangs) also stalls this
# worker's other requests.
@router.get("/{customer_id}/recommendations", response_model=RecommendationsPublic)
async def recommendations(
    customer_id: Annotated[str, CUSTOMER_ID],
    state: State,
    session: DbSession,
    language: RequestLanguage,
    k: Annotated[int, Query(ge=1, le=MAX_K, description="Number of items to return.")] = 12,
    exclude_bought: Annotated[
        bool, Query(description="Leave out items the shopper already bought.")
    ] = False,
    product_type: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            description="Only items of this catalog product type, e.g. `Hat/beanie`.",
        ),
    ] = None,
    department: Annotated[
        str | None,
        Query(min_length=1, max_length=100, description="Only items of this catalog department."),
    ] = None,
) -> RecommendationsPublic:
    """Rank catalog items for a shopper with the served blend.

    The blend adds the hybrid ranker's score, how much an item looks like
    the shopper's purchases and whether they bought it recently. A shopper
    with no purchase gets the most popular items, with `fallback` set to true.
    Filters compare case-insensitively; a value no item has gives an empty list.
    """
    recommender = state.recommender
    if not recommender.has_history(customer_id) and not customer_exists(
        session, customer_id=customer_id
    ):
        raise NotFoundError("customer", customer_id)

    # NOTE: purchases recorded after the recommender was built shape its
    # signals only from the next ranker; here they are at least excluded.
    excluded = bought_items(session, customer_id=customer_id) if exclude_bought else set()
    ranked = recommender.recommend(
        customer_id,
        k,
        exclude_bought=exclude_bought,
        product_type=product_type,
        department=department,
        exclude=excluded,
    )
    items = item_public_list(
        session, [(item.article_id, item.score) for item in ranked.items], language=language
    )
    reasons = {
        item.article_id: item.reason_zh if language == "zh-CN" else item.reason_en
        for item in ranked.items
    }
    for item in items:
        item.reason = reasons.get(item.article_id)
    return RecommendationsPublic(
        customer_id=customer_id,
        fallback=ranked.fallback,
        model_version=str(state.ranker.metadata.get("trained_at", "unknown")),
        items=items,
    )
