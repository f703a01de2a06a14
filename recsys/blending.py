"""Choose the blend weights on a validation window that ends before the test cut."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from recsys.metrics import average_precision_at_k
from recsys.ranker import TrainingConfig, train_ranker
from recsys.recommend import BlendWeights, Recommender, ShopperSignals, top_k_columns
from recsys.similarity import SimilarityIndex
from recsys.visual_neighbours import VisualNeighbours

__all__ = [
    "MIN_HISTORY_SHARE",
    "WEIGHT_GRID",
    "blend_weights_from_metadata",
    "choose_blend_weights",
    "tune_blend_weights",
]

logger = logging.getLogger(__name__)

# Candidate values of each weight; the grid contains every combination (400).
# Hybrid and visual are z-scores, whose top items reach 4 to 6, while
# repurchase and popularity lie in [0, 1], hence the wider ranges of the latter.
WEIGHT_GRID: dict[str, tuple[float, ...]] = {
    "hybrid": (0.0, 0.25, 0.5, 1.0),
    "visual": (0.0, 0.25, 0.5, 1.0),
    "repurchase": (0.0, 0.5, 1.0, 2.0, 4.0),
    "popularity": (0.0, 1.0, 2.0, 4.0, 8.0),
}


# A validation window is tuned on only when the history before it spans at
# least this share of the days before `end`. With less, the history signals
# weigh less on the window than they will after `end`. On a week of H&M
# purchases, one day of history before a 2-day window gave repurchase a
# validation MAP@12 of 0.039, against 0.085 on the test window. So the grid
# favoured popularity, and the tuned blend scored half as well on the test
# window as the default weights.
MIN_HISTORY_SHARE = 0.5

# Items kept per signal and shopper when searching the grid. A blend with
# non-negative weights ranks first the items that rank high on some signal,
# so the search scores only the union of each signal's top items.
_POOL_PER_SIGNAL = 100


def _candidate_pool(signals: ShopperSignals, per_signal: int) -> tuple[np.ndarray, ShopperSignals]:
    """Return each shopper's candidate columns, sorted, and the signals restricted to them."""
    popular = top_k_columns(signals.popularity[None, :], per_signal)
    tops = [
        top_k_columns(signals.hybrid, per_signal),
        top_k_columns(signals.visual, per_signal),
        top_k_columns(signals.repurchase, per_signal),
        np.repeat(popular, signals.hybrid.shape[0], axis=0),
    ]
    columns = np.sort(np.concatenate(tops, axis=1), axis=1)
    pool = ShopperSignals(
        hybrid=np.take_along_axis(signals.hybrid, columns, axis=1),
        visual=np.take_along_axis(signals.visual, columns, axis=1),
        repurchase=np.take_along_axis(signals.repurchase, columns, axis=1),
        popularity=signals.popularity[columns],
        nearest_bought=np.take_along_axis(signals.nearest_bought, columns, axis=1),
    )
    return columns, pool


def _repeats(columns: np.ndarray) -> np.ndarray:
    repeated = np.zeros(columns.shape, dtype=bool)
    repeated[:, 1:] = columns[:, 1:] == columns[:, :-1]
    return repeated


def tune_blend_weights(
    recommender: Recommender,
    validation: pd.DataFrame,
    *,
    k: int = 12,
    grid: dict[str, Sequence[float]] | None = None,
) -> tuple[BlendWeights, float]:
    """Pick the weights with the best MAP@k on the validation purchases.

    Only shoppers with history in `recommender` count, because the others
    get the popularity fallback whatever the weights. Ties go to the first
    combination in grid order.

    Args:
        recommender: built on the purchases before the validation window.
        validation: purchases in the validation window (customer_id, article_id).

    Returns:
        The best weights and their validation MAP@k. The recommender's own
        weights and NaN when no validation shopper has history.
    """
    choices: dict[str, Sequence[float]] = dict(grid or WEIGHT_GRID)
    relevant_by_shopper = validation.groupby("customer_id")["article_id"].agg(set)
    shoppers = [str(s) for s in relevant_by_shopper.index if recommender.has_history(str(s))]
    if not shoppers:
        logger.warning("no validation shopper has history; keeping the default blend weights")
        return recommender.weights, float("nan")
    relevant = [relevant_by_shopper[s] for s in shoppers]
    signals = recommender.signals(shoppers)
    columns, pool = _candidate_pool(signals, max(k, _POOL_PER_SIGNAL))

    best: tuple[float, BlendWeights] | None = None
    names = list(choices)
    for values in itertools.product(*(choices[name] for name in names)):
        if not any(values):
            continue
        weights = BlendWeights(**dict(zip(names, values, strict=True)))
        scores = pool.blend(weights)
        scores[_repeats(columns)] = -np.inf
        top = np.take_along_axis(columns, top_k_columns(scores, k), axis=1)
        lists = [[recommender.item_ids[c] for c in row if c >= 0] for row in top]
        score = float(np.mean(average_precision_at_k(lists, relevant, k=k)))
        if best is None or score > best[0]:
            best = (score, weights)
    if best is None:
        raise ValueError("the weight grid has no combination with a non-zero weight")
    logger.info(
        "blend weights %s: validation MAP@%d %.4f on %d shoppers",
        best[1].as_dict(),
        k,
        best[0],
        len(shoppers),
    )
    return best[1], best[0]


def choose_blend_weights(
    history: pd.DataFrame,
    end: dt.date,
    window_days: int,
    *,
    items: pd.DataFrame,
    features: dict[str, list[str]],
    index: SimilarityIndex,
    config: TrainingConfig,
    k: int = 12,
    progress: bool = False,
    neighbours: VisualNeighbours | None = None,
) -> tuple[BlendWeights, dict[str, Any]]:
    """Tune the blend on the `window_days` before `end`, training on what precedes them.

    `milliner evaluate` calls this with the purchases before its test cut,
    and `milliner train` with every purchase (`end` the day after the last),
    so the served weights are chosen the way the evaluated ones are.
    `neighbours` are those of a recommender over the same items and index,
    which spares finding them again.

    Returns:
        The weights, and a report: window, purchase counts, days of history
        before the window and before `end`, validation MAP, whether the
        weights were tuned and, when not, why. The default weights, untuned,
        when the window or the time before it has no purchase, or when the
        history before the window spans less than `MIN_HISTORY_SHARE` of
        the days before `end`.
    """
    start = end - dt.timedelta(days=window_days)
    before = history.loc[history["purchased_on"] < start]
    window = history.loc[(history["purchased_on"] >= start) & (history["purchased_on"] < end)]
    first_day: dt.date | None = min(history["purchased_on"]) if not history.empty else None
    history_days = (end - first_day).days if first_day is not None else 0
    window_history_days = max((start - first_day).days, 0) if first_day is not None else 0
    report: dict[str, Any] = {
        "window": f"{start} to {end - dt.timedelta(days=1)}",
        "train_purchases": len(before),
        "purchases": len(window),
        "history_days": history_days,
        "window_history_days": window_history_days,
    }
    untuned_because = _untuned_reason(
        before, window, (start, end), window_history_days, history_days
    )
    if untuned_because is None:
        logger.info(
            "tuning the blend weights on %d purchases of %s, training on the %d before them",
            len(window),
            report["window"],
            len(before),
        )
        ranker = train_ranker(before, features, config=config, progress=progress)
        recommender = Recommender.from_artifacts(
            ranker, index, items, before, neighbours=neighbours
        )
        weights, score = tune_blend_weights(recommender, window, k=k)
        if not np.isnan(score):
            report.update(weights=weights.as_dict(), map=score, tuned=True)
            return weights, report
        untuned_because = "no shopper of the window bought any catalog item before it"

    logger.info(
        "not tuning the blend weights on the validation window %s: %s; using the default weights",
        report["window"],
        untuned_because,
    )
    weights = BlendWeights()
    report.update(weights=weights.as_dict(), map=None, tuned=False, reason=untuned_because)
    return weights, report


def _untuned_reason(
    before: pd.DataFrame,
    window: pd.DataFrame,
    bounds: tuple[dt.date, dt.date],
    window_history_days: int,
    history_days: int,
) -> str | None:
    """Return why the validation window [start, end) cannot be tuned on, or None when it can."""
    start, end = bounds
    if window.empty:
        return "the window has no purchases"
    if before.empty:
        return f"there are no purchases before the window, which starts {start}"
    if not set(window["customer_id"]) & set(before["customer_id"]):
        return "no shopper of the window bought anything before it"
    if window_history_days < MIN_HISTORY_SHARE * history_days:
        days = "day" if window_history_days == 1 else "days"
        return (
            f"the history before the window spans {window_history_days} {days}, under "
            f"{MIN_HISTORY_SHARE:.0%} of the {history_days} days before {end}, "
            "too short a past for the history signals to weigh as they will"
        )
    return None


def blend_weights_from_metadata(metadata: dict[str, Any]) -> BlendWeights | None:
    """Return the blend weights that `milliner train` stored with a ranker, if any.

    Raises:
        ValueError: the stored weights are not four finite, non-negative numbers.
    """
    stored = metadata.get("blend_weights")
    if stored is None:
        return None
    if not isinstance(stored, dict) or set(stored) != set(BlendWeights().as_dict()):
        raise ValueError(f"invalid blend_weights in the ranker metadata: {stored!r}")
    return BlendWeights(**{name: float(value) for name, value in stored.items()})
