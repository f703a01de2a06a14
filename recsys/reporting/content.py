"""Report content besides the metrics: galleries, and the JSON and CSV tables."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from recsys.evaluation import SEGMENTS, EvaluationResult
from recsys.metrics import ConfidenceInterval

__all__ = [
    "GalleryItem",
    "ShopperGallery",
    "SimilarGallery",
    "report_data",
    "write_csv_tables",
]


@dataclass(frozen=True)
class GalleryItem:
    """An item shown as a picture in the report; `hit` marks a test purchase."""

    article_id: str
    name: str
    product_type: str
    image_path: Path | None
    score: float | None = None
    hit: bool = False


@dataclass(frozen=True)
class SimilarGallery:
    """A query item and its visually nearest catalog items."""

    query: GalleryItem
    neighbours: list[GalleryItem]


@dataclass(frozen=True)
class ShopperGallery:
    """A shopper's purchases before the cut and each ranker's top k, hits marked."""

    customer_id: str
    history: list[GalleryItem]
    bought_after_cut: list[GalleryItem]
    lists: dict[str, list[GalleryItem]] = field(default_factory=dict)


def _number(value: float) -> float | None:
    """Return `value`, or None for NaN and infinities, which JSON cannot hold."""
    return value if math.isfinite(value) else None


def _interval_data(interval: ConfidenceInterval) -> dict[str, float | int | None]:
    return {
        "mean": _number(interval.mean),
        "ci95_low": _number(interval.low),
        "ci95_high": _number(interval.high),
        "shoppers": interval.n,
    }


def report_data(
    result: EvaluationResult,
    similar: SimilarGallery | None,
    shoppers: list[ShopperGallery],
    trends: pd.DataFrame,
    trend_period: str,
) -> dict[str, Any]:
    """Return the machine-readable content of the report."""
    return {
        "cut": str(result.cut),
        "k": result.k,
        "data": {
            "first_day": str(result.first_day),
            "last_day": str(result.last_day),
            "train_purchases": result.train_purchases,
            "test_purchases": result.test_purchases,
            "test_shoppers": result.test_shoppers,
            "returning_shoppers": result.returning_shoppers,
            "test_items": result.test_items,
            "cold_test_items": result.cold_test_items,
        },
        "segments": {
            name: {"description": SEGMENTS[name], "shoppers": size}
            for name, size in result.segment_sizes.items()
        },
        "validation": result.validation,
        "blend_gain": {
            segment: {
                "baseline": comparison.baseline,
                f"baseline_map@{result.k}": comparison.baseline_map,
                f"blend_map@{result.k}": comparison.blend_map,
                "relative_gain": None
                if comparison.gain is None
                else _interval_data(comparison.gain),
            }
            for segment, comparison in result.blend_gains.items()
        },
        "rankers": {
            scores.name: {
                "description": scores.description,
                **{
                    (
                        metric
                        if metric in {"auc", "diversity", "novelty"}
                        else f"{metric}@{result.k}"
                    ): _interval_data(interval)
                    for metric, interval in scores.intervals.items()
                },
                f"coverage@{result.k}": scores.coverage,
                "recall_curve": {str(k): value for k, value in scores.recall_curve.items()},
                "segments": {
                    segment: {
                        f"{metric}@{result.k}": _interval_data(interval)
                        for metric, interval in metrics.items()
                    }
                    for segment, metrics in scores.segments.items()
                },
            }
            for scores in result.rankers
        },
        "training": result.training,
        "similar_items": None
        if similar is None
        else {
            "query": similar.query.article_id,
            "neighbours": [
                {"article_id": item.article_id, "score": item.score} for item in similar.neighbours
            ],
        },
        "shopper_gallery": [
            {
                "customer_id": gallery.customer_id,
                "history": [item.article_id for item in gallery.history],
                "bought_after_cut": [item.article_id for item in gallery.bought_after_cut],
                "lists": {
                    name: [{"article_id": item.article_id, "hit": item.hit} for item in items]
                    for name, items in gallery.lists.items()
                },
            }
            for gallery in shoppers
        ],
        "head_attire_trends": {
            "period": trend_period,
            "rows": [
                {
                    "period": str(row.period),
                    "attribute": row.attribute,
                    "label": row.label,
                    "units": int(row.units),
                    "share": float(row.share),
                }
                for row in trends.itertuples(index=False)
            ],
        },
    }


def _write_rows(path: Path, header: list[str], rows: list[list[object]]) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    temporary.replace(path)


def write_csv_tables(result: EvaluationResult, trends: pd.DataFrame, directory: Path) -> list[Path]:
    """Write metrics.csv, segments.csv, recall_curve.csv, head_attire_trends.csv and blend_gain.csv.

    Returns:
        The paths written.
    """
    metrics = directory / "metrics.csv"
    _write_rows(
        metrics,
        ["ranker", "metric", "k", "mean", "ci95_low", "ci95_high", "shoppers"],
        [
            [scores.name, metric, result.k, i.mean, i.low, i.high, i.n]
            for scores in result.rankers
            for metric, i in scores.intervals.items()
        ]
        + [
            [scores.name, "coverage", result.k, scores.coverage, "", "", result.test_shoppers]
            for scores in result.rankers
        ],
    )
    segments = directory / "segments.csv"
    _write_rows(
        segments,
        ["ranker", "segment", "metric", "k", "mean", "ci95_low", "ci95_high", "shoppers"],
        [
            [scores.name, segment, metric, result.k, i.mean, i.low, i.high, i.n]
            for scores in result.rankers
            for segment, values in scores.segments.items()
            for metric, i in values.items()
        ],
    )
    curve = directory / "recall_curve.csv"
    _write_rows(
        curve,
        ["ranker", "k", "recall"],
        [
            [scores.name, k, value]
            for scores in result.rankers
            for k, value in scores.recall_curve.items()
        ],
    )
    trend_path = directory / "head_attire_trends.csv"
    _write_rows(
        trend_path,
        ["period", "attribute", "label", "units", "share"],
        [list(row) for row in trends.itertuples(index=False)],
    )
    gain_path = directory / "blend_gain.csv"
    _write_rows(
        gain_path,
        [
            "segment",
            "baseline",
            "k",
            "baseline_map",
            "blend_map",
            "relative_gain",
            "ci95_low",
            "ci95_high",
        ],
        [
            [segment, comparison.baseline, result.k, comparison.baseline_map, comparison.blend_map]
            + (
                ["", "", ""]
                if comparison.gain is None
                else [comparison.gain.mean, comparison.gain.low, comparison.gain.high]
            )
            for segment, comparison in result.blend_gains.items()
        ],
    )
    return [metrics, segments, curve, trend_path, gain_path]
