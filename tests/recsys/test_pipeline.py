"""The quickstart pipeline end to end on the hm-week slice, and its report."""

from __future__ import annotations

import json

from recsys.pipeline import QuickstartResult


def test_every_step_is_timed(pipeline_run: QuickstartResult) -> None:
    assert list(pipeline_run.timings) == ["db upgrade", "import", "index", "train", "evaluate"]


def test_report_states_both_rankers(pipeline_run: QuickstartResult) -> None:
    data = json.loads(pipeline_run.report_json.read_text())

    assert set(data["rankers"]) == {"popularity", "hybrid"}
    for ranker in data["rankers"].values():
        for metric in ("map@12", "recall@12"):
            interval = ranker[metric]
            assert 0.0 <= interval["ci95_low"] <= interval["mean"] <= interval["ci95_high"] <= 1.0
    assert data["data"]["test_shoppers"] > 0
    assert data["data"]["test_purchases"] >= data["data"]["test_shoppers"]


def test_report_shows_similar_items(pipeline_run: QuickstartResult) -> None:
    data = json.loads(pipeline_run.report_json.read_text())
    page = pipeline_run.report_html.read_text()

    assert data["similar_items"]["query"] == pipeline_run.example_item
    assert len(data["similar_items"]["neighbours"]) == 12
    assert page.count('<img src="data:image/jpeg;base64,') == 13
    assert '<img src="data:image/png;base64,' in page
