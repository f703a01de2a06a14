"""Analyse an uploaded photo: find the head, embed it, and label it when a classifier exists."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from PIL import Image

from classifier.head import detect_head
from recsys.api.errors import ModelMismatchError
from recsys.api.state import ServingState

if TYPE_CHECKING:
    from classifier.predict import HeadAttire

__all__ = [
    "LOOK_DETECTION_SIDE",
    "LookAnalysis",
    "PhotoKind",
    "ProductEmbedding",
    "analyse_photo",
    "embed_product",
]

logger = logging.getLogger(__name__)

PhotoKind = Literal["auto", "person", "product"]

# The face cascade runs on a copy whose longer side is this many pixels,
# smaller than classifier.head's default of 640 to keep uploads fast. On the
# first 60 CCP street photos both sides found a face in 58, at 120 instead of
# 178 ms of CPU a photo (benchmarks/api_request_parts.py, one thread, the
# 2-core development machine under load).
LOOK_DETECTION_SIDE = 480


@dataclass(frozen=True)
class LookAnalysis:
    """The result of analysing one photo.

    Attributes:
        kind: "person" when a head region was analysed, else "product".
        head_box: (left, top, right, bottom) in pixels of the upright photo, or None.
        attire: the classifier's labels (type "none" for a product photo of
            something else), or None when nothing is worn on a person's head or
            no classifier is loaded.
        vector: unit float32 embedding of the analysed region, shape (dim,), in
            the embedding space of the similarity index.
    """

    kind: Literal["person", "product"]
    head_box: tuple[int, int, int, int] | None
    attire: HeadAttire | None
    vector: np.ndarray


@dataclass(frozen=True)
class ProductEmbedding:
    """The search vector of a product photo, the model that made it, and its labels."""

    vector: np.ndarray
    model_version: str
    attire: HeadAttire | None


def _classifier_builds_index(state: ServingState) -> bool:
    return state.classifier is not None and state.classifier.model_version == (
        state.index.model_version
    )


def _check_embedder(state: ServingState) -> None:
    if state.embedder.model_version == state.index.model_version:
        return
    if state.classifier_error is not None:
        raise ModelMismatchError(
            f"the similarity index was built with {state.index.model_version}, and "
            f"{state.classifier_error}: train a classifier the server can load with "
            "`milliner train classifier --data DIR`, then run `milliner index`; the server "
            "reloads both"
        )
    raise ModelMismatchError(
        f"the similarity index was built with {state.index.model_version}, but the server "
        f"embeds photos with {state.embedder.model_version}: run `milliner index` "
        "again (or publish the classifier the index was built with) and the server reloads it"
    )


def analyse_photo(state: ServingState, image: Image.Image, *, kind: PhotoKind) -> LookAnalysis:
    """Find the head region (or take the whole photo), embed it and label it.

    With a trained classifier, the classifier finds the region and the labels.
    Without one, the face cascade of `classifier.head` finds the region and
    `attire` is None. The search vector comes from the model the index was
    built with: the classifier, or else `state.embedder`.

    Raises:
        ModelMismatchError: neither loaded model built the index.
    """
    if not _classifier_builds_index(state):
        _check_embedder(state)

    if state.classifier is not None:
        analysis = state.classifier.analyse(image, kind=kind)
        # On a person with nothing worn there are no labels: colour, pattern and
        # material would describe the hair or the street above the face.
        attire = analysis.attire if analysis.kind == "person" else analysis.labels
        if _classifier_builds_index(state):
            return LookAnalysis(analysis.kind, analysis.head_box, attire, analysis.embedding)
        region = image.crop(analysis.head_box) if analysis.head_box is not None else image
        vector = state.embedder.embed([region])[0]
        return LookAnalysis(analysis.kind, analysis.head_box, attire, vector)

    detection = None if kind == "product" else detect_head(image, working_side=LOOK_DETECTION_SIDE)
    head_box = detection.box if detection is not None else None
    if kind == "person" and head_box is None:
        logger.debug("no face in a photo sent as a person photo: searching the whole photo")
    region = image.crop(head_box) if head_box is not None else image
    vector = state.embedder.embed([region])[0]
    found: Literal["person", "product"] = "person" if head_box is not None else "product"
    return LookAnalysis(found, head_box, None, vector)


def embed_product(state: ServingState, image: Image.Image) -> ProductEmbedding:
    """Embed a product photo in the index's space and label it when a classifier exists.

    Raises:
        ModelMismatchError: neither loaded model built the index.
    """
    if state.classifier is not None and _classifier_builds_index(state):
        attire, vectors = state.classifier.classify([image])
        return ProductEmbedding(vectors[0], state.classifier.model_version, attire[0])
    _check_embedder(state)
    vector = state.embedder.embed([image])[0]
    labels = state.classifier.classify([image])[0][0] if state.classifier is not None else None
    return ProductEmbedding(vector, state.embedder.model_version, labels)
