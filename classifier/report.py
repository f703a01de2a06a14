"""The classifier evaluation report: one self-contained HTML file plus JSON beside it.

Plots are matplotlib PNGs inlined as base64, so the HTML file can be mailed or
opened offline on its own.
"""

from __future__ import annotations

import base64
import html
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from classifier.publish import write_json_atomic

__all__ = ["MistakeTile", "SaliencyTile", "confusion_figure", "write_report"]

logger = logging.getLogger(__name__)

_TILE = (120, 180)


@dataclass(frozen=True)
class MistakeTile:
    """A wrongly labelled photo with its catalog label and the model's prediction."""

    image: Image.Image
    article_id: str
    task: str
    truth: str
    predicted: str
    confidence: float


@dataclass(frozen=True)
class SaliencyTile:
    """A Grad-CAM overlay of one photo and the label it explains."""

    image: Image.Image
    article_id: str
    label: str


def _png(figure: plt.Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _image_png(image: Image.Image) -> str:
    thumbnail = image.copy()
    thumbnail.thumbnail(_TILE)
    buffer = io.BytesIO()
    thumbnail.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def confusion_figure(matrix: np.ndarray, names: Sequence[str], title: str) -> plt.Figure:
    """Draw a confusion matrix (rows: catalog label, columns: prediction), row-normalised."""
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros(matrix.shape, dtype=float), where=totals > 0)
    size = max(4.0, 0.45 * len(names) + 2)
    figure, axes = plt.subplots(figsize=(size, size))
    axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    axes.set_yticks(range(len(names)), names, fontsize=8)
    axes.set_xlabel("predicted")
    axes.set_ylabel("catalog label")
    axes.set_title(title)
    for row in range(len(names)):
        for column in range(len(names)):
            if matrix[row, column]:
                colour = "white" if shares[row, column] > 0.5 else "black"
                axes.text(
                    column,
                    row,
                    str(matrix[row, column]),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color=colour,
                )
    return figure


def _metric_rows(metrics: dict[str, Any]) -> str:
    rows = []
    for task, values in metrics["tasks"].items():
        accuracy = values["accuracy"]
        f1 = values["macro_f1"]
        rows.append(
            f"<tr><td>{html.escape(task)}</td><td>{html.escape(values['scope'])}</td>"
            f"<td>{values['samples']}</td>"
            f"<td>{accuracy['value']:.3f} [{accuracy['low']:.3f}, {accuracy['high']:.3f}]</td>"
            f"<td>{f1['value']:.3f} [{f1['low']:.3f}, {f1['high']:.3f}]</td></tr>"
        )
    return "\n".join(rows)


def _class_rows(per_class: dict[str, dict[str, Any]]) -> str:
    rows = []
    for name, values in per_class.items():
        precision = "–" if values["precision"] is None else f"{values['precision']:.2f}"
        recall = "–" if values["recall"] is None else f"{values['recall']:.2f}"
        rows.append(
            f"<tr><td>{html.escape(name)}</td><td>{precision}</td><td>{recall}</td>"
            f"<td>{values['support']}</td></tr>"
        )
    return "\n".join(rows)


def write_report(
    metrics: dict[str, Any],
    confusion: dict[str, plt.Figure],
    mistakes: Sequence[MistakeTile],
    saliency: Sequence[SaliencyTile],
    directory: Path,
) -> tuple[Path, Path]:
    """Write `report.html` and `metrics.json` into `directory` and return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / "metrics.json"
    write_json_atomic(json_path, metrics)

    sections = [
        "<h1>Head-attire classifier</h1>",
        f"<p>Model <code>{html.escape(str(metrics['model_version']))}</code>, measured on "
        f"{metrics['samples']} held-out photos ({html.escape(str(metrics['split']))}). "
        "Intervals are 95% bootstrap intervals over product codes.</p>",
        "<table><tr><th>task</th><th>measured on</th><th>photos</th>"
        "<th>accuracy [95% CI]</th><th>macro-F1 [95% CI]</th></tr>",
        _metric_rows(metrics),
        "</table>",
    ]
    hat = metrics.get("hat_presence")
    if hat:
        accuracy = hat["accuracy"]
        sections.append(
            f"<h2>Hat presence on street photos</h2><p>{hat['photos']} held-out photos "
            f"({html.escape(hat['split'])}): accuracy {accuracy['value']:.3f} "
            f"[{accuracy['low']:.3f}, {accuracy['high']:.3f}]; a head was found in "
            f"{hat['head_found']} of them.</p>"
        )
    for task, values in metrics["tasks"].items():
        sections.append(f"<h2>{html.escape(task)}</h2>")
        if task in confusion:
            sections.append(
                f'<img alt="{html.escape(task)} confusion" '
                f'src="data:image/png;base64,{_png(confusion[task])}">'
            )
        sections.append(
            "<table><tr><th>label</th><th>precision</th><th>recall</th><th>photos</th></tr>"
            + _class_rows(values["per_class"])
            + "</table>"
        )
    sections.append("<h2>Most confident mistakes</h2><div class='grid'>")
    for tile in mistakes:
        sections.append(
            f"<figure><img alt='{html.escape(tile.article_id)}' "
            f"src='data:image/png;base64,{_image_png(tile.image)}'><figcaption>"
            f"{html.escape(tile.article_id)}<br>{html.escape(tile.task)}: catalog "
            f"{html.escape(tile.truth)}, predicted {html.escape(tile.predicted)} "
            f"({tile.confidence:.2f})</figcaption></figure>"
        )
    sections.append("</div><h2>Where the model looked (Grad-CAM, type head)</h2><div class='grid'>")
    for saliency_tile in saliency:
        sections.append(
            f"<figure><img alt='{html.escape(saliency_tile.article_id)}' "
            f"src='data:image/png;base64,{_image_png(saliency_tile.image)}'><figcaption>"
            f"{html.escape(saliency_tile.article_id)}<br>{html.escape(saliency_tile.label)}"
            "</figcaption></figure>"
        )
    sections.append("</div>")
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<title>Head-attire classifier report</title><style>"
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px}"
        ".grid{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0;width:130px;font-size:11px}"
        "</style></head><body>" + "\n".join(sections) + "</body></html>"
    )
    html_path = directory / "report.html"
    temporary = directory / ".report.html.tmp"
    temporary.write_text(page, encoding="utf-8")
    temporary.replace(html_path)
    logger.info("wrote the classifier report %s", html_path)
    return html_path, json_path
