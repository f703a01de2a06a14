"""Shoppers: example customers for demos and each customer's purchase history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from sqlalchemy import func, select

from catalog.errors import NotFoundError
from catalog.queries import customer_exists
from catalog.tables import Purchase
from recsys.api.dependencies import DbSession, RequestLanguage, State
from recsys.api.routes.items import item_public_list
from recsys.api.schemas import CustomerListPublic, CustomerPublic, ItemPublic

__all__ = ["router"]

router = APIRouter(prefix="/v1/customers", tags=["customers"])

# Shoppers are sampled from the ranker's list in its stored order, so the
# list costs one bounded query however large the catalog is.
_SAMPLE = 500


@router.get("", response_model=CustomerListPublic)
def list_customers(
    state: State,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=100, description="Number of shoppers to return.")] = 20,
) -> CustomerListPublic:
    """Return example shoppers the ranker learned from, longest purchase history first.

    The shoppers come from the first 500 in the ranker's list, so the list
    is meant for demos, not for browsing every customer.
    """
    sample = state.ranker.user_ids[:_SAMPLE]
    if not sample:
        return CustomerListPublic(customers=[])
    counts = session.execute(
        select(Purchase.customer_id, func.count())
        .where(Purchase.customer_id.in_(sample))
        .group_by(Purchase.customer_id)
    ).all()
    ranked = sorted(counts, key=lambda row: (-row[1], row[0]))[:limit]
    return CustomerListPublic(
        customers=[CustomerPublic(customer_id=row[0], purchases=row[1]) for row in ranked]
    )


@router.get("/{customer_id}/purchases", response_model=list[ItemPublic])
def purchase_history(
    customer_id: Annotated[
        str, PathParam(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")
    ],
    session: DbSession,
    language: RequestLanguage,
    limit: Annotated[int, Query(ge=1, le=100, description="Number of items to return.")] = 12,
) -> list[ItemPublic]:
    """Return the distinct items a shopper bought, most recent first."""
    if not customer_exists(session, customer_id=customer_id):
        raise NotFoundError("customer", customer_id)
    rows = session.execute(
        select(Purchase.article_id, func.max(Purchase.purchased_on).label("last"))
        .where(Purchase.customer_id == customer_id)
        .group_by(Purchase.article_id)
        .order_by(func.max(Purchase.purchased_on).desc(), Purchase.article_id)
        .limit(limit)
    ).all()
    return item_public_list(session, [(row[0], None) for row in rows], language=language)
