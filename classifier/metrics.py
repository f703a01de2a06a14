"""Classification metrics with bootstrap confidence intervals."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Interval",
    "accuracy",
    "bootstrap_interval",
    "confusion_matrix",
    "macro_f1",
    "per_class_precision_recall",
]


@dataclass(frozen=True)
class Interval:
    """A point estimate and its percentile bootstrap interval (`low`, `high`)."""

    value: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        return {"value": self.value, "low": self.low, "high": self.high}


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """Return counts (classes, classes): row = true class, column = predicted class."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (truth, predicted), 1)
    return matrix


def accuracy(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Return the share of equal entries; NaN for empty input."""
    if truth.size == 0:
        return float("nan")
    return float(np.mean(truth == predicted))


def per_class_precision_recall(
    truth: np.ndarray, predicted: np.ndarray, classes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (precision, recall, support), each (classes,).

    Precision is NaN for a class never predicted and recall NaN for a class
    absent from `truth`.
    """
    matrix = confusion_matrix(truth, predicted, classes).astype(np.float64)
    true_positive = np.diag(matrix)
    predicted_count = matrix.sum(axis=0)
    support = matrix.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted_count > 0, true_positive / predicted_count, np.nan)
        recall = np.where(support > 0, true_positive / support, np.nan)
    return precision, recall, support.astype(np.int64)


def macro_f1(truth: np.ndarray, predicted: np.ndarray, classes: int) -> float:
    """Return the unweighted mean F1 over the classes present in `truth`.

    A present class that is never predicted counts as F1 0. Classes absent from
    `truth` are left out, so a rare class missing from a small test set does not
    count as a perfect or a failed class.
    """
    precision, recall, support = per_class_precision_recall(truth, predicted, classes)
    present = support > 0
    if not present.any():
        return float("nan")
    precision = np.nan_to_num(precision[present])
    recall = recall[present]
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return float(f1.mean())


def bootstrap_interval(
    metric: Callable[[np.ndarray, np.ndarray], float],
    truth: np.ndarray,
    predicted: np.ndarray,
    *,
    groups: Sequence[str] | None = None,
    replicates: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Return `metric(truth, predicted)` with a percentile bootstrap interval.

    With `groups`, resampling draws whole groups (for example product codes)
    with replacement, because colour variants of one product are not
    independent. Without it, resampling draws single entries.
    """
    value = metric(truth, predicted)
    if truth.size == 0:
        return Interval(value, float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    if groups is None:
        members = [np.array([i]) for i in range(truth.size)]
    else:
        by_group: dict[str, list[int]] = {}
        for position, group in enumerate(groups):
            by_group.setdefault(group, []).append(position)
        # Sorted, so the interval depends on the photos and not on their order.
        members = [np.asarray(by_group[group]) for group in sorted(by_group)]
    scores = np.empty(replicates)
    for replicate in range(replicates):
        drawn = rng.integers(0, len(members), size=len(members))
        chosen = np.concatenate([members[i] for i in drawn])
        scores[replicate] = metric(truth[chosen], predicted[chosen])
    tail = (1.0 - level) / 2.0
    low, high = np.nanquantile(scores, [tail, 1.0 - tail])
    return Interval(value, float(low), float(high))
