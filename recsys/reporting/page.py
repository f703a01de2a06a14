"""The self-contained HTML page of the evaluation report, and `write_report`."""

from __future__ import annotations

import base64
import html
import io
import logging
import math
from pathlib import Path

import pandas as pd
from PIL import Image

from recsys.artifacts import write_json_atomic
from recsys.evaluation import SEGMENTS, EvaluationResult, describe_gain
from recsys.metrics import ConfidenceInterval
from recsys.reporting.charts import metric_bars, recall_curves, trend_charts
from recsys.reporting.content import (
    GalleryItem,
    ShopperGallery,
    SimilarGallery,
    report_data,
    write_csv_tables,
)

__all__ = ["write_report"]

logger = logging.getLogger(__name__)

_THUMBNAIL = (120, 180)
_TABLE_METRICS = ("map", "recall", "precision", "ndcg", "hit_rate", "auc", "diversity", "novelty")
_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:1250px;color:#1d2630}
table{border-collapse:collapse;margin:1rem 0;font-size:.85rem}td,th{border:1px solid #ccd;
padding:.3rem .5rem;text-align:left;vertical-align:top}figure{display:inline-block;margin:.2rem;
width:94px;font-size:.68rem;vertical-align:top}figure img{width:90px;border:3px solid #fff}
.query img{border-color:#2f6f9f}.hit img{border-color:#2a9d3a}.hit figcaption{font-weight:bold}
.row{white-space:nowrap;overflow-x:auto}.row b{display:inline-block;width:90px;font-size:.8rem;
vertical-align:top}small{color:#5a6570}
"""


def _thumbnail_data_uri(path: Path | None) -> str | None:
    if path is None or not path.is_file():
        return None
    try:
        with Image.open(path) as image:
            image.draft("RGB", _THUMBNAIL)
            thumbnail = image.convert("RGB")
            thumbnail.thumbnail(_THUMBNAIL)
            buffer = io.BytesIO()
            thumbnail.save(buffer, format="JPEG", quality=75)
    except OSError as error:
        logger.warning("cannot make a thumbnail of %s: %s", path, error)
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure_html(item: GalleryItem) -> str:
    uri = _thumbnail_data_uri(item.image_path)
    picture = f'<img src="{uri}" alt="{html.escape(item.name)}">' if uri else "<div>no photo</div>"
    score = "" if item.score is None else f"<br>cosine {item.score:.3f}"
    hit = "<br>bought after the cut" if item.hit else ""
    css = ' class="hit"' if item.hit else ""
    return (
        f"<figure{css}>{picture}<figcaption>{html.escape(item.article_id)}<br>"
        f"{html.escape(item.name)}<br><small>{html.escape(item.product_type)}{score}</small>"
        f"{hit}</figcaption></figure>"
    )


def _cell(interval: ConfidenceInterval, digits: int = 4) -> str:
    if math.isnan(interval.mean):
        return "<td>n/a</td>"
    return (
        f"<td>{interval.mean:.{digits}f}<br><small>[{interval.low:.{digits}f}, "
        f"{interval.high:.{digits}f}]</small></td>"
    )


def _rankers_table(result: EvaluationResult) -> str:
    header = "".join(
        f"<th>{html.escape(m if m in {'auc', 'diversity', 'novelty'} else f'{m}@{result.k}')}</th>"
        for m in _TABLE_METRICS
    )
    rows = []
    for scores in result.rankers:
        cells = "".join(
            _cell(scores.intervals[m], 2 if m == "novelty" else 4) for m in _TABLE_METRICS
        )
        rows.append(
            f"<tr><th>{html.escape(scores.name)}</th>{cells}<td>{scores.coverage:.3f}</td>"
            f"<td><small>{html.escape(scores.description)}</small></td></tr>"
        )
    return (
        f"<table><tr><th>ranker</th>{header}<th>coverage@{result.k}</th><th>what it does</th>"
        f"</tr>{''.join(rows)}</table>"
    )


def _blend_gain_text(result: EvaluationResult) -> str:
    """Say how far the blend is above or below the best other ranker, per segment."""
    if not result.blend_gains:
        return ""
    rows = "".join(
        f"<tr><th>{html.escape(segment)}</th><td>{html.escape(comparison.baseline)}</td>"
        f"<td>{comparison.baseline_map:.4f}</td><td>{comparison.blend_map:.4f}</td>"
        f"<td>{html.escape(describe_gain(comparison))}</td></tr>"
        for segment, comparison in result.blend_gains.items()
    )
    return (
        f"<h3>The blend against the best other ranker, MAP@{result.k}</h3>"
        "<table><tr><th>shoppers</th><th>best other ranker</th><th>its MAP</th>"
        "<th>blend MAP</th><th>relative gain</th></tr>"
        f"{rows}</table><p><small>The gain interval is a paired bootstrap over shoppers: each "
        "resample keeps both rankers' values of the shoppers it draws.</small></p>"
    )


def _segments_table(result: EvaluationResult) -> str:
    segments = [s for s in SEGMENTS if s in result.segment_sizes]
    header = "".join(
        f"<th>{html.escape(s)}<br><small>{result.segment_sizes[s]:,} shoppers</small></th>"
        for s in segments
    )
    rows = []
    for metric in ("map", "recall"):
        for scores in result.rankers:
            cells = "".join(
                _cell(scores.segments[s][metric]) if s in scores.segments else "<td>n/a</td>"
                for s in segments
            )
            rows.append(f"<tr><th>{html.escape(scores.name)} {metric}@{result.k}</th>{cells}</tr>")
    notes = "".join(
        f"<li><b>{html.escape(s)}</b>: {html.escape(SEGMENTS[s])}</li>" for s in segments
    )
    return f"<table><tr><th></th>{header}</tr>{''.join(rows)}</table><ul>{notes}</ul>"


def _shopper_html(gallery: ShopperGallery) -> str:
    rows = [
        f'<div class="row"><b>bought before the cut</b>'
        f"{''.join(_figure_html(i) for i in gallery.history)}</div>",
        f'<div class="row"><b>bought after the cut</b>'
        f"{''.join(_figure_html(i) for i in gallery.bought_after_cut)}</div>",
    ]
    for name, items in gallery.lists.items():
        hits = sum(item.hit for item in items)
        rows.append(
            f'<div class="row"><b>{html.escape(name)}<br><small>{hits} hits</small></b>'
            f"{''.join(_figure_html(i) for i in items)}</div>"
        )
    return f"<h3>shopper {html.escape(gallery.customer_id[:16])}…</h3>{''.join(rows)}"


def _validation_text(result: EvaluationResult) -> str:
    validation = result.validation
    weights = validation.get("weights", {})
    described = ", ".join(f"{k} {v:g}" for k, v in dict(weights).items())  # type: ignore[call-overload]
    if not validation.get("tuned"):
        reason = validation.get("reason")
        if reason:
            return (
                f"Default blend weights ({html.escape(described)}), not tuned on the validation "
                f"window {html.escape(str(validation.get('window')))}: {html.escape(str(reason))}."
            )
        return f"Blend weights given, not tuned: {html.escape(described)}."
    score = validation.get("map")
    return (
        f"Blend weights ({html.escape(described)}) were chosen by grid search on the validation "
        f"window {html.escape(str(validation.get('window')))} (MAP@{result.k} "
        f"{float(score):.4f}), with models trained on the "  # type: ignore[arg-type]
        f"{validation.get('train_purchases')} purchases before it; the test window played no part."
    )


def write_report(
    result: EvaluationResult,
    similar: SimilarGallery | None,
    shoppers: list[ShopperGallery],
    trends: pd.DataFrame,
    trend_period: str,
    directory: Path,
) -> tuple[Path, Path]:
    """Write `evaluation.html`, `evaluation.json` and the CSV tables into `directory`.

    Returns:
        The paths of the HTML and JSON files.
    """
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / "evaluation.json"
    write_json_atomic(json_path, report_data(result, similar, shoppers, trends, trend_period))
    write_csv_tables(result, trends, directory)

    similar_html = ""
    if similar is not None:
        figures = "".join(_figure_html(item) for item in similar.neighbours)
        similar_html = (
            "<h2>More like this: a head-attire item and its nearest items</h2>"
            "<p>Nearest neighbours by cosine similarity of the style embedding "
            f"({html.escape(str(result.training.get('embedding_model_version', '')))}).</p>"
            f'<div class="query">{_figure_html(similar.query)}</div><div>{figures}</div>'
        )
    trend_uri = trend_charts(trends, trend_period)
    trend_html = (
        f'<img src="{trend_uri}" alt="head-attire shares per {trend_period}">'
        if trend_uri
        else "<p>No head-attire item was bought.</p>"
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>milliner evaluation, cut {result.cut}</title>
<style>{_STYLE}</style></head><body>
<h1>Ranking evaluation, cut {result.cut}</h1>
<p>Trained on {result.train_purchases:,} purchases from {result.first_day} to the day before
{result.cut}; tested on {result.test_purchases:,} purchases by {result.test_shoppers:,} shoppers
from {result.cut} to {result.last_day}. {result.returning_shoppers:,} of those shoppers bought
something before the cut; the others have no history and every ranker gives them the popularity
fallback. {result.cold_test_items:,} of the {result.test_items:,} items bought in the test window
were never bought before the cut (cold items). Every ranker scores the same candidates, all
catalog items, with no filter, so a repeat purchase counts as a hit. Intervals are 95%
percentile bootstrap intervals over shoppers (1,000 resamples).</p>
<p>{_validation_text(result)}</p>
<h2>Rankers and metrics at k = {result.k}</h2>
{_rankers_table(result)}
{_blend_gain_text(result)}
<p><small>AUC ranks every candidate item; diversity is the mean pairwise cosine distance of the
style embeddings in a list; novelty is the mean self-information of the listed items in bits;
coverage is the share of candidate items in at least one list.</small></p>
<img src="{metric_bars(result)}" alt="metrics by ranker with intervals">
<h2>Recall at k</h2>
<img src="{recall_curves(result)}" alt="recall@k curves">
<h2>Segments</h2>
{_segments_table(result)}
<h2>Shoppers: history and each ranker's top {result.k}</h2>
<p>Green frames mark items the shopper bought after the cut.</p>
{"".join(_shopper_html(gallery) for gallery in shoppers)}
<h2>Head-attire trends</h2>
<p>Share of head-attire units bought per {trend_period}, by type, colour and pattern
(the retailer's labels mapped to milliner's taxonomy), over all purchases.</p>
{trend_html}
{similar_html}
<h2>Training</h2><pre>{html.escape(str(result.training))}</pre>
</body></html>
"""
    html_path = directory / "evaluation.html"
    temporary = html_path.with_name(".evaluation.html.tmp")
    temporary.write_text(page, encoding="utf-8")
    temporary.replace(html_path)
    logger.info("wrote the evaluation report %s", html_path)
    return html_path, json_path
