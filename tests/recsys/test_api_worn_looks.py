"""Items like the head attire worn in a look: its type first, on the real quickstart artifacts."""

from __future__ import annotations

import pandas as pd

from catalog.settings import Settings
from classifier.taxonomy import type_from_product_type
from recsys.api.routes.looks import _worn_neighbours
from recsys.data import load_items
from recsys.pipeline import QuickstartResult
from tests.recsys.api_support import shared_state


def _types(settings: Settings) -> pd.Series:
    state = shared_state(settings)
    items = load_items(state.engine)
    return items["product_type"].map(type_from_product_type)


def test_worn_type_comes_first(pipeline_settings: Settings, pipeline_run: QuickstartResult) -> None:
    state = shared_state(pipeline_settings)
    types = _types(pipeline_settings)
    beanies = list(types.index[types == "beanie"])
    vector = state.live.vector(beanies[0])

    neighbours = _worn_neighbours(state, vector, "beanie", 5)

    assert [types[article_id] for article_id, _ in neighbours] == ["beanie"] * 5
    scores = [score for _, score in neighbours]
    assert scores == sorted(scores, reverse=True)


def test_other_items_fill_up(pipeline_settings: Settings, pipeline_run: QuickstartResult) -> None:
    state = shared_state(pipeline_settings)
    types = _types(pipeline_settings)
    caps = list(types.index[types == "cap"])
    count = len(caps) + 3

    neighbours = _worn_neighbours(state, state.live.vector(caps[0]), "cap", count)

    ids = [article_id for article_id, _ in neighbours]
    assert len(ids) == count
    assert len(set(ids)) == count
    assert {types[article_id] for article_id in ids[: len(caps)]} == {"cap"}
