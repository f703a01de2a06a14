"""Neighbour lists of the visual signal, against a brute-force computation."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.visual_neighbours import VisualNeighbours


def _unit_vectors(rows: int, dim: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _brute_force(
    vectors: np.ndarray, has_vector: np.ndarray, bought: np.ndarray, per_item: int
) -> tuple[np.ndarray, np.ndarray]:
    """The visual signal item by item, straight from its definition."""
    n_items = vectors.shape[0]
    photos = [i for i in range(n_items) if has_vector[i]]
    visual = np.zeros(n_items)
    nearest = np.full(n_items, -1)
    for b in bought:
        if not has_vector[b]:
            continue
        similarities = np.array([float(vectors[b] @ vectors[j]) for j in photos])
        mean, std = similarities.mean(), similarities.std()
        ranked = sorted(zip(similarities, photos, strict=True), key=lambda pair: -pair[0])
        for similarity, item in ranked[:per_item]:
            z = (similarity - mean) / std
            if nearest[item] < 0 or z > visual[item]:
                visual[item], nearest[item] = z, b
    return visual, nearest


@pytest.mark.parametrize("per_item", [1, 4, 50])
def test_signal_matches_brute_force(per_item: int) -> None:
    vectors = _unit_vectors(30, 8, seed=per_item)
    has_vector = np.ones(30, dtype=bool)
    has_vector[[3, 17]] = False
    vectors[~has_vector] = 0.0
    neighbours = VisualNeighbours.build(vectors, has_vector, per_item=per_item)
    bought = np.array([0, 5, 17, 22])

    visual, nearest = neighbours.signal(bought, 30)

    expected_visual, expected_nearest = _brute_force(vectors, has_vector, bought, per_item)
    np.testing.assert_allclose(visual, expected_visual, atol=1e-4)
    np.testing.assert_array_equal(nearest, expected_nearest)
    assert visual.dtype == np.float32
    assert nearest.dtype == np.int64


def test_rows_of_items_without_photo_stay_empty() -> None:
    vectors = _unit_vectors(5, 4, seed=1)
    has_vector = np.array([True, False, True, True, False])
    vectors[~has_vector] = 0.0
    neighbours = VisualNeighbours.build(vectors, has_vector, per_item=10)

    assert neighbours.per_item == 3
    assert (neighbours.columns[[1, 4]] == -1).all()
    assert not np.isin(neighbours.columns[has_vector], [1, 4]).any()
    # Every item is its own nearest.
    np.testing.assert_array_equal(neighbours.columns[has_vector, 0], [0, 2, 3])


def test_items_outside_every_list_score_zero() -> None:
    vectors = _unit_vectors(40, 6, seed=2)
    neighbours = VisualNeighbours.build(vectors, np.ones(40, dtype=bool), per_item=3)

    visual, nearest = neighbours.signal(np.array([7]), 40)

    listed = neighbours.columns[7]
    assert set(np.flatnonzero(nearest >= 0)) == set(listed)
    outside = np.setdiff1d(np.arange(40), listed)
    assert (visual[outside] == 0.0).all()
    assert visual[7] == visual.max()


def test_no_purchase_and_no_photo_give_no_signal() -> None:
    empty = VisualNeighbours.build(np.zeros((4, 3), np.float32), np.zeros(4, dtype=bool))
    visual, nearest = empty.signal(np.array([0, 2]), 4)
    assert (visual == 0).all()
    assert (nearest == -1).all()

    vectors = _unit_vectors(4, 3, seed=3)
    some = VisualNeighbours.build(vectors, np.ones(4, dtype=bool))
    visual, nearest = some.signal(np.empty(0, dtype=np.int64), 4)
    assert (visual == 0).all()
    assert (nearest == -1).all()


def test_identical_vectors_do_not_divide_by_zero() -> None:
    vectors = np.tile(_unit_vectors(1, 4, seed=4), (6, 1))
    neighbours = VisualNeighbours.build(vectors, np.ones(6, dtype=bool), per_item=2)
    assert np.isfinite(neighbours.z).all()


def test_invalid_arguments_are_refused() -> None:
    vectors = _unit_vectors(3, 2, seed=5)
    with pytest.raises(ValueError, match="per_item"):
        VisualNeighbours.build(vectors, np.ones(3, dtype=bool), per_item=0)
    with pytest.raises(ValueError, match="has_vector"):
        VisualNeighbours.build(vectors, np.ones(4, dtype=bool))
