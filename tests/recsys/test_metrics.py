"""Tests for recsys.metrics: hand-computed cases and slow reference implementations."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys.metrics import (
    ConfidenceInterval,
    auc,
    average_precision_at_k,
    bootstrap_ci,
    catalog_coverage,
    evaluate_lists,
    hit_rate_at_k,
    intra_list_diversity,
    ndcg_at_k,
    novelty,
    precision_at_k,
    recall_at_k,
    recall_curve,
    relative_gain_ci,
)

# --- slow references: plain loops that follow the definitions word for word ------------


def reference_average_precision(
    recommended: Sequence[Sequence[str]], relevant: Sequence[Collection[str]], k: int
) -> list[float]:
    result = []
    for items, bought in zip(recommended, relevant, strict=True):
        bought_set = set(bought)
        hits = 0
        precision_sum = 0.0
        for rank, item in enumerate(items[:k], start=1):
            if item in bought_set:
                hits += 1
                precision_sum += hits / rank
        result.append(precision_sum / min(len(bought_set), k))
    return result


def _count_hits(items: Sequence[str], bought: Collection[str], k: int) -> int:
    return sum(1 for item in items[:k] if item in set(bought))


def reference_recall(
    recommended: Sequence[Sequence[str]], relevant: Sequence[Collection[str]], k: int
) -> list[float]:
    return [
        _count_hits(items, bought, k) / len(set(bought))
        for items, bought in zip(recommended, relevant, strict=True)
    ]


def reference_precision(
    recommended: Sequence[Sequence[str]], relevant: Sequence[Collection[str]], k: int
) -> list[float]:
    return [
        _count_hits(items, bought, k) / k
        for items, bought in zip(recommended, relevant, strict=True)
    ]


def reference_ndcg(
    recommended: Sequence[Sequence[str]], relevant: Sequence[Collection[str]], k: int
) -> list[float]:
    result = []
    for items, bought in zip(recommended, relevant, strict=True):
        bought_set = set(bought)
        dcg = 0.0
        for rank, item in enumerate(items[:k], start=1):
            if item in bought_set:
                dcg += 1.0 / math.log2(rank + 1)
        ideal = 0.0
        for rank in range(1, min(len(bought_set), k) + 1):
            ideal += 1.0 / math.log2(rank + 1)
        result.append(dcg / ideal)
    return result


def reference_hit_rate(
    recommended: Sequence[Sequence[str]], relevant: Sequence[Collection[str]], k: int
) -> list[float]:
    return [
        1.0 if _count_hits(items, bought, k) > 0 else 0.0
        for items, bought in zip(recommended, relevant, strict=True)
    ]


def reference_auc(
    scores: np.ndarray,
    relevant_indices: Sequence[Collection[int]],
    exclude: Sequence[Collection[int]] | None = None,
) -> list[float]:
    """Compare every relevant item with every non-relevant one, counting ties as 1/2."""
    result = []
    for row, positives in enumerate(relevant_indices):
        excluded = set(exclude[row]) if exclude is not None else set()
        candidates = [i for i in range(scores.shape[1]) if i not in excluded]
        positive = [i for i in candidates if i in set(positives)]
        negative = [i for i in candidates if i not in set(positives)]
        if not positive or not negative:
            result.append(math.nan)
            continue
        wins = 0.0
        for p in positive:
            for n in negative:
                if scores[row, p] > scores[row, n]:
                    wins += 1.0
                elif scores[row, p] == scores[row, n]:
                    wins += 0.5
        result.append(wins / (len(positive) * len(negative)))
    return result


def reference_coverage(recommended: Sequence[Sequence[str]], catalog_size: int, k: int) -> float:
    seen = set()
    for items in recommended:
        for item in items[:k]:
            seen.add(item)
    return len(seen) / catalog_size


def reference_diversity(
    recommended: Sequence[Sequence[str]], embeddings: Mapping[str, Sequence[float]], k: int
) -> list[float]:
    result = []
    for items in recommended:
        embedded = [list(embeddings[item]) for item in items[:k] if item in embeddings]
        if len(embedded) < 2:
            result.append(math.nan)
            continue
        distances = []
        for i in range(len(embedded)):
            for j in range(i + 1, len(embedded)):
                a, b = embedded[i], embedded[j]
                dot = sum(x * y for x, y in zip(a, b, strict=True))
                norm_a = math.sqrt(sum(x * x for x in a))
                norm_b = math.sqrt(sum(y * y for y in b))
                distances.append(1.0 - dot / (norm_a * norm_b))
        result.append(sum(distances) / len(distances))
    return result


def reference_novelty(
    recommended: Sequence[Sequence[str]],
    item_popularity: Mapping[str, int],
    n_shoppers_train: int,
    k: int,
) -> list[float]:
    result = []
    for items in recommended:
        top = items[:k]
        if not top:
            result.append(math.nan)
            continue
        bits = [
            -math.log2((item_popularity.get(item, 0) + 1) / (n_shoppers_train + 1)) for item in top
        ]
        result.append(sum(bits) / len(bits))
    return result


# --- random cases ----------------------------------------------------------------------

CATALOG = [f"{i:010d}" for i in range(40)]


def random_lists(
    seed: int, n_shoppers: int = 300, max_length: int = 20
) -> tuple[list[list[str]], list[set[str]]]:
    """Draw lists of 0..max_length distinct items and 1..8 relevant items per shopper."""
    rng = np.random.default_rng(seed)
    recommended = []
    relevant = []
    for _ in range(n_shoppers):
        length = int(rng.integers(0, max_length + 1))
        recommended.append([CATALOG[i] for i in rng.choice(len(CATALOG), length, replace=False)])
        n_bought = int(rng.integers(1, 9))
        relevant.append({CATALOG[i] for i in rng.choice(len(CATALOG), n_bought, replace=False)})
    return recommended, relevant


LIST_METRICS = [
    (average_precision_at_k, reference_average_precision),
    (recall_at_k, reference_recall),
    (precision_at_k, reference_precision),
    (ndcg_at_k, reference_ndcg),
    (hit_rate_at_k, reference_hit_rate),
]
LIST_METRIC_IDS = ["average_precision", "recall", "precision", "ndcg", "hit_rate"]


@pytest.mark.parametrize(("metric", "reference"), LIST_METRICS, ids=LIST_METRIC_IDS)
@pytest.mark.parametrize("k", [1, 5, 12, 25])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_list_metric_matches_reference(metric, reference, k: int, seed: int) -> None:
    recommended, relevant = random_lists(seed)

    values = metric(recommended, relevant, k)

    assert values.dtype == np.float64
    assert values.shape == (len(recommended),)
    np.testing.assert_allclose(values, reference(recommended, relevant, k), rtol=1e-12)


item_ids = st.sampled_from(CATALOG[:12])
shopper_cases = st.lists(
    st.tuples(
        st.lists(item_ids, unique=True, max_size=12),
        st.frozensets(item_ids, min_size=1, max_size=6),
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(cases=shopper_cases, k=st.integers(min_value=1, max_value=14))
def test_evaluate_lists_matches_references(
    cases: list[tuple[list[str], frozenset[str]]], k: int
) -> None:
    recommended = [items for items, _ in cases]
    relevant = [bought for _, bought in cases]

    result = evaluate_lists(recommended, relevant, k=k)

    for key, (_, reference) in zip(
        ["map", "recall", "precision", "ndcg", "hit_rate"], LIST_METRICS, strict=True
    ):
        np.testing.assert_allclose(result[key], reference(recommended, relevant, k), rtol=1e-12)


@settings(max_examples=200, deadline=None)
@given(cases=shopper_cases, k=st.integers(min_value=1, max_value=14))
def test_list_metrics_stay_in_unit_interval(
    cases: list[tuple[list[str], frozenset[str]]], k: int
) -> None:
    recommended = [items for items, _ in cases]
    relevant = [bought for _, bought in cases]

    for key, values in evaluate_lists(recommended, relevant, k=k).items():
        assert np.all((values >= 0.0) & (values <= 1.0 + 1e-12)), key


def test_evaluate_lists_equals_single_metrics() -> None:
    recommended, relevant = random_lists(seed=3)

    result = evaluate_lists(recommended, relevant, k=10)

    assert list(result) == ["map", "recall", "precision", "ndcg", "hit_rate"]
    for key, (metric, _) in zip(result, LIST_METRICS, strict=True):
        np.testing.assert_array_equal(result[key], metric(recommended, relevant, 10))


def test_evaluate_lists_default_k_is_12() -> None:
    recommended, relevant = random_lists(seed=4)

    result = evaluate_lists(recommended, relevant)

    np.testing.assert_array_equal(result["map"], average_precision_at_k(recommended, relevant, 12))


def test_list_metrics_accept_zero_shoppers() -> None:
    result = evaluate_lists([], [], k=5)

    for values in result.values():
        assert values.shape == (0,)


def test_list_metrics_accept_tuples_and_arrays() -> None:
    recommended = [("a", "b", "c"), np.array(["c", "d"])]
    relevant = [["b", "b"], np.array(["d"])]

    values = average_precision_at_k(recommended, relevant, 3)

    # Shopper 0: relevant ["b", "b"] has one distinct item, found at rank 2 -> (1/1)(1/2).
    # Shopper 1: "d" at rank 2 -> (1/1)(1/2).
    np.testing.assert_allclose(values, [0.5, 0.5])


# --- hand-computed list metrics --------------------------------------------------------


def test_average_precision_hand_cases() -> None:
    recommended = [["a", "b", "c", "d"], ["a", "b", "c"], ["b"], ["x", "y"]]
    relevant = [{"b", "d"}, {"a", "c", "x", "y"}, {"b", "d"}, {"a"}]

    values = average_precision_at_k(recommended, relevant, 4)
    at_2 = average_precision_at_k(recommended, relevant, 2)

    # [a, b, c, d] with {b, d}: hits at ranks 2 and 4 -> (1/2)(1/2 + 2/4) = 0.5.
    assert values[0] == pytest.approx(0.5)
    # [a, b, c] with {a, c, x, y}: hits at 1 and 3 -> (1/min(4, 4))(1/1 + 2/3) = 5/12.
    assert values[1] == pytest.approx(5 / 12)
    # [b] with {b, d}, shorter than k: hit at 1 -> (1/2)(1/1) = 0.5.
    assert values[2] == pytest.approx(0.5)
    # [x, y] with {a}: no hit -> 0.
    assert values[3] == 0.0
    # At k=2, [a, b, c] with {a, c, x, y}: only rank 1 counts -> (1/min(4, 2))(1/1) = 0.5.
    assert at_2[1] == pytest.approx(0.5)


def test_recall_hand_cases() -> None:
    recommended = [["a", "b", "c", "d"], ["a", "b"]]
    relevant = [{"b", "d", "e"}, {"c"}]

    values = recall_at_k(recommended, relevant, 2)

    # [a, b] with {b, d, e}: one hit of three -> 1/3.
    assert values[0] == pytest.approx(1 / 3)
    # [a, b] with {c}: no hit -> 0.
    assert values[1] == 0.0


def test_precision_divides_by_k_for_short_lists() -> None:
    values = precision_at_k([["a", "b"]], [{"b"}], 4)

    # One hit, list of length 2, k = 4 -> 1/4, not 1/2.
    assert values[0] == pytest.approx(0.25)


def test_ndcg_hand_cases() -> None:
    recommended = [["a", "b", "c", "d"], ["b", "d"], ["a", "b"]]
    relevant = [{"b", "d"}, {"b", "d"}, {"b", "c", "d"}]

    values = ndcg_at_k(recommended, relevant, 4)
    at_2 = ndcg_at_k(recommended, relevant, 2)

    # [a, b, c, d] with {b, d}: DCG = 1/log2(3) + 1/log2(5) = 0.63093 + 0.43068 = 1.06161,
    # ideal DCG = 1/log2(2) + 1/log2(3) = 1.63093 -> 0.650921.
    assert values[0] == pytest.approx(0.650921, abs=1e-6)
    # [b, d] with {b, d}: both hits on top -> 1.
    assert values[1] == pytest.approx(1.0)
    # At k=2, [a, b] with three relevant: DCG = 1/log2(3), ideal over min(3, 2) = 2 items
    # = 1 + 1/log2(3) -> 0.63093 / 1.63093 = 0.386853.
    assert at_2[2] == pytest.approx(0.386853, abs=1e-6)


def test_hit_rate_hand_cases() -> None:
    values = hit_rate_at_k([["a", "b"], ["a", "b"], ["a", "b", "c"]], [{"c"}, {"b"}, {"c"}], 2)

    # {c} not in [a, b] -> 0. {b} in [a, b] -> 1. {c} at rank 3 is past k = 2 -> 0.
    np.testing.assert_array_equal(values, [0.0, 1.0, 0.0])


def test_recall_curve_matches_recall_at_k() -> None:
    recommended, relevant = random_lists(seed=5)
    ks = [20, 1, 5, 12]

    curve = recall_curve(recommended, relevant, ks)

    assert list(curve) == ks
    for k in ks:
        assert curve[k] == pytest.approx(recall_at_k(recommended, relevant, k).mean(), rel=1e-12)


def test_recall_curve_hand_case() -> None:
    curve = recall_curve([["a", "b", "c"]], [{"a", "c"}], [1, 2, 3])

    # Hits at ranks 1 and 3 of two relevant items: 1/2, 1/2, 2/2.
    assert curve == pytest.approx({1: 0.5, 2: 0.5, 3: 1.0})


# --- list metric errors ------------------------------------------------------------------


@pytest.mark.parametrize(("metric", "reference"), LIST_METRICS, ids=LIST_METRIC_IDS)
def test_list_metric_rejects_k_below_one(metric, reference) -> None:
    with pytest.raises(ValueError, match="k must be at least 1, got 0"):
        metric([["a"]], [{"a"}], 0)


def test_list_metrics_reject_non_integer_k() -> None:
    with pytest.raises(TypeError, match="k must be an integer"):
        recall_at_k([["a"]], [{"a"}], 2.5)  # type: ignore[arg-type]


def test_list_metrics_reject_length_mismatch() -> None:
    with pytest.raises(ValueError, match="recommended has 3 lists but relevant has 2 sets"):
        evaluate_lists([["a"], ["b"], ["c"]], [{"a"}, {"b"}])


def test_list_metrics_reject_empty_relevant_set() -> None:
    with pytest.raises(ValueError, match="relevant set of shopper 1 is empty"):
        evaluate_lists([["a"], ["b"]], [{"a"}, set()])


def test_list_metrics_reject_repeated_items() -> None:
    with pytest.raises(ValueError, match=r"shopper 2 repeats items \['b'\]"):
        evaluate_lists([["a"], ["b"], ["a", "b", "b"]], [{"a"}, {"b"}, {"b"}], k=3)


def test_list_metrics_ignore_repeats_past_k() -> None:
    values = recall_at_k([["a", "b", "b"]], [{"b"}], 2)

    # The repeat sits at rank 3, past k = 2, so it is never evaluated.
    assert values[0] == 1.0


def test_list_metrics_reject_string_as_list() -> None:
    with pytest.raises(TypeError, match=r"recommended\[0\] is the string"):
        evaluate_lists(["abc"], [{"a"}])  # type: ignore[list-item]


def test_list_metrics_reject_string_as_relevant() -> None:
    with pytest.raises(TypeError, match=r"relevant\[0\] is the string"):
        evaluate_lists([["a"]], ["a"])


def test_recall_curve_rejects_empty_ks() -> None:
    with pytest.raises(ValueError, match="ks is empty"):
        recall_curve([["a"]], [{"a"}], [])


def test_recall_curve_rejects_bad_cut_off() -> None:
    with pytest.raises(ValueError, match="every value in ks must be at least 1, got 0"):
        recall_curve([["a"]], [{"a"}], [5, 0])


def test_recall_curve_rejects_zero_shoppers() -> None:
    with pytest.raises(ValueError, match="recommended is empty"):
        recall_curve([], [], [5])


# --- AUC ---------------------------------------------------------------------------------


def test_auc_hand_cases() -> None:
    scores = np.array([[3.0, 1.0, 2.0, 2.0], [3.0, 1.0, 2.0, 2.0]])

    values = auc(scores, [{0, 2}, {0, 2}], exclude=[set(), {1}])

    # Relevant scores 3, 2 against non-relevant 1, 2: pairs 3>1, 3>2, 2>1 and the tie
    # 2=2 counts 1/2 -> 3.5 / 4 = 0.875.
    assert values[0] == pytest.approx(0.875)
    # Item 1 excluded: relevant 3, 2 against non-relevant 2 -> (1 + 0.5) / 2 = 0.75.
    assert values[1] == pytest.approx(0.75)


def test_auc_perfect_and_reversed_ranking() -> None:
    scores = np.array([[4.0, 3.0, 2.0, 1.0], [4.0, 3.0, 2.0, 1.0]])

    values = auc(scores, [{0, 1}, {2, 3}])

    np.testing.assert_array_equal(values, [1.0, 0.0])


def test_auc_nan_without_negative_or_positive() -> None:
    scores = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])

    values = auc(scores, [{0, 1, 2}, {0}, {0, 1}], exclude=[set(), {0}, {2}])

    # Shopper 0: relevant covers all items. Shopper 1: its only relevant item is
    # excluded. Shopper 2: relevant covers every item that exclude leaves.
    assert np.isnan(values).all()


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_auc_matches_pairwise_reference_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_shoppers, n_items = 60, 25
    # Integer scores from a small range produce many ties.
    scores = rng.integers(0, 5, size=(n_shoppers, n_items)).astype(np.float64)
    relevant = [
        set(rng.choice(n_items, int(rng.integers(1, 8)), replace=False).tolist())
        for _ in range(n_shoppers)
    ]
    exclude = [
        set(rng.choice(n_items, int(rng.integers(0, 10)), replace=False).tolist())
        for _ in range(n_shoppers)
    ]

    np.testing.assert_allclose(
        auc(scores, relevant), reference_auc(scores, relevant), rtol=1e-12, equal_nan=True
    )
    np.testing.assert_allclose(
        auc(scores, relevant, exclude=exclude),
        reference_auc(scores, relevant, exclude),
        rtol=1e-12,
        equal_nan=True,
    )


def test_auc_ranks_infinite_scores() -> None:
    scores = np.array([[np.inf, -np.inf, np.inf, 0.0]])

    values = auc(scores, [{0}])

    # Relevant inf against -inf, inf, 0: 1 + 0.5 + 1 = 2.5 of 3 pairs.
    assert values[0] == pytest.approx(2.5 / 3)


def test_auc_rejects_nan_scores() -> None:
    with pytest.raises(ValueError, match="scores contains NaN"):
        auc(np.array([[np.nan, 1.0]]), [{0}])


def test_auc_rejects_one_dimensional_scores() -> None:
    with pytest.raises(ValueError, match=r"scores must be 2-D .* got shape \(3,\)"):
        auc(np.array([1.0, 2.0, 3.0]), [{0}])


def test_auc_rejects_index_out_of_range() -> None:
    with pytest.raises(ValueError, match="relevant_indices of shopper 1 contains index 3"):
        auc(np.zeros((2, 3)), [{0}, {3}])


def test_auc_rejects_negative_exclude_index() -> None:
    with pytest.raises(ValueError, match="exclude of shopper 0 contains index -1"):
        auc(np.zeros((1, 3)), [{0}], exclude=[{-1}])


def test_auc_rejects_empty_relevant() -> None:
    with pytest.raises(ValueError, match="relevant_indices of shopper 0 is empty"):
        auc(np.zeros((1, 3)), [set()])


def test_auc_rejects_row_count_mismatch() -> None:
    with pytest.raises(ValueError, match="relevant_indices has 1 entries but scores has 2 rows"):
        auc(np.zeros((2, 3)), [{0}])


def test_auc_rejects_float_indices() -> None:
    with pytest.raises(TypeError, match="integer item indices"):
        auc(np.zeros((1, 3)), [[0.5]])  # type: ignore[list-item]


# --- coverage, diversity, novelty ------------------------------------------------------


def test_catalog_coverage_hand_cases() -> None:
    recommended = [["a", "b"], ["b", "c"]]

    # k=2: {a, b, c} of 10 items -> 0.3. k=1: {a, b} -> 0.2.
    assert catalog_coverage(recommended, 10, 2) == pytest.approx(0.3)
    assert catalog_coverage(recommended, 10, 1) == pytest.approx(0.2)


@pytest.mark.parametrize("seed", [0, 1])
def test_catalog_coverage_matches_reference(seed: int) -> None:
    recommended, _ = random_lists(seed, n_shoppers=20, max_length=6)

    for k in (1, 3, 10):
        assert catalog_coverage(recommended, 50, k) == pytest.approx(
            reference_coverage(recommended, 50, k)
        )


def test_catalog_coverage_rejects_catalog_too_small() -> None:
    with pytest.raises(ValueError, match="3 distinct items but catalog_size is 2"):
        catalog_coverage([["a", "b", "c"]], 2, 3)


def test_catalog_coverage_rejects_non_positive_catalog() -> None:
    with pytest.raises(ValueError, match="catalog_size must be at least 1, got 0"):
        catalog_coverage([["a"]], 0, 3)


def test_catalog_coverage_zero_shoppers() -> None:
    assert catalog_coverage([], 10, 3) == 0.0


HAND_EMBEDDINGS = {"a": [1.0, 0.0], "b": [0.0, 2.0], "c": [1.0, 1.0]}


def test_intra_list_diversity_hand_cases() -> None:
    recommended = [["a", "b", "c"], ["a", "z", "b"], ["a", "z"], ["a", "b", "c"]]

    values = intra_list_diversity(recommended, HAND_EMBEDDINGS, 3)
    at_2 = intra_list_diversity(recommended, HAND_EMBEDDINGS, 2)

    # a = (1, 0), b = (0, 1) after normalisation, c = (1, 1)/sqrt(2). Distances:
    # a-b 1, a-c 1 - 1/sqrt(2), b-c 1 - 1/sqrt(2) -> mean (3 - sqrt(2)) / 3 = 0.528595.
    assert values[0] == pytest.approx(0.528595, abs=1e-6)
    # "z" has no embedding and is skipped: only a-b -> 1.
    assert values[1] == pytest.approx(1.0)
    # One embedded item -> NaN.
    assert np.isnan(values[2])
    # k=2 keeps a and b -> 1.
    assert at_2[3] == pytest.approx(1.0)


def test_intra_list_diversity_matrix_equals_mapping() -> None:
    recommended = [["a", "b", "c"], ["c", "b"]]
    row_index = {"c": 0, "a": 1, "b": 2}
    matrix = np.array([HAND_EMBEDDINGS["c"], HAND_EMBEDDINGS["a"], HAND_EMBEDDINGS["b"]])

    from_matrix = intra_list_diversity(recommended, matrix, 3, row_index=row_index)

    np.testing.assert_allclose(from_matrix, intra_list_diversity(recommended, HAND_EMBEDDINGS, 3))


def test_intra_list_diversity_identical_and_opposite() -> None:
    embeddings = {"a": [1.0, 1.0], "b": [2.0, 2.0], "c": [-1.0, -1.0]}

    values = intra_list_diversity([["a", "b"], ["a", "c"]], embeddings, 2)

    # Same direction -> 0. Opposite direction -> 1 - (-1) = 2.
    np.testing.assert_allclose(values, [0.0, 2.0], atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_intra_list_diversity_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    recommended, _ = random_lists(seed, n_shoppers=80, max_length=15)
    # A quarter of the catalog has no embedding.
    embeddings = {item: rng.normal(size=5).tolist() for item in CATALOG if rng.random() < 0.75}

    for k in (2, 6, 15):
        np.testing.assert_allclose(
            intra_list_diversity(recommended, embeddings, k),
            reference_diversity(recommended, embeddings, k),
            rtol=1e-9,
            atol=1e-12,
            equal_nan=True,
        )


def test_intra_list_diversity_without_embedded_items() -> None:
    values = intra_list_diversity([["x", "y"], []], {"a": [1.0]}, 2)

    assert np.isnan(values).all()


def test_intra_list_diversity_rejects_matrix_without_row_index() -> None:
    with pytest.raises(TypeError, match=r"row_index .* is required"):
        intra_list_diversity([["a", "b"]], np.eye(2), 2)


def test_intra_list_diversity_rejects_row_index_with_mapping() -> None:
    with pytest.raises(TypeError, match="row_index is only used with an embeddings matrix"):
        intra_list_diversity([["a", "b"]], HAND_EMBEDDINGS, 2, row_index={"a": 0})


def test_intra_list_diversity_rejects_row_outside_matrix() -> None:
    with pytest.raises(ValueError, match="maps item 'b' to row 5"):
        intra_list_diversity([["a", "b"]], np.eye(2), 2, row_index={"a": 0, "b": 5})


def test_intra_list_diversity_rejects_zero_embedding() -> None:
    with pytest.raises(ValueError, match="embedding of item 'b' is zero or not finite"):
        intra_list_diversity([["a", "b"]], {"a": [1.0, 0.0], "b": [0.0, 0.0]}, 2)


def test_intra_list_diversity_rejects_mixed_dimensions() -> None:
    with pytest.raises(ValueError, match=r"embedding of item 'b' has shape \(3,\)"):
        intra_list_diversity([["a", "b"]], {"a": [1.0, 0.0], "b": [0.0, 1.0, 0.0]}, 2)


def test_intra_list_diversity_rejects_matrix_embedding() -> None:
    with pytest.raises(ValueError, match=r"embedding of item 'a' must be 1-D, got shape \(1, 2\)"):
        intra_list_diversity([["a", "b"]], {"a": [[1.0, 0.0]], "b": [0.0, 1.0]}, 2)


def test_novelty_hand_cases() -> None:
    values = novelty([["a", "b"], ["b"], []], {"a": 3}, 3, 2)

    # p(a) = (3 + 1) / (3 + 1) = 1 -> 0 bits. p(b) = (0 + 1) / 4 -> 2 bits.
    # [a, b] -> (0 + 2) / 2 = 1. [b] -> 2. An empty list -> NaN.
    assert values[0] == pytest.approx(1.0)
    assert values[1] == pytest.approx(2.0)
    assert np.isnan(values[2])


@pytest.mark.parametrize("seed", [0, 1])
def test_novelty_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    recommended, _ = random_lists(seed, n_shoppers=100)
    n_train = 500
    popularity = {item: int(rng.integers(0, n_train + 1)) for item in CATALOG[::2]}

    for k in (1, 7, 20):
        np.testing.assert_allclose(
            novelty(recommended, popularity, n_train, k),
            reference_novelty(recommended, popularity, n_train, k),
            rtol=1e-12,
            equal_nan=True,
        )


def test_novelty_rejects_count_above_train_size() -> None:
    with pytest.raises(ValueError, match=r"count 11 .* n_shoppers_train=10"):
        novelty([["a"]], {"a": 11}, 10, 5)


def test_novelty_rejects_empty_training_window() -> None:
    with pytest.raises(ValueError, match="n_shoppers_train must be at least 1, got 0"):
        novelty([["a"]], {}, 0, 5)


# --- bootstrap ---------------------------------------------------------------------------


def test_bootstrap_interval_contains_mean() -> None:
    values = np.random.default_rng(0).random(500)

    interval = bootstrap_ci(values)

    assert interval.low < interval.mean < interval.high
    assert interval.mean == pytest.approx(values.mean())
    assert interval.n == 500


def test_bootstrap_interval_narrows_with_more_data() -> None:
    rng = np.random.default_rng(1)

    small = bootstrap_ci(rng.random(100))
    large = bootstrap_ci(rng.random(10_000))

    assert large.high - large.low < (small.high - small.low) / 4


def test_bootstrap_interval_matches_normal_approximation() -> None:
    values = np.random.default_rng(2).normal(size=2_000)
    half_width = 1.96 * values.std() / math.sqrt(values.size)

    interval = bootstrap_ci(values, n_resamples=4_000)

    assert (interval.high - interval.low) / 2 == pytest.approx(half_width, rel=0.1)


def test_bootstrap_is_reproducible_with_seed() -> None:
    values = np.random.default_rng(3).random(300)

    first = bootstrap_ci(values, seed=7)
    second = bootstrap_ci(values, seed=7)
    other = bootstrap_ci(values, seed=8)

    assert first == second
    assert first != other


def test_bootstrap_drops_nan_values() -> None:
    values = np.array([0.0, np.nan, 1.0, np.nan, 0.5])

    interval = bootstrap_ci(values)

    assert interval.n == 3
    assert interval.mean == pytest.approx(0.5)
    assert 0.0 <= interval.low <= interval.high <= 1.0


def test_bootstrap_single_value() -> None:
    interval = bootstrap_ci(np.array([0.25]))

    assert interval == ConfidenceInterval(mean=0.25, low=0.25, high=0.25, n=1)


def test_bootstrap_wider_at_higher_confidence() -> None:
    values = np.random.default_rng(4).random(400)

    narrow = bootstrap_ci(values, confidence=0.5)
    wide = bootstrap_ci(values, confidence=0.99)

    assert wide.low < narrow.low
    assert wide.high > narrow.high


def test_bootstrap_batches_large_inputs() -> None:
    # 50,000 values with 200 resamples need more than one batch of resample indices.
    values = np.random.default_rng(5).random(50_000)

    interval = bootstrap_ci(values, n_resamples=200)

    assert interval.low < interval.mean < interval.high


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n_resamples": 0}, "n_resamples must be at least 1, got 0"),
        ({"confidence": 0.0}, "confidence must be strictly between 0 and 1, got 0.0"),
        ({"confidence": 1.0}, "confidence must be strictly between 0 and 1, got 1.0"),
        ({"confidence": 95}, "confidence must be strictly between 0 and 1, got 95"),
    ],
)
def test_bootstrap_rejects_bad_options(options: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bootstrap_ci(np.array([1.0, 2.0]), **options)  # type: ignore[arg-type]


def test_bootstrap_rejects_empty_values() -> None:
    with pytest.raises(ValueError, match="values is empty"):
        bootstrap_ci(np.array([]))


def test_bootstrap_rejects_all_nan_values() -> None:
    with pytest.raises(ValueError, match="all 2 values are NaN"):
        bootstrap_ci(np.array([np.nan, np.nan]))


def test_bootstrap_rejects_infinite_values() -> None:
    with pytest.raises(ValueError, match=r"values contains \+-inf"):
        bootstrap_ci(np.array([1.0, np.inf]))


def test_bootstrap_rejects_two_dimensional_values() -> None:
    with pytest.raises(ValueError, match=r"values must be 1-D .* got shape \(2, 2\)"):
        bootstrap_ci(np.ones((2, 2)))


# --- paired relative gain ----------------------------------------------------------------


def _reference_relative_gain(
    candidate: Sequence[float], baseline: Sequence[float], n_resamples: int, seed: int
) -> tuple[float, float]:
    """Draw each resample's shoppers one by one and take the 2.5% and 97.5% order statistics."""
    rng = np.random.default_rng(seed)
    n = len(candidate)
    draws = rng.integers(0, n, size=(n_resamples, n))
    gains = []
    for row in draws:
        ours = sum(candidate[i] for i in row) / n
        theirs = sum(baseline[i] for i in row) / n
        gains.append(ours / theirs - 1.0)
    gains.sort()
    # inverted_cdf: the smallest gain whose cumulative share reaches the quantile.
    low = gains[math.ceil(0.025 * n_resamples) - 1]
    high = gains[math.ceil(0.975 * n_resamples) - 1]
    return low, high


def test_relative_gain_matches_reference() -> None:
    rng = np.random.default_rng(3)
    baseline = rng.uniform(0.1, 1.0, size=40)
    candidate = baseline * rng.uniform(0.8, 1.6, size=40)

    gain = relative_gain_ci(candidate, baseline, n_resamples=399, seed=5)
    # 399 resamples: neither 2.5% nor 97.5% of them is a whole number, so the
    # order statistic is unambiguous.
    low, high = _reference_relative_gain(list(candidate), list(baseline), 399, 5)

    assert gain.mean == pytest.approx(candidate.mean() / baseline.mean() - 1.0)
    assert (gain.low, gain.high) == pytest.approx((low, high))
    assert gain.n == 40


def test_relative_gain_of_scaled_ranker_is_exact() -> None:
    baseline = np.array([0.0, 0.5, 1.0, 0.25])

    gain = relative_gain_ci(baseline * 1.15, baseline)

    assert (gain.mean, gain.low, gain.high) == pytest.approx((0.15, 0.15, 0.15))


def test_relative_gain_pairs_shoppers() -> None:
    # Shoppers differ a lot, the candidate is always 10% better: the paired
    # interval stays at 10%, where two unpaired intervals would overlap.
    baseline = np.linspace(0.01, 1.0, 50)

    gain = relative_gain_ci(baseline * 1.1, baseline)

    assert gain.low == pytest.approx(0.1)
    assert gain.high == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("candidate", "baseline", "message"),
    [
        ([1.0, 2.0], [1.0], "one length"),
        ([], [], "empty"),
        ([1.0, np.nan], [1.0, 1.0], "finite"),
        ([1.0, 1.0], [0.0, 0.0], "baseline mean is 0"),
    ],
)
def test_relative_gain_rejects_bad_input(
    candidate: list[float], baseline: list[float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        relative_gain_ci(np.array(candidate), np.array(baseline))


def test_relative_gain_skips_resamples_without_hits() -> None:
    # Only the first shopper has hits. Resamples without that shopper have no
    # gain at all, so every defined resample gives -50%.
    gain = relative_gain_ci(np.array([0.5, 0.0, 0.0]), np.array([1.0, 0.0, 0.0]))

    assert gain.low == pytest.approx(-0.5)
    assert gain.high == pytest.approx(-0.5)
