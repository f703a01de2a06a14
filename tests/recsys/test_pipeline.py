"""The quickstart pipeline end to end on the hm-week slice, and its report."""

from __future__ import annotations

import csv
import json

import pytest

from catalog.settings import Settings
from recsys.pipeline import QuickstartResult
from recsys.ranker import RankerModel
from recsys.recommend import BlendWeights
from tests.recsys.api_support import shared_state


def test_every_step_is_timed(pipeline_run: QuickstartResult) -> None:
    assert list(pipeline_run.timings) == ["db upgrade", "import", "index", "train", "evaluate"]


RANKERS = {"popularity", "repurchase", "visual", "lightfm", "hybrid", "blend"}


def test_report_states_every_ranker(pipeline_run: QuickstartResult) -> None:
    data = json.loads(pipeline_run.report_json.read_text())

    assert set(data["rankers"]) == RANKERS
    for ranker in data["rankers"].values():
        for metric in ("map@12", "recall@12", "precision@12", "ndcg@12", "hit_rate@12"):
            interval = ranker[metric]
            assert 0.0 <= interval["ci95_low"] <= interval["mean"] <= interval["ci95_high"] <= 1.0
        assert 0.0 < ranker["coverage@12"] <= 1.0
        assert sorted(int(k) for k in ranker["recall_curve"]) == [
            1,
            2,
            3,
            5,
            8,
            12,
            20,
            30,
            50,
            100,
        ]
    assert data["data"]["test_shoppers"] > 0
    assert data["data"]["test_purchases"] >= data["data"]["test_shoppers"]


def test_report_segments_add_up(pipeline_run: QuickstartResult) -> None:
    data = json.loads(pipeline_run.report_json.read_text())
    sizes = {name: segment["shoppers"] for name, segment in data["segments"].items()}

    assert sizes["returning"] + sizes["new"] == sizes["all"] == data["data"]["test_shoppers"]
    assert sizes["returning"] == data["data"]["returning_shoppers"]
    assert 0 < sizes["head_attire"] <= sizes["all"]
    assert set(data["rankers"]["blend"]["segments"]) >= {"all", "returning", "new"}


def test_new_shoppers_get_same_fallback(pipeline_run: QuickstartResult) -> None:
    data = json.loads(pipeline_run.report_json.read_text())
    new = [ranker["segments"]["new"]["map@12"]["mean"] for ranker in data["rankers"].values()]

    assert len(set(new)) == 1


def test_short_validation_history_keeps_default_weights(pipeline_run: QuickstartResult) -> None:
    validation = json.loads(pipeline_run.report_json.read_text())["validation"]
    page = pipeline_run.report_html.read_text()

    # The window before the cut 2020-09-19 has one day of history (2020-09-16),
    # a third of the three days before the cut: too short to tune on.
    assert validation["window"] == "2020-09-17 to 2020-09-18"
    assert (validation["window_history_days"], validation["history_days"]) == (1, 3)
    assert validation["tuned"] is False
    assert validation["weights"] == BlendWeights().as_dict()
    assert "Default blend weights" in page


def test_served_blend_uses_weights_tuned_at_training(
    pipeline_settings: Settings, pipeline_run: QuickstartResult
) -> None:
    ranker = RankerModel.load(pipeline_settings.models_dir / "ranker")
    stored = ranker.metadata["blend_weights"]
    validation = ranker.metadata["blend_validation"]

    state = shared_state(pipeline_settings)

    assert validation["tuned"] is True
    # Training tunes on the last 2 days of every purchase (the slice ends 2020-09-20).
    assert validation["window"] == "2020-09-19 to 2020-09-20"
    assert validation["weights"] == stored
    assert state.recommender.weights.as_dict() == stored


def test_report_compares_blend_with_best_other_ranker(pipeline_run: QuickstartResult) -> None:
    data = json.loads(pipeline_run.report_json.read_text())
    page = pipeline_run.report_html.read_text()
    rankers = data["rankers"]

    for segment in ("all", "returning"):
        comparison = data["blend_gain"][segment]
        others = {
            name: ranker["segments"][segment]["map@12"]["mean"]
            for name, ranker in rankers.items()
            if name != "blend"
        }
        best = max(others, key=others.__getitem__)
        blend = rankers["blend"]["segments"][segment]["map@12"]["mean"]
        gain = comparison["relative_gain"]

        assert comparison["baseline"] == best
        assert comparison["baseline_map@12"] == pytest.approx(others[best])
        assert gain["mean"] == pytest.approx(blend / others[best] - 1.0)
        assert gain["ci95_low"] <= gain["mean"] <= gain["ci95_high"]
    assert "The blend against the best other ranker" in page


def test_report_writes_csv_tables(pipeline_run: QuickstartResult) -> None:
    directory = pipeline_run.report_json.parent
    with (directory / "metrics.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))

    assert {row["ranker"] for row in rows} == RANKERS
    for name in ("segments.csv", "recall_curve.csv", "head_attire_trends.csv", "blend_gain.csv"):
        assert (directory / name).stat().st_size > 0, name


def test_report_shows_shoppers_and_trends(pipeline_run: QuickstartResult) -> None:
    data = json.loads(pipeline_run.report_json.read_text())
    page = pipeline_run.report_html.read_text()
    gallery = data["shopper_gallery"]

    assert 1 <= len(gallery) <= 3
    assert set(gallery[0]["lists"]) == RANKERS
    assert all(len(items) == 12 for items in gallery[0]["lists"].values())
    assert data["head_attire_trends"]["period"] == "day"
    assert {row["attribute"] for row in data["head_attire_trends"]["rows"]} == {
        "type",
        "colour",
        "pattern",
    }
    assert "Head-attire trends" in page
    assert 'class="hit"' in page


def test_report_shows_similar_items(pipeline_run: QuickstartResult) -> None:
    data = json.loads(pipeline_run.report_json.read_text())
    page = pipeline_run.report_html.read_text()

    assert data["similar_items"]["query"] == pipeline_run.example_item
    assert len(data["similar_items"]["neighbours"]) == 12
    assert page.count('<img src="data:image/jpeg;base64,') > 13
    assert '<img src="data:image/png;base64,' in page
