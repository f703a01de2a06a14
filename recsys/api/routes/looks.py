"""Looks: "shop this look" from an uploaded photo."""

from __future__ import annotations

import logging
import secrets
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, File, Form, Query, UploadFile

from catalog.errors import NotFoundError
from catalog.queries import customer_exists
from recsys.api.dependencies import DbSession, RequestLanguage, State, UploadLimit
from recsys.api.labels import attire_public
from recsys.api.photo_analysis import analyse_photo
from recsys.api.routes.items import item_public_list
from recsys.api.schemas import LookPublic
from recsys.api.state import ServingState
from recsys.api.uploads import read_photo, save_without_metadata

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/looks", tags=["looks"])

# Visual neighbours re-ranked with a shopper's history are taken from this
# many times k, so the history can lift items from below the first k.
_BLEND_POOL_FACTOR = 4

_NO_CLASSIFIER_NOTE = (
    "labels need a trained head-attire classifier: run `milliner train classifier --data DIR`; "
    "the server loads it within a few seconds"
)


def _attire_note(state: ServingState) -> str | None:
    if state.classifier is not None:
        return None
    if state.classifier_error is not None:
        return f"no labels: {state.classifier_error}"
    return _NO_CLASSIFIER_NOTE


def _worn_neighbours(
    state: ServingState, vector: np.ndarray, worn_type: str, count: int
) -> list[tuple[str, float]]:
    """Return `count` items like the head attire worn: items of its type first, then any item.

    A head crop also shows a face, hair and the street, so its nearest
    neighbours among all items are mostly garments. Items of the worn type
    are therefore searched apart, and the rest fill up the list.
    """
    # NOTE: the type search covers the catalog as the recommender was built,
    # so items added through the API since then only appear among the rest.
    chosen = state.recommender.similar_of_type(vector, worn_type, count)
    if len(chosen) < count:
        chosen_ids = {article_id for article_id, _ in chosen}
        others = state.live.search(vector, count + len(chosen_ids))
        chosen += [neighbour for neighbour in others if neighbour[0] not in chosen_ids]
    return chosen[:count]


def _blend_with_history(
    state: ServingState, customer_id: str, neighbours: list[tuple[str, float]], k: int
) -> list[tuple[str, float]]:
    """Re-rank visual neighbours by cosine similarity plus the shopper's ranker score.

    Ranker scores are standardised over the pool (zero mean, unit variance)
    and scaled by the spread of the pool's similarities, so neither signal
    drowns the other. Items the ranker never saw get a ranker term of 0.
    """
    ranker = state.ranker
    scores = ranker.score_items([customer_id])[0]
    columns = [ranker.item_column(article_id) for article_id, _ in neighbours]
    raw = np.array([scores[c] if c is not None else np.nan for c in columns], dtype=np.float64)
    known = ~np.isnan(raw)
    history = np.zeros_like(raw)
    if known.sum() > 1 and raw[known].std() > 0:
        history[known] = (raw[known] - raw[known].mean()) / raw[known].std()
    similarity = np.array([score for _, score in neighbours], dtype=np.float64)
    spread = float(similarity.std()) if len(similarity) > 1 else 0.0
    blended = similarity + spread * history
    order = np.argsort(-blended, kind="stable")[:k]
    return [(neighbours[i][0], float(blended[i])) for i in order]


@router.post("", response_model=LookPublic)
def shop_this_look(
    state: State,
    session: DbSession,
    language: RequestLanguage,
    max_bytes: UploadLimit,
    photo: Annotated[UploadFile, File(description="A JPEG, PNG or WebP photo.")],
    customer_id: Annotated[
        str | None,
        Form(
            min_length=1,
            max_length=128,
            pattern=r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$",
            description="Blend the visual matches with this shopper's purchase history.",
        ),
    ] = None,
    kind: Annotated[
        Literal["auto", "person", "product"],
        Query(
            description="`auto` looks for a head and falls back to the whole photo; `product` "
            "always uses the whole photo; `person` prefers the head region."
        ),
    ] = "auto",
    k: Annotated[int, Query(ge=1, le=100, description="Number of items to return.")] = 12,
) -> LookPublic:
    """Find what is worn on the head in a photo and the catalog items that look like it.

    The head region is searched when a person is found. When that person
    wears head attire, items of the type worn come first. A photo with no
    person in it (a product shot, a screenshot of a hat) is searched as a
    whole. With `customer_id` the visual neighbours (4 × k of them) are
    re-ranked by cosine similarity plus the shopper's ranker score,
    standardised over those neighbours and scaled by the spread of their
    similarities. A shopper the ranker has not learned from gets the visual
    order. The photo is not stored unless the server runs with
    MILLINER_KEEP_PHOTOS=1, and its metadata (EXIF, GPS) is never stored.
    """
    if customer_id is not None and not (
        state.ranker.knows_customer(customer_id)
        or customer_exists(session, customer_id=customer_id)
    ):
        raise NotFoundError("customer", customer_id)

    image = read_photo(photo, max_bytes=max_bytes)
    if state.settings.keep_photos:
        stored = save_without_metadata(image, state.settings.photos_dir, secrets.token_hex(16))
        logger.info("kept an uploaded look photo as %s", stored.name)

    analysis = analyse_photo(state, image, kind=kind)
    blend = customer_id is not None and state.ranker.knows_customer(customer_id)
    pool = k * _BLEND_POOL_FACTOR if blend else k
    if analysis.kind == "person" and analysis.attire is not None:
        neighbours = _worn_neighbours(state, analysis.vector, analysis.attire.type.name, pool)
    else:
        neighbours = state.live.search(analysis.vector, pool)
    if blend and customer_id is not None:
        neighbours = _blend_with_history(state, customer_id, neighbours, k)

    return LookPublic(
        kind=analysis.kind,
        width=image.width,
        height=image.height,
        head_box=analysis.head_box,
        attire=attire_public(analysis.attire, language) if analysis.attire else None,
        attire_note=_attire_note(state),
        customer_id=customer_id,
        model_version=state.index.model_version,
        items=item_public_list(session, neighbours, language=language),
    )
