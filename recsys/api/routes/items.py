"""Items: details, photos and visually similar items."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session

from catalog.errors import NotFoundError
from catalog.queries import get_item, get_items, image_path, image_paths
from recsys.api.dependencies import DbSession, State
from recsys.api.schemas import ItemPublic, SimilarItemsPublic

__all__ = ["ARTICLE_ID", "item_public_list", "router"]

router = APIRouter(prefix="/v1/items", tags=["items"])

ARTICLE_ID = PathParam(
    min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", examples=["0706016001"]
)


def item_public_list(session: Session, scored: Sequence[tuple[str, float]]) -> list[ItemPublic]:
    """Look up scored item ids in the catalog, keeping their order.

    Ids that are no longer in the catalog are left out.
    """
    items = get_items(session, article_ids=[article_id for article_id, _ in scored])
    with_photo = image_paths(session, article_ids=list(items))
    public: list[ItemPublic] = []
    for article_id, score in scored:
        item = items.get(article_id)
        if item is None:
            continue
        public.append(
            ItemPublic(
                article_id=item.article_id,
                name=item.name,
                product_type=item.product_type,
                colour=item.colour,
                pattern=item.pattern,
                department=item.department,
                image_url=f"/v1/items/{item.article_id}/image"
                if article_id in with_photo
                else None,
                score=score,
            )
        )
    return public


@router.get("/{article_id}/similar", response_model=SimilarItemsPublic)
def similar_items(
    article_id: Annotated[str, ARTICLE_ID],
    state: State,
    session: DbSession,
    k: Annotated[int, Query(ge=1, le=100, description="Number of items to return.")] = 12,
) -> SimilarItemsPublic:
    """Return the `k` catalog items that look most like this one (cosine similarity)."""
    get_item(session, article_id=article_id)
    if article_id not in state.index:
        raise NotFoundError("indexed item", article_id)
    neighbours = state.index.similar_items(article_id, k)
    return SimilarItemsPublic(
        article_id=article_id,
        model_version=state.index.model_version,
        items=item_public_list(session, neighbours),
    )


@router.get("/{article_id}/image", response_class=FileResponse)
def item_image(article_id: Annotated[str, ARTICLE_ID], session: DbSession) -> FileResponse:
    """Return the item's product photo."""
    get_item(session, article_id=article_id)
    path = image_path(session, article_id=article_id)
    if path is None or not Path(path).is_file():
        raise NotFoundError("item photo", article_id)
    return FileResponse(path)
