"""The evaluation report: one self-contained HTML file plus JSON beside it."""

from __future__ import annotations

import base64
import html
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from PIL import Image

from recsys.artifacts import write_json_atomic
from recsys.evaluation import EvaluationResult

__all__ = ["GalleryItem", "SimilarGallery", "report_data", "write_report"]

logger = logging.getLogger(__name__)

_THUMBNAIL = (120, 180)


@dataclass(frozen=True)
class GalleryItem:
    """An item shown as a picture in the report."""

    article_id: str
    name: str
    product_type: str
    image_path: Path | None
    score: float | None = None


@dataclass(frozen=True)
class SimilarGallery:
    """A query item and its visually nearest catalog items."""

    query: GalleryItem
    neighbours: list[GalleryItem]


def report_data(result: EvaluationResult, gallery: SimilarGallery | None) -> dict[str, Any]:
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
        },
        "rankers": {
            scores.name: {
                "description": scores.description,
                **{
                    f"{metric}@{result.k}": {
                        "mean": interval.mean,
                        "ci95_low": interval.low,
                        "ci95_high": interval.high,
                        "shoppers": interval.n,
                    }
                    for metric, interval in scores.intervals.items()
                },
            }
            for scores in result.rankers
        },
        "training": result.training,
        "similar_items": None
        if gallery is None
        else {
            "query": gallery.query.article_id,
            "neighbours": [
                {"article_id": item.article_id, "score": item.score} for item in gallery.neighbours
            ],
        },
    }


def _png_data_uri(figure: plt.Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _metric_chart(result: EvaluationResult) -> str:
    metrics = list(result.rankers[0].intervals) if result.rankers else []
    figure, axes = plt.subplots(1, len(metrics), figsize=(4.2 * max(1, len(metrics)), 3.2))
    axes_list = list(axes) if len(metrics) > 1 else [axes]
    for axis, metric in zip(axes_list, metrics, strict=True):
        names = [scores.name for scores in result.rankers]
        intervals = [scores.intervals[metric] for scores in result.rankers]
        means = [interval.mean for interval in intervals]
        below = [interval.mean - interval.low for interval in intervals]
        above = [interval.high - interval.mean for interval in intervals]
        colours = ["#9aa5b1", "#2f6f9f", "#c9732c", "#5b8c5a"][: len(names)]
        axis.bar(names, means, yerr=[below, above], capsize=6, color=colours)
        axis.set_title(f"{metric.upper()}@{result.k} (95% bootstrap interval)")
        axis.set_ylim(bottom=0)
        axis.grid(axis="y", alpha=0.3)
    return _png_data_uri(figure)


def _thumbnail_data_uri(path: Path | None) -> str | None:
    if path is None or not path.is_file():
        return None
    try:
        with Image.open(path) as image:
            image.draft("RGB", _THUMBNAIL)
            thumbnail = image.convert("RGB")
            thumbnail.thumbnail(_THUMBNAIL)
            buffer = io.BytesIO()
            thumbnail.save(buffer, format="JPEG", quality=80)
    except OSError as error:
        logger.warning("cannot make a thumbnail of %s: %s", path, error)
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure_html(item: GalleryItem) -> str:
    uri = _thumbnail_data_uri(item.image_path)
    picture = f'<img src="{uri}" alt="{html.escape(item.name)}">' if uri else "<div>no photo</div>"
    score = "" if item.score is None else f"<br>cosine {item.score:.3f}"
    return (
        f"<figure>{picture}<figcaption>{html.escape(item.article_id)}<br>"
        f"{html.escape(item.name)}<br><small>{html.escape(item.product_type)}{score}</small>"
        "</figcaption></figure>"
    )


def _rankers_table(result: EvaluationResult) -> str:
    rows = []
    for scores in result.rankers:
        cells = "".join(
            f"<td>{interval.mean:.4f} <small>[{interval.low:.4f}, {interval.high:.4f}]</small></td>"
            for interval in scores.intervals.values()
        )
        rows.append(
            f"<tr><th>{html.escape(scores.name)}</th>{cells}"
            f"<td><small>{html.escape(scores.description)}</small></td></tr>"
        )
    metrics = list(result.rankers[0].intervals) if result.rankers else []
    header = "".join(f"<th>{m.upper()}@{result.k} [95% CI]</th>" for m in metrics)
    return f"<table><tr><th>ranker</th>{header}<th>what it does</th></tr>{''.join(rows)}</table>"


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:1100px;color:#1d2630}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccd;padding:.35rem .6rem;
text-align:left;vertical-align:top}figure{display:inline-block;margin:.3rem;width:124px;
font-size:.75rem;vertical-align:top}figure img{width:120px;border:1px solid #ddd}
.query img{border:3px solid #2f6f9f}
"""


def write_report(
    result: EvaluationResult, gallery: SimilarGallery | None, directory: Path
) -> tuple[Path, Path]:
    """Write `evaluation.html` and `evaluation.json` into `directory`.

    Returns:
        The paths of the HTML and JSON files.
    """
    directory.mkdir(parents=True, exist_ok=True)
    data = report_data(result, gallery)
    json_path = directory / "evaluation.json"
    write_json_atomic(json_path, data)

    gallery_html = ""
    if gallery is not None:
        figures = "".join(_figure_html(item) for item in gallery.neighbours)
        gallery_html = (
            "<h2>More like this: a head-attire item and its nearest items</h2>"
            f"<p>Nearest neighbours by cosine similarity of the style embedding "
            f"({html.escape(str(result.training.get('embedding_model_version', '')))}).</p>"
            f'<div class="query">{_figure_html(gallery.query)}</div><div>{figures}</div>'
        )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>milliner evaluation, cut {result.cut}</title>
<style>{_STYLE}</style></head><body>
<h1>Ranking evaluation</h1>
<p>Trained on {result.train_purchases:,} purchases from {result.first_day} to the day before
{result.cut}; tested on {result.test_purchases:,} purchases by {result.test_shoppers:,} shoppers
from {result.cut} to {result.last_day}. {result.returning_shoppers:,} of those shoppers bought
something before the cut; the others get the popularity fallback from every ranker.
Intervals are 95% percentile bootstrap intervals over shoppers.</p>
{_rankers_table(result)}
<img src="{_metric_chart(result)}" alt="MAP and recall by ranker">
{gallery_html}
<h2>Training</h2><pre>{html.escape(str(result.training))}</pre>
</body></html>
"""
    html_path = directory / "evaluation.html"
    temporary = html_path.with_name(".evaluation.html.tmp")
    temporary.write_text(page, encoding="utf-8")
    temporary.replace(html_path)
    logger.info("wrote the evaluation report %s", html_path)
    return html_path, json_path
