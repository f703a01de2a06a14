"""FAISS similarity search checked against exact numpy search."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from recsys.errors import ArtifactMissingError
from recsys.similarity import (
    IVF_MIN_POINTS_PER_LIST,
    SimilarityIndex,
    choose_index_kind,
    ivf_list_count,
)


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
    index = SimilarityIndex.build(_ids(3000), vectors, model_version="test", kind="hnsw")

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


def _clustered_unit_vectors(n: int, dim: int, clusters: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(size=(clusters, dim))
    vectors = centres[rng.integers(0, clusters, n)] + rng.normal(scale=0.5, size=(n, dim))
    vectors = vectors.astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _recall(index: SimilarityIndex, vectors: np.ndarray, queries: np.ndarray, k: int) -> float:
    ids = _ids(len(vectors))
    expected = _exact_top(vectors, queries, k)
    found = index.search(queries, k)
    hits = sum(
        len({ids[i] for i in expected[row]} & {a for a, _ in found[row]})
        for row in range(len(queries))
    )
    return hits / expected.size


@pytest.mark.parametrize(
    ("count", "expected"), [(10, "flat"), (1000, "flat"), (1001, "hnsw"), (10**6, "hnsw")]
)
def test_index_kind_follows_size(count: int, expected: str) -> None:
    assert choose_index_kind(count, exact_max_items=1000) == expected


@pytest.mark.parametrize("count", [39, 40, 77, 78, 5000, 200_001, 10**7])
def test_ivf_lists_have_enough_training_points(count: int) -> None:
    lists = ivf_list_count(count)

    assert lists >= 1
    assert count >= lists * IVF_MIN_POINTS_PER_LIST


@pytest.mark.parametrize("kind", ["ivf", "ivfpq"])
def test_ivf_rejects_too_few_vectors(kind: str) -> None:
    with pytest.raises(ValueError, match="at least 39 vectors"):
        SimilarityIndex.build(_ids(38), _unit_vectors(38, 8), model_version="test", kind=kind)  # type: ignore[arg-type]


def test_index_above_threshold_is_hnsw_with_high_recall() -> None:
    vectors = _clustered_unit_vectors(3000, 32, 60, seed=0)
    queries = _clustered_unit_vectors(100, 32, 60, seed=1)
    index = SimilarityIndex.build(_ids(3000), vectors, model_version="test", exact_max_items=1000)

    assert index.kind == "hnsw"
    assert index.parameters["ef_search"] == 64
    assert _recall(index, vectors, queries, 10) >= 0.95


@pytest.mark.parametrize("kind", ["ivf", "ivfpq"])
def test_ivf_recall_against_exact(kind: str) -> None:
    vectors = _clustered_unit_vectors(4000, 32, 80, seed=0)
    queries = _clustered_unit_vectors(100, 32, 80, seed=1)
    index = SimilarityIndex.build(_ids(4000), vectors, model_version="test", kind=kind)  # type: ignore[arg-type]

    assert index.kind == kind
    assert _recall(index, vectors, queries, 10) >= 0.95


def test_more_probes_raise_recall() -> None:
    vectors = _clustered_unit_vectors(4000, 32, 80, seed=0)
    queries = _clustered_unit_vectors(100, 32, 80, seed=1)
    index = SimilarityIndex.build(_ids(4000), vectors, model_version="test", kind="ivf")
    index.set_search_parameters(nprobe=1)
    narrow = _recall(index, vectors, queries, 10)
    index.set_search_parameters(nprobe=index.parameters["lists"])

    assert _recall(index, vectors, queries, 10) == pytest.approx(1.0)
    assert narrow < 1.0


@pytest.mark.parametrize("kind", ["flat", "ivf", "ivfpq", "hnsw"])
def test_vectors_come_back_by_catalog_id(kind: str) -> None:
    vectors = _unit_vectors(200, 16)
    ids = [f"item-{i}" for i in range(200)][::-1]
    index = SimilarityIndex.build(ids, vectors, model_version="test", kind=kind)  # type: ignore[arg-type]

    for position in (0, 57, 199):
        np.testing.assert_allclose(index.vector(ids[position]), vectors[position], atol=1e-6)


@pytest.mark.parametrize("kind", ["ivf", "ivfpq", "hnsw"])
def test_save_and_load_keep_kind_and_parameters(kind: str, tmp_path: Path) -> None:
    vectors = _clustered_unit_vectors(1000, 16, 20, seed=0)
    index = SimilarityIndex.build(_ids(1000), vectors, model_version="v1", kind=kind)  # type: ignore[arg-type]
    index.set_search_parameters(nprobe=3, k_factor=4, ef_search=20)
    index.save(tmp_path)
    loaded = SimilarityIndex.load(tmp_path)

    before, after = index.search(vectors[:5], 5), loaded.search(vectors[:5], 5)
    assert loaded.kind == kind
    assert loaded.parameters == index.parameters
    assert [[a for a, _ in row] for row in after] == [[a for a, _ in row] for row in before]
    for row_after, row_before in zip(after, before, strict=True):
        assert [s for _, s in row_after] == pytest.approx([s for _, s in row_before], abs=1e-5)


def test_search_parameters_below_one_rejected() -> None:
    index = SimilarityIndex.build(_ids(100), _unit_vectors(100, 8), model_version="t", kind="ivf")

    with pytest.raises(ValueError, match="nprobe must be at least 1"):
        index.set_search_parameters(nprobe=0)


@pytest.mark.skipif(
    getattr(faiss, "get_num_gpus", lambda: 0)() == 0,
    reason="no GPU visible to faiss (faiss-cpu, or no CUDA device): the GPU search copy is unused",
)
def test_gpu_search_matches_cpu_search() -> None:
    vectors = _unit_vectors(500, 32)
    index = SimilarityIndex.build(_ids(500), vectors, model_version="test")
    cpu_index = faiss.IndexFlatIP(32)
    cpu_index.add(vectors)
    _, expected = cpu_index.search(vectors[:10], 5)

    found = index.search(vectors[:10], 5)

    assert [[int(a) for a, _ in row] for row in found] == expected.tolist()
