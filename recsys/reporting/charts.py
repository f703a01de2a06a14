"""Matplotlib charts of the evaluation report, returned as inline PNG data URIs."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from recsys.evaluation import EvaluationResult

__all__ = ["metric_bars", "png_data_uri", "recall_curves", "trend_charts"]

_COLOURS = ["#9aa5b1", "#c9732c", "#5b8c5a", "#8c6bb1", "#2f6f9f", "#b2182b"]
_BAR_METRICS = ("map", "recall", "ndcg", "hit_rate", "auc")
# Labels shown per trend chart; the rest are summed into "other labels".
_TREND_LABELS = 8


def png_data_uri(figure: plt.Figure) -> str:
    """Render a figure to a base64 PNG data URI and close it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def metric_bars(result: EvaluationResult) -> str:
    """Draw one bar chart per headline metric, rankers side by side, with 95% intervals."""
    figure, axes = plt.subplots(1, len(_BAR_METRICS), figsize=(3.4 * len(_BAR_METRICS), 3.4))
    names = [scores.name for scores in result.rankers]
    for axis, metric in zip(axes, _BAR_METRICS, strict=True):
        intervals = [scores.intervals[metric] for scores in result.rankers]
        means = [interval.mean for interval in intervals]
        below = [max(0.0, interval.mean - interval.low) for interval in intervals]
        above = [max(0.0, interval.high - interval.mean) for interval in intervals]
        axis.bar(names, means, yerr=[below, above], capsize=4, color=_COLOURS[: len(names)])
        label = metric.upper() if metric == "auc" else f"{metric}@{result.k}"
        axis.set_title(label)
        axis.set_ylim(bottom=0)
        axis.tick_params(axis="x", rotation=45)
        axis.grid(axis="y", alpha=0.3)
    figure.suptitle("All test shoppers; bars are means, whiskers 95% bootstrap intervals", y=1.04)
    return png_data_uri(figure)


def recall_curves(result: EvaluationResult) -> str:
    """Draw mean recall@k against k for every ranker."""
    figure, axis = plt.subplots(figsize=(6.5, 4))
    for colour, scores in zip(_COLOURS, result.rankers, strict=False):
        ks = list(scores.recall_curve)
        axis.plot(
            ks, list(scores.recall_curve.values()), marker="o", label=scores.name, color=colour
        )
    axis.set_xscale("log")
    axis.set_xlabel("k (log scale)")
    axis.set_ylabel("mean recall@k")
    axis.grid(alpha=0.3)
    axis.legend()
    return png_data_uri(figure)


def trend_charts(trends: pd.DataFrame, period: str) -> str | None:
    """Draw stacked shares of head-attire types, colours and patterns per period."""
    if trends.empty:
        return None
    attributes = list(dict.fromkeys(trends["attribute"]))
    figure, axes = plt.subplots(1, len(attributes), figsize=(6.4 * len(attributes), 3.8))
    for axis, attribute in zip(axes, attributes, strict=True):
        rows = trends.loc[trends["attribute"] == attribute]
        table = rows.pivot_table(index="period", columns="label", values="share", fill_value=0.0)
        leaders = table.sum().sort_values(ascending=False).index[:_TREND_LABELS]
        shown = table[leaders].copy()
        rest = table.drop(columns=leaders).sum(axis=1)
        if (rest > 0).any():
            shown["other labels"] = rest
        shown.index = [str(day) for day in shown.index]
        shown.plot.bar(stacked=True, ax=axis, width=0.8, colormap="tab20", legend=False)
        axis.set_title(f"head attire bought per {period}: {attribute}")
        axis.set_ylabel("share of units")
        axis.set_ylim(0, 1)
        axis.tick_params(axis="x", rotation=60, labelsize=7)
        axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.tight_layout()
    return png_data_uri(figure)
