"""FAISS similarity search checked against exact numpy search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recsys.errors import ArtifactMissingError
from recsys.similarity import SimilarityIndex


def _unit_vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _ids(n: int) -> list[str]:
    return [f"{i:010d}" for i in range(n)]


def _exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-(queries @ vectors.T), axis=1, kind="stable")[:, :k]


def test_flat_index_matches_exact_search() -> None:
    vectors = _unit_vectors(500, 32)
    queries = _unit_vectors(20, 32, seed=1)
    index = SimilarityIndex.build(_ids(500), vectors, model_version="test")

    results = index.search(queries, 10)
    expected = _exact_top(vectors, queries, 10)
    for row, neighbours in enumerate(results):
        assert [article_id for article_id, _ in neighbours] == [_ids(500)[i] for i in expected[row]]


def test_scores_are_cosine_similarities() -> None:
    vectors = _unit_vectors(50, 8)
    index = SimilarityIndex.build(_ids(50), vectors * 3.0, model_version="test")

    (article_id, score), *_ = index.search(vectors[7], 1)[0]
    assert article_id == _ids(50)[7]
    assert score == pytest.approx(1.0, abs=1e-5)


def test_hnsw_recall_against_exact() -> None:
    vectors = _unit_vectors(3000, 32)
    queries = _unit_vectors(100, 32, seed=2)
    index = SimilarityIndex.build(_ids(3000), vectors, model_version="test", exact_max_items=1000)

    expected = _exact_top(vectors, queries, 10)
    found = index.search(queries, 10)
    hits = sum(
        len({_ids(3000)[i] for i in expected[row]} & {a for a, _ in found[row]})
        for row in range(len(queries))
    )
    assert hits / expected.size >= 0.95


def test_similar_items_excludes_query() -> None:
    index = SimilarityIndex.build(_ids(30), _unit_vectors(30, 8), model_version="test")
    neighbours = index.similar_items(_ids(30)[3], 5)

    assert len(neighbours) == 5
    assert _ids(30)[3] not in [article_id for article_id, _ in neighbours]


def test_k_larger_than_index() -> None:
    index = SimilarityIndex.build(_ids(4), _unit_vectors(4, 8), model_version="test")

    assert len(index.search(_unit_vectors(1, 8), 10)[0]) == 4


def test_duplicate_ids_rejected() -> None:
    with pytest.raises(ValueError, match="duplicates"):
        SimilarityIndex.build(["a", "a"], _unit_vectors(2, 4), model_version="test")


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    vectors = _unit_vectors(40, 8)
    index = SimilarityIndex.build(_ids(40), vectors, model_version="v1")
    index.save(tmp_path / "index")
    loaded = SimilarityIndex.load(tmp_path / "index")

    assert loaded.model_version == "v1"
    assert loaded.article_ids == index.article_ids
    assert loaded.search(vectors[:3], 5) == index.search(vectors[:3], 5)


def test_newest_version_is_loaded(tmp_path: Path) -> None:
    SimilarityIndex.build(_ids(5), _unit_vectors(5, 4), model_version="old").save(tmp_path)
    SimilarityIndex.build(_ids(6), _unit_vectors(6, 4), model_version="new").save(tmp_path)

    assert SimilarityIndex.load(tmp_path).model_version == "new"


def test_load_without_index_raises(tmp_path: Path) -> None:
    with pytest.raises(ArtifactMissingError, match="milliner index"):
        SimilarityIndex.load(tmp_path)
