"""Offline ranking metrics for recommendation lists, with bootstrap confidence intervals.

List metrics take two sequences in the same shopper order. ``recommended`` contains one
ranked list of catalog item ids (strings) per shopper, best item first. ``relevant``
contains the items each shopper bought in the test window. Only the first k items of each
list count, and a list may be shorter than k. A list that repeats an item within its first
k raises ValueError, because the repeat would count the same purchase twice. Shoppers
without a purchase in the test window must be dropped before evaluation, so an empty
relevant set raises ValueError. A relevant collection may contain repeats, and
``|relevant|`` always means its number of distinct items.

Per-shopper metrics return a float64 array of shape (n_shoppers,). Aggregate them with
``values.mean()`` (``np.nanmean`` for metrics that can be NaN) or with `bootstrap_ci`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import chain

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.stats import rankdata

__all__ = [
    "ConfidenceInterval",
    "auc",
    "average_precision_at_k",
    "bootstrap_ci",
    "catalog_coverage",
    "evaluate_lists",
    "hit_rate_at_k",
    "intra_list_diversity",
    "ndcg_at_k",
    "novelty",
    "precision_at_k",
    "recall_at_k",
    "recall_curve",
    "relative_gain_ci",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

# Upper bound on the resample indices drawn at once by `bootstrap_ci`: 2**22 int64
# values take 32 MiB, whatever the number of shoppers.
_RESAMPLE_BATCH_ELEMENTS = 2**22


# --- validation shared by the list metrics ---------------------------------------------


def _validate_k(k: int, name: str = "k") -> None:
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise TypeError(f"{name} must be an integer, got {k!r} of type {type(k).__name__}")
    if k < 1:
        raise ValueError(f"{name} must be at least 1, got {k}")


def _validate_same_length(recommended: Sequence[object], relevant: Sequence[object]) -> None:
    if len(recommended) != len(relevant):
        raise ValueError(
            f"recommended has {len(recommended)} lists but relevant has {len(relevant)} sets: "
            "pass one relevant set per shopper, in the order of recommended"
        )


def _top_k(items: Sequence[str], k: int, position: int) -> tuple[Sequence[str], set[str]]:
    """Check the first k items for repeats and return them as a sequence and as a set."""
    # A bare string is a Sequence too, and would be read as a list of characters.
    if isinstance(items, str):
        raise TypeError(
            f"recommended[{position}] is the string {items!r}: pass a list of item ids, "
            "such as [item_id], not the id itself"
        )
    top = items if len(items) <= k else items[:k]
    if not isinstance(top, list | tuple):
        top = list(top)
    distinct = set(top)
    if len(distinct) != len(top):
        repeated = sorted({item for item in top if top.count(item) > 1})
        raise ValueError(
            f"recommended list of shopper {position} repeats items {repeated} within its "
            f"first {k}: remove the repeats before evaluating"
        )
    return top, distinct


def _relevant_set(bought: Collection[str], position: int) -> Collection[str]:
    if isinstance(bought, str):
        raise TypeError(
            f"relevant[{position}] is the string {bought!r}: pass a collection of item ids, "
            "such as {item_id}, not the id itself"
        )
    distinct = bought if isinstance(bought, set | frozenset) else set(bought)
    if not distinct:
        raise ValueError(
            f"relevant set of shopper {position} is empty: drop shoppers without a purchase "
            "in the test window before evaluating"
        )
    return distinct


# --- ranking metrics on the hit matrix -----------------------------------------------------


def _hit_matrix(
    recommended: Sequence[Sequence[str]], relevant: Sequence[Collection[str]], k: int
) -> tuple[BoolArray, IntArray]:
    """Return the (n_shoppers, k) hit matrix and the (n_shoppers,) distinct relevant counts.

    ``hits[s, i]`` is True when the item at rank i + 1 of shopper s was bought. Columns past
    the end of a short list are False.
    """
    _validate_k(k)
    _validate_same_length(recommended, relevant)
    n_shoppers = len(recommended)

    # The set of each list, which the repeat check builds anyway, is intersected with the
    # relevant set, and list.index then locates the few hits.
    # NOTE: hashing every recommended id into that set dominates the run time because it
    # reads each string object. For 100,000 lists of 100 ids from a 100,000-item catalog,
    # building the sets alone took about 1 s on a shared 2-core AMD EPYC machine, and the
    # numpy part took 0.07 s. benchmarks/metrics_speed.py times the whole call.
    n_relevant: list[int] = []
    hit_rows: list[int] = []
    hit_columns: list[int] = []
    for position, (items, bought) in enumerate(zip(recommended, relevant, strict=True)):
        top, distinct = _top_k(items, k, position)
        bought_set = _relevant_set(bought, position)
        n_relevant.append(len(bought_set))
        for item in distinct.intersection(bought_set):
            hit_rows.append(position)
            hit_columns.append(top.index(item))

    hits = np.zeros((n_shoppers, k), dtype=np.bool_)
    hits[hit_rows, hit_columns] = True
    return hits, np.asarray(n_relevant, dtype=np.int64)


def _average_precision(hits: BoolArray, n_relevant: IntArray) -> FloatArray:
    k = hits.shape[1]
    cumulative_hits = np.cumsum(hits, axis=1, dtype=np.int32)
    # P(i) * rel(i) is non-zero only at hits, which are far fewer than n_shoppers * k.
    rows, columns = np.nonzero(hits)
    precision_at_hits = cumulative_hits[rows, columns] / (columns + 1.0)
    precision_sums = np.bincount(rows, weights=precision_at_hits, minlength=hits.shape[0])
    return np.asarray(precision_sums / np.minimum(n_relevant, k), dtype=np.float64)


def _recall(hits: BoolArray, n_relevant: IntArray) -> FloatArray:
    return np.asarray(hits.sum(axis=1) / n_relevant, dtype=np.float64)


def _precision(hits: BoolArray) -> FloatArray:
    return np.asarray(hits.sum(axis=1) / hits.shape[1], dtype=np.float64)


def _ndcg(hits: BoolArray, n_relevant: IntArray) -> FloatArray:
    k = hits.shape[1]
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = hits @ discounts
    ideal_dcg = np.cumsum(discounts)[np.minimum(n_relevant, k) - 1]
    return np.asarray(dcg / ideal_dcg, dtype=np.float64)


def _hit_rate(hits: BoolArray) -> FloatArray:
    return np.asarray(hits.any(axis=1), dtype=np.float64)


def average_precision_at_k(
    recommended: Sequence[Sequence[str]], relevant: Sequence[Collection[str]], k: int
) -> FloatArray:
    """Compute AP@k per shopper, as defined by the H&M Kaggle competition.

    AP@k = (1 / min(|relevant|, k)) * sum over i = 1..k of P(i) * rel(i), where P(i) is the
    precision of the first i items and rel(i) is 1 when item i was bought. The mean over
    shoppers is MAP@k. A list shorter than k is not penalised beyond its missing hits.

    Returns:
        float64 array of shape (n_shoppers,), values in [0, 1].

    Raises:
        TypeError: if k is not an integer, or a list or relevant set is a bare string.
        ValueError: if k < 1, the two sequences differ in length, a relevant set is
            empty, or a list repeats an item within its first k.
    """
    hits, n_relevant = _hit_matrix(recommended, relevant, k)
    return _average_precision(hits, n_relevant)


def recall_at_k(
    recommended: Sequence[Sequence[str]], relevant: Sequence[Collection[str]], k: int
) -> FloatArray:
    """Compute recall@k per shopper: hits in the first k items divided by |relevant|.

    Recall stays below 1 when |relevant| > k. Returns a float64 array of shape
    (n_shoppers,) and raises as `average_precision_at_k` does.
    """
    hits, n_relevant = _hit_matrix(recommended, relevant, k)
    return _recall(hits, n_relevant)


def precision_at_k(
    recommended: Sequence[Sequence[str]], relevant: Sequence[Collection[str]], k: int
) -> FloatArray:
    """Compute precision@k per shopper: hits in the first k items divided by k.

    The divisor is k even for a list shorter than k, so short lists score lower. Returns
    a float64 array of shape (n_shoppers,) and raises as `average_precision_at_k` does.
    """
    hits, _ = _hit_matrix(recommended, relevant, k)
    return _precision(hits)


def ndcg_at_k(
    recommended: Sequence[Sequence[str]], relevant: Sequence[Collection[str]], k: int
) -> FloatArray:
    """Compute NDCG@k per shopper with binary gains and a log2 discount.

    DCG@k = sum over hits at rank i of 1 / log2(i + 1). The ideal DCG places
    min(|relevant|, k) hits at the top ranks, so the values lie in [0, 1]. Returns a
    float64 array of shape (n_shoppers,) and raises as `average_precision_at_k` does.
    """
    hits, n_relevant = _hit_matrix(recommended, relevant, k)
    return _ndcg(hits, n_relevant)


def hit_rate_at_k(
    recommended: Sequence[Sequence[str]], relevant: Sequence[Collection[str]], k: int
) -> FloatArray:
    """Compute the hit rate per shopper: 1.0 if any of the first k items was bought, else 0.0.

    Returns a float64 array of shape (n_shoppers,) and raises as `average_precision_at_k`
    does.
    """
    hits, _ = _hit_matrix(recommended, relevant, k)
    return _hit_rate(hits)


def evaluate_lists(
    recommended: Sequence[Sequence[str]], relevant: Sequence[Collection[str]], *, k: int = 12
) -> dict[str, FloatArray]:
    """Compute the five list metrics at k from a single pass over the lists.

    Returns a dict with the keys ``"map"``, ``"recall"``, ``"precision"``, ``"ndcg"`` and
    ``"hit_rate"``. Each value is a float64 array of shape (n_shoppers,) equal to what the
    matching ``*_at_k`` function returns. ``"map"`` contains the per-shopper AP@k, so that
    ``result["map"].mean()`` is MAP@k. Raises as `average_precision_at_k` does.
    """
    hits, n_relevant = _hit_matrix(recommended, relevant, k)
    return {
        "map": _average_precision(hits, n_relevant),
        "recall": _recall(hits, n_relevant),
        "precision": _precision(hits),
        "ndcg": _ndcg(hits, n_relevant),
        "hit_rate": _hit_rate(hits),
    }


def recall_curve(
    recommended: Sequence[Sequence[str]],
    relevant: Sequence[Collection[str]],
    ks: Sequence[int],
) -> dict[int, float]:
    """Compute the mean recall over shoppers at each cut-off in ``ks``.

    The lists are read once, at the largest cut-off, so a repeated item within the first
    max(ks) items raises ValueError. Returns {k: mean recall@k} in the order of ``ks``.

    Raises:
        ValueError: if ``ks`` or ``recommended`` is empty, or as `average_precision_at_k`
            does.
    """
    if len(ks) == 0:
        raise ValueError("ks is empty: pass at least one cut-off, such as [12]")
    for k in ks:
        _validate_k(k, name="every value in ks")
    if len(recommended) == 0:
        raise ValueError("recommended is empty: a recall curve needs at least one shopper")

    hits, n_relevant = _hit_matrix(recommended, relevant, max(ks))
    cumulative_hits = np.cumsum(hits, axis=1, dtype=np.int32)
    return {int(k): float(np.mean(cumulative_hits[:, k - 1] / n_relevant)) for k in ks}


# --- AUC from full score matrices ----------------------------------------------------------


def _index_mask(indices: Sequence[Collection[int]], shape: tuple[int, int], name: str) -> BoolArray:
    """Return a boolean mask of ``shape`` with True at each (shopper, item index) pair."""
    n_shoppers, n_items = shape
    if len(indices) != n_shoppers:
        raise ValueError(
            f"{name} has {len(indices)} entries but scores has {n_shoppers} rows: "
            "pass one collection of item indices per row of scores"
        )
    lengths = np.fromiter((len(row) for row in indices), dtype=np.int64, count=n_shoppers)
    columns = np.asarray(list(chain.from_iterable(indices)))
    if columns.size and columns.dtype.kind not in "iu":
        raise TypeError(f"{name} must contain integer item indices, got dtype {columns.dtype}")
    rows = np.repeat(np.arange(n_shoppers), lengths)
    out_of_range = (columns < 0) | (columns >= n_items)
    if out_of_range.any():
        first = int(np.flatnonzero(out_of_range)[0])
        raise ValueError(
            f"{name} of shopper {rows[first]} contains index {columns[first]}, outside "
            f"[0, {n_items}): indices are column positions in scores"
        )
    mask = np.zeros(shape, dtype=np.bool_)
    mask[rows, columns.astype(np.int64)] = True
    return mask


def auc(
    scores: npt.ArrayLike,
    relevant_indices: Sequence[Collection[int]],
    *,
    exclude: Sequence[Collection[int]] | None = None,
) -> FloatArray:
    """Compute the ROC AUC of each shopper's scores over the candidate items.

    AUC is the probability that a random relevant item scores above a random non-relevant
    one, with ties counting 1/2. It is computed from average ranks (the Mann-Whitney U
    statistic) in O(n_items log n_items) per shopper, not by comparing pairs. The
    computation keeps several float64 arrays of the size of ``scores`` at once, so score
    a large population in batches of shoppers.

    Args:
        scores: float array of shape (n_shoppers, n_items). Higher means more likely to be
            bought. NaN is rejected, but +-inf is ranked like any other value.
        relevant_indices: per shopper, the column positions in ``scores`` (internal item
            indices, not catalog ids) of the items bought in the test window.
        exclude: per shopper, column positions to drop from the candidates before
            ranking, such as items bought during training. An index that is both relevant
            and excluded is dropped too.

    Returns:
        float64 array of shape (n_shoppers,). A shopper gets NaN when no relevant candidate
        is left after ``exclude``, or when the relevant items cover all candidate items,
        because AUC needs at least one item of each class.

    Raises:
        ValueError: if scores is not 2-D or contains NaN, a per-shopper sequence has the
            wrong length, a relevant collection is empty, or an index is out of range.
        TypeError: if the indices are not integers.
    """
    score_matrix = np.asarray(scores, dtype=np.float64)
    if score_matrix.ndim != 2:
        raise ValueError(
            f"scores must be 2-D (n_shoppers, n_items), got shape {score_matrix.shape}"
        )
    if np.isnan(score_matrix).any():
        raise ValueError("scores contains NaN: replace it, or pass those items in exclude")
    for position, row in enumerate(relevant_indices):
        if len(row) == 0:
            raise ValueError(
                f"relevant_indices of shopper {position} is empty: drop shoppers without "
                "a purchase in the test window before evaluating"
            )

    relevant_mask = _index_mask(relevant_indices, score_matrix.shape, "relevant_indices")
    if exclude is None:
        candidate_mask = np.ones(score_matrix.shape, dtype=np.bool_)
    else:
        candidate_mask = ~_index_mask(exclude, score_matrix.shape, "exclude")
    relevant_mask &= candidate_mask

    n_positive = relevant_mask.sum(axis=1)
    n_negative = candidate_mask.sum(axis=1) - n_positive

    # Excluded items become NaN, which rankdata leaves out of the ranking of the row.
    candidate_scores = np.where(candidate_mask, score_matrix, np.nan)
    ranks = rankdata(candidate_scores, axis=1, nan_policy="omit")
    positive_rank_sum = np.where(relevant_mask, ranks, 0.0).sum(axis=1)
    u_statistic = positive_rank_sum - n_positive * (n_positive + 1) / 2.0

    pairs = n_positive * n_negative
    result = np.full(score_matrix.shape[0], np.nan)
    defined = pairs > 0
    result[defined] = u_statistic[defined] / pairs[defined]
    return result


# --- coverage, diversity and novelty of the lists --------------------------------------


def catalog_coverage(recommended: Sequence[Sequence[str]], catalog_size: int, k: int) -> float:
    """Compute the share of the catalog that appears in at least one shopper's first k items.

    Args:
        recommended: ranked lists of catalog item ids, one per shopper.
        catalog_size: number of items that could have been recommended.
        k: cut-off applied to each list.

    Returns:
        The number of distinct recommended items divided by ``catalog_size``, in [0, 1].
        It is 0.0 when there are no shoppers.

    Raises:
        ValueError: if catalog_size < 1, k < 1, a list repeats an item within its first k,
            or the lists contain more distinct items than ``catalog_size``.
    """
    _validate_k(k)
    if catalog_size < 1:
        raise ValueError(f"catalog_size must be at least 1, got {catalog_size}")

    seen: set[str] = set()
    for position, items in enumerate(recommended):
        _, distinct = _top_k(items, k, position)
        seen.update(distinct)
    if len(seen) > catalog_size:
        raise ValueError(
            f"the lists contain {len(seen)} distinct items but catalog_size is "
            f"{catalog_size}: pass the size of the whole candidate catalog"
        )
    return len(seen) / catalog_size


def intra_list_diversity(
    recommended: Sequence[Sequence[str]],
    embeddings: Mapping[str, npt.ArrayLike] | npt.NDArray[np.floating],
    k: int,
    *,
    row_index: Mapping[str, int] | None = None,
) -> FloatArray:
    """Compute the mean pairwise cosine distance among each shopper's first k items.

    Each embedding is L2-normalised, and the distance of a pair is 1 - cos. Items without
    an embedding are skipped. For m embedded items with unit vectors e_i, the pairwise
    cosines sum to (|sum_i e_i|^2 - m) / 2, so the mean distance is computed in
    O(m * dim) per shopper instead of O(m^2 * dim).

    Args:
        recommended: ranked lists of catalog item ids, one per shopper.
        embeddings: either a mapping from catalog item id to a 1-D vector, or a 2-D
            matrix of shape (n_items, dim) together with ``row_index``.
        k: cut-off applied to each list.
        row_index: mapping from catalog item id to its row in ``embeddings``. Required
            with a matrix and rejected with a mapping.

    Returns:
        float64 array of shape (n_shoppers,), values in [0, 2]. A shopper with fewer than
        two embedded items among its first k gets NaN.

    Raises:
        TypeError: if ``row_index`` is missing for a matrix or given with a mapping.
        ValueError: if k < 1, a list repeats an item, an embedding is not a finite non-zero
            vector of the common length, or ``row_index`` points outside the matrix.
    """
    _validate_k(k)
    lookup = _embedding_lookup(embeddings, row_index)

    # Gather the vectors of the distinct embedded items, each once, and record which
    # shopper lists them. Items without an embedding map to -1.
    local_row: dict[str, int] = {}
    local_items: list[str] = []
    vectors: list[npt.NDArray[np.float64]] = []
    entry_shoppers: list[int] = []
    entry_rows: list[int] = []
    for position, items in enumerate(recommended):
        top, _ = _top_k(items, k, position)
        for item in top:
            row = local_row.get(item)
            if row is None:
                vector = lookup(item)
                row = -1 if vector is None else len(vectors)
                local_row[item] = row
                if vector is not None:
                    vectors.append(vector)
                    local_items.append(item)
            if row >= 0:
                entry_shoppers.append(position)
                entry_rows.append(row)

    n_shoppers = len(recommended)
    if not vectors:
        return np.full(n_shoppers, np.nan)
    unit_vectors = _normalise_rows(vectors, local_items)

    membership = sparse.csr_matrix(
        (np.ones(len(entry_rows)), (entry_shoppers, entry_rows)),
        shape=(n_shoppers, len(vectors)),
    )
    vector_sums = np.asarray(membership @ unit_vectors)
    n_embedded = np.bincount(np.asarray(entry_shoppers, dtype=np.int64), minlength=n_shoppers)

    result = np.full(n_shoppers, np.nan)
    defined = n_embedded >= 2
    m = n_embedded[defined].astype(np.float64)
    squared_norms = np.einsum("ij,ij->i", vector_sums[defined], vector_sums[defined])
    mean_cosine = (squared_norms - m) / (m * (m - 1.0))
    # Rounding can push identical or opposite vectors a few ulps outside [0, 2].
    result[defined] = np.clip(1.0 - mean_cosine, 0.0, 2.0)
    return result


def _embedding_lookup(
    embeddings: Mapping[str, npt.ArrayLike] | npt.NDArray[np.floating],
    row_index: Mapping[str, int] | None,
) -> Callable[[str], npt.NDArray[np.float64] | None]:
    """Return a function that maps an item id to its float64 embedding, or None without one."""
    if isinstance(embeddings, np.ndarray):
        if row_index is None:
            raise TypeError("embeddings is a matrix, so row_index (item id -> row) is required")
        if embeddings.ndim != 2:
            raise ValueError(
                f"embeddings matrix must be 2-D (n_items, dim), got shape {embeddings.shape}"
            )
        return partial(_matrix_row, embeddings, row_index)
    if not isinstance(embeddings, Mapping):
        raise TypeError(
            "embeddings must be a mapping from item id to vector or a 2-D numpy array, "
            f"got {type(embeddings).__name__}"
        )
    if row_index is not None:
        raise TypeError("row_index is only used with an embeddings matrix, not with a mapping")
    return partial(_mapping_value, embeddings)


def _matrix_row(
    matrix: npt.NDArray[np.floating], row_index: Mapping[str, int], item: str
) -> npt.NDArray[np.float64] | None:
    row = row_index.get(item)
    if row is None:
        return None
    if not 0 <= row < matrix.shape[0]:
        raise ValueError(
            f"row_index maps item {item!r} to row {row}, outside the embeddings matrix "
            f"of {matrix.shape[0]} rows"
        )
    return np.asarray(matrix[row], dtype=np.float64)


def _mapping_value(
    mapping: Mapping[str, npt.ArrayLike], item: str
) -> npt.NDArray[np.float64] | None:
    value = mapping.get(item)
    return None if value is None else np.asarray(value, dtype=np.float64)


def _normalise_rows(
    vectors: list[npt.NDArray[np.float64]], items: list[str]
) -> npt.NDArray[np.float64]:
    dim = vectors[0].shape
    for item, vector in zip(items, vectors, strict=True):
        if vector.ndim != 1:
            raise ValueError(f"embedding of item {item!r} must be 1-D, got shape {vector.shape}")
        if vector.shape != dim:
            raise ValueError(
                f"embedding of item {item!r} has shape {vector.shape}, expected {dim} "
                f"like the embedding of item {items[0]!r}"
            )
    stacked = np.stack(vectors)
    norms = np.linalg.norm(stacked, axis=1)
    invalid = ~np.isfinite(norms) | (norms == 0.0)
    if invalid.any():
        item = items[int(np.flatnonzero(invalid)[0])]
        raise ValueError(
            f"embedding of item {item!r} is zero or not finite, so its cosine distance is "
            "undefined: fix the embedding or leave the item out of the embeddings"
        )
    return np.asarray(stacked / norms[:, np.newaxis])


def novelty(
    recommended: Sequence[Sequence[str]],
    item_popularity: Mapping[str, int],
    n_shoppers_train: int,
    k: int,
) -> FloatArray:
    """Compute the mean self-information of each shopper's first k items, in bits.

    The self-information of item i is -log2(p(i)) with p(i) = (count(i) + 1) /
    (n_shoppers_train + 1). The add-one smoothing keeps items unseen in training finite,
    at log2(n_shoppers_train + 1) bits, so a brand-new item scores highest.

    Args:
        recommended: ranked lists of catalog item ids, one per shopper.
        item_popularity: number of training shoppers who bought each item. Items missing
            from the mapping count as 0.
        n_shoppers_train: number of shoppers in the training window.
        k: cut-off applied to each list.

    Returns:
        float64 array of shape (n_shoppers,), values in [0, log2(n_shoppers_train + 1)].
        An empty list gets NaN.

    Raises:
        ValueError: if k < 1, n_shoppers_train < 1, a list repeats an item, or a count is
            negative or larger than n_shoppers_train.
    """
    _validate_k(k)
    if n_shoppers_train < 1:
        raise ValueError(f"n_shoppers_train must be at least 1, got {n_shoppers_train}")

    n_shoppers = len(recommended)
    lengths = np.zeros(n_shoppers, dtype=np.int64)
    counts: list[int] = []
    for position, items in enumerate(recommended):
        top, _ = _top_k(items, k, position)
        lengths[position] = len(top)
        counts.extend(item_popularity.get(item, 0) for item in top)

    count_array = np.asarray(counts, dtype=np.int64)
    invalid = (count_array < 0) | (count_array > n_shoppers_train)
    if invalid.any():
        first = int(np.flatnonzero(invalid)[0])
        raise ValueError(
            f"item_popularity has count {count_array[first]} for a recommended item, outside "
            f"[0, n_shoppers_train={n_shoppers_train}]: count distinct training shoppers "
            "per item"
        )

    information = -np.log2((count_array + 1.0) / (n_shoppers_train + 1.0))
    shoppers = np.repeat(np.arange(n_shoppers), lengths)
    totals = np.bincount(shoppers, weights=information, minlength=n_shoppers)
    result = np.full(n_shoppers, np.nan)
    non_empty = lengths > 0
    result[non_empty] = totals[non_empty] / lengths[non_empty]
    return result


# --- confidence intervals ------------------------------------------------------------------


@dataclass(frozen=True)
class ConfidenceInterval:
    """Mean of a per-shopper metric with its percentile bootstrap interval.

    ``n`` is the number of non-NaN values the mean and the interval were computed from.
    """

    mean: float
    low: float
    high: float
    n: int


def bootstrap_ci(
    values: npt.ArrayLike,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> ConfidenceInterval:
    """Estimate a percentile bootstrap confidence interval for the mean over shoppers.

    Shoppers are resampled with replacement ``n_resamples`` times. ``low`` and ``high``
    are the (1 - confidence) / 2 and (1 + confidence) / 2 quantiles of the resample
    means. NaN values, such as AUC for shoppers without a negative item, are dropped
    first. The same ``seed`` and input give the same interval. Memory stays bounded
    because the resample indices are drawn in batches of about 2**22 values, or one
    resample at a time when there are more values than that.

    Args:
        values: 1-D array of per-shopper metric values, shape (n_shoppers,).
        n_resamples: number of bootstrap resamples, at least 1.
        confidence: coverage of the interval, strictly between 0 and 1.
        seed: seed of the numpy random generator.

    Raises:
        ValueError: if values is not 1-D, is empty, contains +-inf or only NaN, or an
            option is out of range.
        TypeError: if n_resamples is not an integer.
    """
    _check_resampling(n_resamples, confidence)
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"values must be 1-D (n_shoppers,), got shape {array.shape}")
    if array.size == 0:
        raise ValueError("values is empty: pass one metric value per shopper")
    kept = array[~np.isnan(array)]
    if kept.size == 0:
        raise ValueError(f"all {array.size} values are NaN, so there is nothing to resample")
    if np.isinf(kept).any():
        raise ValueError("values contains +-inf, so the mean and its interval are undefined")

    resample_means = np.empty(n_resamples)
    for rows, indices in _resamples(kept.size, n_resamples, seed):
        resample_means[rows] = kept[indices].mean(axis=1)

    low, high = _percentiles(resample_means, confidence)
    return ConfidenceInterval(mean=float(kept.mean()), low=low, high=high, n=kept.size)


def _check_resampling(n_resamples: int, confidence: float) -> None:
    """Raise TypeError or ValueError when the bootstrap options are out of range."""
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int | np.integer):
        raise TypeError(f"n_resamples must be an integer, got {n_resamples!r}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")


def _resamples(n: int, n_resamples: int, seed: int) -> Iterator[tuple[slice, IntArray]]:
    """Yield (rows of the resamples, their shopper indices) in memory-bounded batches."""
    rng = np.random.default_rng(seed)
    batch_size = max(1, _RESAMPLE_BATCH_ELEMENTS // n)
    for start in range(0, n_resamples, batch_size):
        stop = min(start + batch_size, n_resamples)
        yield slice(start, stop), rng.integers(0, n, size=(stop - start, n))


def _percentiles(
    statistics: FloatArray, confidence: float, method: str = "linear"
) -> tuple[float, float]:
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(statistics, [tail, 1.0 - tail], method=method)  # type: ignore[call-overload]
    return float(low), float(high)


def relative_gain_ci(
    candidate: npt.ArrayLike,
    baseline: npt.ArrayLike,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> ConfidenceInterval:
    """Estimate mean(candidate) / mean(baseline) - 1 with a paired percentile bootstrap.

    Both arrays hold one metric value per shopper, for the same shoppers in
    the same order. Each resample draws shoppers with replacement and keeps
    the pair of values of every drawn shopper, so what the two rankers have
    in common (easy and hard shoppers) does not widen the interval. A
    resample whose baseline mean is 0 has an infinite gain, or none when
    both means are 0, and those are left out. The interval's ends are
    resample gains themselves, never interpolated, so an infinite gain never
    turns into NaN.

    Raises:
        ValueError: the arrays are not 1-D of one length, are empty, hold
            NaN or +-inf, the baseline mean is 0, or an option is out of range.
        TypeError: n_resamples is not an integer.
    """
    _check_resampling(n_resamples, confidence)
    ours = np.asarray(candidate, dtype=np.float64)
    theirs = np.asarray(baseline, dtype=np.float64)
    if ours.ndim != 1 or ours.shape != theirs.shape:
        raise ValueError(
            f"candidate and baseline must be 1-D of one length, got shapes {ours.shape} "
            f"and {theirs.shape}: pass one value per shopper, same shoppers, same order"
        )
    if ours.size == 0:
        raise ValueError("the arrays are empty: pass one metric value per shopper")
    if not (np.isfinite(ours).all() and np.isfinite(theirs).all()):
        raise ValueError("candidate and baseline must be finite: drop shoppers without a value")
    if theirs.mean() == 0:
        raise ValueError("the baseline mean is 0, so a relative gain is undefined")

    gains = np.empty(n_resamples)
    with np.errstate(divide="ignore", invalid="ignore"):
        for rows, indices in _resamples(ours.size, n_resamples, seed):
            gains[rows] = ours[indices].mean(axis=1) / theirs[indices].mean(axis=1) - 1.0
    defined = gains[~np.isnan(gains)]
    if defined.size == 0:
        low = high = float("nan")
    else:
        low, high = _percentiles(defined, confidence, method="inverted_cdf")
    mean = float(ours.mean() / theirs.mean() - 1.0)
    return ConfidenceInterval(mean=mean, low=low, high=high, n=ours.size)
