"""Display labels for the API: the request's language, catalog labels and classifier labels."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from catalog.tables import Item, ItemLabels
from classifier.materials import material_from_description
from classifier.taxonomy import (
    COLOUR,
    MATERIAL,
    PATTERN,
    TYPE,
    LabelSet,
    Language,
    colour_from_hm,
    pattern_from_hm,
    type_from_product_type,
)
from recsys.api.schemas import AttirePublic, ItemLabelsPublic, LabelPublic

if TYPE_CHECKING:
    from classifier.predict import HeadAttire, LabelPrediction

__all__ = [
    "attire_public",
    "catalog_labels",
    "catalog_type",
    "language_from_header",
    "stored_labels",
]


def language_from_header(accept_language: str | None) -> Language:
    """Pick "zh-CN" when the header prefers any Chinese variant, else "en".

    Languages are taken in the header's q-value order; the first of English
    or Chinese wins, and an absent or unparseable header gives English.
    """
    if not accept_language:
        return "en"
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, parameters = part.strip().partition(";")
        quality = 1.0
        parameter = parameters.strip()
        if parameter.startswith("q="):
            try:
                quality = float(parameter[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, position, tag.strip().lower()))
    for negative_quality, _, tag in sorted(ranked):
        if negative_quality >= 0:
            continue
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return "en"


def _label(
    label_set: LabelSet, name: str, language: Language, confidence: float | None = None
) -> LabelPublic:
    return LabelPublic(name=name, display=label_set.display(name, language), confidence=confidence)


def catalog_type(item: Item) -> str:
    """Return the head-attire type label of a catalog item, from its product type."""
    return type_from_product_type(item.product_type)


def catalog_labels(item: Item, language: Language) -> ItemLabelsPublic:
    """Map an item's catalog fields to labels: product type, H&M colour and pattern, material.

    The material comes from the description's wording and is left out when
    the description names none. Callers must not modify the returned object,
    because equal fields share one cached instance.
    """
    return _mapped_labels(
        item.product_type, item.colour, item.pattern, item.description or "", language
    )


# The material rules are a few dozen regular expressions per description, and
# the same items come back in many responses, so mapped labels are cached.
@lru_cache(maxsize=65_536)
def _mapped_labels(
    product_type: str, colour: str, pattern: str, description: str, language: Language
) -> ItemLabelsPublic:
    material = material_from_description(description).material
    return ItemLabelsPublic(
        type=_label(TYPE, type_from_product_type(product_type), language),
        colour=_label(COLOUR, colour_from_hm(colour), language),
        pattern=_label(PATTERN, pattern_from_hm(pattern), language),
        material=None if material == MATERIAL.fallback else _label(MATERIAL, material, language),
        source="catalog",
    )


def _predicted(label_set: LabelSet, prediction: LabelPrediction, language: Language) -> LabelPublic:
    return _label(label_set, prediction.name, language, round(float(prediction.confidence), 4))


def attire_public(attire: HeadAttire, language: Language) -> AttirePublic:
    """Convert the classifier's prediction to the response schema."""
    return AttirePublic(
        type=_predicted(TYPE, attire.type, language),
        colour=_predicted(COLOUR, attire.colour, language),
        pattern=_predicted(PATTERN, attire.pattern, language),
        material=_predicted(MATERIAL, attire.material, language),
    )


def stored_labels(row: ItemLabels, language: Language) -> ItemLabelsPublic:
    """Convert the labels the classifier stored for an item to the response schema."""
    return ItemLabelsPublic(
        type=_label(TYPE, row.type, language, round(row.type_confidence, 4)),
        colour=_label(COLOUR, row.colour, language, round(row.colour_confidence, 4)),
        pattern=_label(PATTERN, row.pattern, language, round(row.pattern_confidence, 4)),
        material=_label(MATERIAL, row.material, language, round(row.material_confidence, 4)),
        source="classifier",
    )
