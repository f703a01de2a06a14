"""Items: details, photos, visually similar items, and adding or changing products."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import numpy as np
from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from PIL import Image
from sqlalchemy.orm import Session

from catalog.db import session_scope
from catalog.errors import NotFoundError
from catalog.queries import get_item, get_items, image_path, item_cards, item_labels
from catalog.tables import Item, ItemLabels
from catalog.writes import ItemFields, replace_item_image, save_item
from classifier.taxonomy import Language
from recsys.api.dependencies import ApiKey, DbSession, Holder, RequestLanguage, State, UploadLimit
from recsys.api.errors import ItemExistsError
from recsys.api.labels import catalog_labels, catalog_type, stored_labels
from recsys.api.photo_analysis import embed_product
from recsys.api.schemas import ItemPublic, SimilarItemsPublic
from recsys.api.state import ServingState
from recsys.api.uploads import read_photo, save_without_metadata

__all__ = ["ARTICLE_ID", "item_public", "item_public_list", "router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/items", tags=["items"])

ARTICLE_ID = PathParam(
    min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$", examples=["0706016001"]
)
# An id may not start with a dot, so "." and ".." never become URL path segments.
_ID_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$"

# With same_type=true the neighbours are filtered after the search, so the
# search requests this many times k, and stops after this many rounds.
_SAME_TYPE_OVERFETCH = 4
_SAME_TYPE_ROUNDS = 4


def item_public(
    item: Item,
    *,
    has_photo: bool,
    score: float | None = None,
    language: Language = "en",
    labels: ItemLabels | None = None,
) -> ItemPublic:
    """Convert a catalog row to the response schema.

    The labels are those the classifier stored (`labels`), or else mapped
    from the item's catalog fields.
    """
    return ItemPublic(
        article_id=item.article_id,
        name=item.name,
        product_type=item.product_type,
        colour=item.colour,
        pattern=item.pattern,
        department=item.department,
        image_url=f"/v1/items/{item.article_id}/image" if has_photo else None,
        score=score,
        labels=stored_labels(labels, language) if labels else catalog_labels(item, language),
    )


def item_public_list(
    session: Session,
    scored: Sequence[tuple[str, float | None]],
    *,
    language: Language = "en",
) -> list[ItemPublic]:
    """Look up scored item ids in the catalog, keeping their order.

    Ids that are no longer in the catalog are left out.
    """
    cards = item_cards(session, article_ids=[article_id for article_id, _ in scored])
    public: list[ItemPublic] = []
    for article_id, score in scored:
        card = cards.get(article_id)
        if card is None:
            continue
        public.append(
            item_public(
                card.item,
                has_photo=card.has_photo,
                score=score,
                language=language,
                labels=card.labels,
            )
        )
    return public


@router.get("/{article_id}", response_model=ItemPublic)
def read_item(
    article_id: Annotated[str, ARTICLE_ID], session: DbSession, language: RequestLanguage
) -> ItemPublic:
    """Return one item with its labels and the URL of its photo."""
    item = get_item(session, article_id=article_id)
    has_photo = image_path(session, article_id=article_id) is not None
    labels = item_labels(session, article_ids=[article_id]).get(article_id)
    return item_public(item, has_photo=has_photo, language=language, labels=labels)


def _same_type_neighbours(
    state: ServingState, session: Session, item: Item, k: int
) -> list[tuple[str, float]]:
    item_type = catalog_type(item)
    # Items outside head attire all have type "none", so for them the
    # retailer's product type is what "the same type" means.
    same_product_type = item_type == "none"
    fetch = k * _SAME_TYPE_OVERFETCH
    matching: list[tuple[str, float]] = []
    for _ in range(_SAME_TYPE_ROUNDS):
        neighbours = state.live.similar_items(item.article_id, fetch)
        candidates = get_items(session, article_ids=[a for a, _ in neighbours])
        matching = []
        for article_id, score in neighbours:
            other = candidates.get(article_id)
            if other is None:
                continue
            if same_product_type:
                matches = other.product_type == item.product_type
            else:
                matches = catalog_type(other) == item_type
            if matches:
                matching.append((article_id, score))
        if len(matching) >= k or len(neighbours) < fetch:
            break
        fetch *= _SAME_TYPE_OVERFETCH
    return matching[:k]


@router.get("/{article_id}/similar", response_model=SimilarItemsPublic)
def similar_items(
    article_id: Annotated[str, ARTICLE_ID],
    state: State,
    session: DbSession,
    language: RequestLanguage,
    k: Annotated[int, Query(ge=1, le=100, description="Number of items to return.")] = 12,
    same_type: Annotated[
        bool,
        Query(
            description="Only items of the same head-attire type (for other products: the "
            "same product type). Fewer than `k` come back when the catalog has fewer."
        ),
    ] = False,
) -> SimilarItemsPublic:
    """Return the `k` catalog items that look most like this one (cosine similarity)."""
    item = get_item(session, article_id=article_id)
    if article_id not in state.live:
        raise NotFoundError(
            "indexed item",
            article_id,
            message=f"item {article_id!r} is in the catalog but not in this server's similarity "
            "index: run `milliner index`, or add its photo with PUT /v1/items/{article_id}",
        )
    if same_type:
        neighbours = _same_type_neighbours(state, session, item, k)
    else:
        neighbours = state.live.similar_items(article_id, k)
    return SimilarItemsPublic(
        article_id=article_id,
        model_version=state.index.model_version,
        items=item_public_list(session, neighbours, language=language),
    )


@router.get("/{article_id}/image", response_class=FileResponse)
def item_image(article_id: Annotated[str, ARTICLE_ID], session: DbSession) -> FileResponse:
    """Return the item's product photo."""
    get_item(session, article_id=article_id)
    path = image_path(session, article_id=article_id)
    if path is None or not Path(path).is_file():
        raise NotFoundError("item photo", article_id)
    return FileResponse(path)


def _store_item(
    holder: Holder,
    state: ServingState,
    *,
    article_id: str,
    fields: ItemFields,
    image: UploadFile | None,
    max_bytes: int,
    create: bool,
    language: Language,
) -> ItemPublic:
    """Save an item and its photo, embed and label the photo, and make it searchable at once."""
    decoded = read_photo(image, max_bytes=max_bytes) if image is not None else None
    embedded = embed_product(state, decoded) if decoded is not None else None

    with session_scope(state.engine) as session:
        exists = session.get(Item, article_id) is not None
        if create and exists:
            raise ItemExistsError(article_id)
        if not create and not exists:
            raise NotFoundError("item", article_id)
        item = save_item(session, article_id=article_id, fields=fields)
        if decoded is not None and embedded is not None:
            path = save_without_metadata(
                decoded, state.settings.images_dir, f"{article_id}-{_pixel_digest(decoded)[:12]}"
            )
            labels_version = state.classifier.model_version if state.classifier else None
            replace_item_image(
                session,
                article_id=article_id,
                path=str(path),
                sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                size_bytes=path.stat().st_size,
                vector=embedded.vector,
                model_version=embedded.model_version,
                labels=embedded.attire.to_dict() if embedded.attire else None,
                labels_version=labels_version,
            )
        has_photo = image_path(session, article_id=article_id) is not None
        labels = item_labels(session, article_ids=[article_id]).get(article_id)
        public = item_public(item, has_photo=has_photo, language=language, labels=labels)

    if embedded is not None:
        vector = embedded.vector
        holder.swap(lambda current: _with_vector(current, article_id, vector))
        logger.info("item %s is searchable in this process", article_id)
    return public


def _with_vector(current: ServingState, article_id: str, vector: np.ndarray) -> ServingState:
    return dataclasses.replace(current, live=current.live.with_item(article_id, vector))


def _pixel_digest(image: Image.Image) -> str:
    return hashlib.sha256(image.tobytes()).hexdigest()


_NAME = Form(max_length=255, description="Product name.")
_TEXT = Form(max_length=128)
_DESCRIPTION = Form(max_length=5000, description="Free text; its wording gives the material.")
_PHOTO = File(description="Product photo: JPEG, PNG or WebP.")


@router.post("", response_model=ItemPublic, status_code=201)
def create_item(
    holder: Holder,
    state: State,
    _key: ApiKey,
    max_bytes: UploadLimit,
    language: RequestLanguage,
    article_id: Annotated[str, Form(min_length=1, max_length=64, pattern=_ID_PATTERN)],
    name: Annotated[str, _NAME],
    product_type: Annotated[str, _TEXT],
    image: Annotated[UploadFile, _PHOTO],
    colour: Annotated[str, _TEXT] = "",
    pattern: Annotated[str, _TEXT] = "",
    department: Annotated[str, _TEXT] = "",
    description: Annotated[str, _DESCRIPTION] = "",
) -> ItemPublic:
    """Add a product: store it and its photo, embed the photo and make it searchable.

    The photo is stored under `MILLINER_HOME/images/` without metadata. The
    item is searchable at once in the worker process that handled the request,
    and in every worker after the next `milliner index`.
    """
    fields = ItemFields(
        name=name,
        product_type=product_type,
        colour=colour,
        pattern=pattern,
        department=department,
        description=description,
    )
    return _store_item(
        holder,
        state,
        article_id=article_id,
        fields=fields,
        image=image,
        max_bytes=max_bytes,
        create=True,
        language=language,
    )


@router.put("/{article_id}", response_model=ItemPublic)
def update_item(
    article_id: Annotated[str, ARTICLE_ID],
    holder: Holder,
    state: State,
    _key: ApiKey,
    max_bytes: UploadLimit,
    language: RequestLanguage,
    name: Annotated[str | None, _NAME] = None,
    product_type: Annotated[str | None, _TEXT] = None,
    colour: Annotated[str | None, _TEXT] = None,
    pattern: Annotated[str | None, _TEXT] = None,
    department: Annotated[str | None, _TEXT] = None,
    description: Annotated[str | None, _DESCRIPTION] = None,
    image: Annotated[UploadFile | None, _PHOTO] = None,
) -> ItemPublic:
    """Change an existing product; fields left out keep their values.

    A new photo replaces the old one and its embedding, with the same
    searchability as `POST /v1/items`.
    """
    fields = ItemFields(
        name=name,
        product_type=product_type,
        colour=colour,
        pattern=pattern,
        department=department,
        description=description,
    )
    return _store_item(
        holder,
        state,
        article_id=article_id,
        fields=fields,
        image=image,
        max_bytes=max_bytes,
        create=False,
        language=language,
    )
