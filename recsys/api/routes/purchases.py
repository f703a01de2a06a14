"""Purchases: record new purchases for the next ranker training."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Body

from catalog.db import session_scope
from catalog.writes import PurchaseRecord, record_purchases
from recsys.api.dependencies import ApiKey, State
from recsys.api.schemas import PurchaseCreate, PurchasesRecorded

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/purchases", tags=["purchases"])

MAX_PURCHASES_PER_REQUEST = 10_000


@router.post("", response_model=PurchasesRecorded, status_code=201)
def create_purchases(
    state: State,
    _key: ApiKey,
    purchases: Annotated[
        list[PurchaseCreate], Body(min_length=1, max_length=MAX_PURCHASES_PER_REQUEST)
    ],
) -> PurchasesRecorded:
    """Record purchased units; the ranker learns from them at its next training.

    Shoppers seen for the first time are added. The request is all or
    nothing: an unknown article id stores none of the purchases (404).
    """
    records = [PurchaseRecord(**purchase.model_dump()) for purchase in purchases]
    with session_scope(state.engine) as session:
        new_customers = record_purchases(session, purchases=records)
    return PurchasesRecorded(recorded=len(records), new_customers=new_customers)
