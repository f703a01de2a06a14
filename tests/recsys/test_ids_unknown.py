"""Ids from outside never reach LightFM or FAISS as raw indices; FAISS ids stay unique."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from catalog.settings import Settings
from recsys.api import create_app
from recsys.api.live_index import LiveIndex
from recsys.pipeline import QuickstartResult
from recsys.ranker import RankerModel, TrainingConfig, fit_lightfm, train_ranker
from recsys.similarity import SimilarityIndex
from tests.recsys.api_support import shared_state

CONFIG = TrainingConfig(epochs=5, components=16, threads=1, seed=3)
# Strings that are valid row numbers of the factor matrices and FAISS ids
# (or FAISS's "no result" sentinel) if anything used them as indices.
INDEX_LIKE_IDS = ["0", "1", "-1", "00", "299"]


@pytest.fixture(scope="module")
def purchases(hm_slice: Path) -> pd.DataFrame:
    frame = pd.read_csv(hm_slice / "transactions.csv", dtype=str)
    frame["purchased_on"] = frame["t_dat"].map(dt.date.fromisoformat)
    return frame[["customer_id", "article_id", "purchased_on"]]


@pytest.fixture(scope="module")
def same_tags(purchases: pd.DataFrame) -> dict[str, list[str]]:
    """Every bought item with the same single tag, so only identity features tell them apart."""
    return {article_id: ["type:Hat/beanie"] for article_id in purchases["article_id"].unique()}


@pytest.fixture(scope="module")
def ranker(purchases: pd.DataFrame, same_tags: dict[str, list[str]]) -> RankerModel:
    return train_ranker(purchases, same_tags, config=CONFIG)


@pytest.fixture(scope="module")
def index(ranker: RankerModel) -> SimilarityIndex:
    vectors = np.random.default_rng(0).normal(size=(len(ranker.item_ids), 16)).astype(np.float32)
    return SimilarityIndex.build(ranker.item_ids, vectors, model_version="test")


def test_identical_tags_still_score_differently(
    ranker: RankerModel, purchases: pd.DataFrame
) -> None:
    first, second = purchases["article_id"].value_counts().index[:2]
    scores = ranker.score_items(ranker.user_ids[:3])
    columns = [ranker.item_column(first), ranker.item_column(second)]

    assert None not in columns
    assert not np.allclose(scores[:, columns[0]], scores[:, columns[1]])


def test_duplicate_purchases_one_interaction(
    purchases: pd.DataFrame, same_tags: dict[str, list[str]]
) -> None:
    once = fit_lightfm(purchases, same_tags, config=CONFIG)
    tripled = fit_lightfm(pd.concat([purchases] * 3), same_tags, config=CONFIG)
    pairs = purchases[["customer_id", "article_id"]].drop_duplicates()

    assert once.interactions.nnz == len(pairs)
    assert tripled.interactions.nnz == len(pairs)
    assert set(np.unique(tripled.interactions.data)) == {1}


@pytest.mark.parametrize("raw", INDEX_LIKE_IDS)
def test_ranker_rejects_index_like_ids(ranker: RankerModel, raw: str) -> None:
    assert not ranker.knows_customer(raw)
    assert ranker.item_column(raw) is None
    with pytest.raises(KeyError):
        ranker.score_items([raw])


@pytest.mark.parametrize("raw", INDEX_LIKE_IDS)
def test_index_rejects_index_like_ids(index: SimilarityIndex, raw: str) -> None:
    assert raw not in index
    with pytest.raises(KeyError):
        index.vector(raw)
    with pytest.raises(KeyError):
        index.similar_items(raw, 5)


def test_search_beyond_size_returns_catalog_ids(index: SimilarityIndex) -> None:
    query = index.vector(index.article_ids[0])[None, :]
    results = index.search(query, len(index) + 50)[0]
    ids = [article_id for article_id, _ in results]

    assert len(ids) == len(index)
    assert len(set(ids)) == len(ids)
    assert set(ids) == set(index.article_ids)


def test_rebuild_after_removals_and_additions(index: SimilarityIndex) -> None:
    removed = set(index.article_ids[:10])
    kept = index.article_ids[10:]
    added = [f"new{number:07d}" for number in range(5)]
    rng = np.random.default_rng(1)
    vectors = np.vstack(
        [np.stack([index.vector(a) for a in kept]), rng.normal(size=(5, 16)).astype(np.float32)]
    )
    rebuilt = SimilarityIndex.build([*kept, *added], vectors, model_version="test")

    found: set[str] = set()
    for article_id in [*kept[:20], *added]:
        neighbours = [a for a, _ in rebuilt.search(rebuilt.vector(article_id)[None, :], 30)[0]]
        assert len(set(neighbours)) == len(neighbours)
        found.update(neighbours)
    assert len(rebuilt) == len(index) - 10 + 5
    assert len(set(rebuilt.article_ids)) == len(rebuilt)
    assert found.isdisjoint(removed)
    assert set(added) <= found


def test_build_rejects_repeated_ids(index: SimilarityIndex) -> None:
    ids = [index.article_ids[0], index.article_ids[0]]
    with pytest.raises(ValueError, match="duplicates"):
        SimilarityIndex.build(ids, np.ones((2, 16), dtype=np.float32), model_version="test")


def test_live_overlay_keeps_ids_unique(index: SimilarityIndex) -> None:
    existing = index.article_ids[0]
    live = LiveIndex(index, "v-test").with_item(existing, np.ones(16, dtype=np.float32))
    live = live.with_item("new0000001", np.ones(16, dtype=np.float32))
    live = live.with_item("new0000001", -np.ones(16, dtype=np.float32))
    ids = [article_id for article_id, _ in live.search(np.ones(16, dtype=np.float32), len(live))]

    assert len(live) == len(index) + 1
    assert len(ids) == len(set(ids))
    assert ids[0] == existing
    assert ids[-1] == "new0000001"


@pytest.fixture(scope="module")
def client(pipeline_settings: Settings, pipeline_run: QuickstartResult) -> Iterator[TestClient]:
    app = create_app(pipeline_settings, state=shared_state(pipeline_settings))
    with TestClient(app) as test_client:
        yield test_client


@pytest.mark.parametrize("raw", INDEX_LIKE_IDS)
def test_api_unknown_customer_is_404(client: TestClient, raw: str) -> None:
    response = client.get(f"/v1/customers/{raw}/recommendations?k=5")

    assert response.status_code == 404
    assert response.json()["id"] == raw


@pytest.mark.parametrize("raw", INDEX_LIKE_IDS)
@pytest.mark.parametrize("endpoint", ["similar", "image"])
def test_api_unknown_item_is_404(client: TestClient, raw: str, endpoint: str) -> None:
    response = client.get(f"/v1/items/{raw}/{endpoint}")

    assert response.status_code == 404
    assert response.json()["id"] == raw
