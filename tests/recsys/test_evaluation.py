"""The evaluation protocol: default test windows, the split and blend-weight tuning."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from recsys.blending import (
    MIN_HISTORY_SHARE,
    blend_weights_from_metadata,
    choose_blend_weights,
    tune_blend_weights,
)
from recsys.evaluation import default_test_days, split_by_time
from recsys.ranker import RankerModel, TrainingConfig
from recsys.recommend import BlendWeights, Recommender
from recsys.similarity import SimilarityIndex


def _purchases(first: dt.date, days: int) -> pd.DataFrame:
    rows = [
        (f"shopper-{day % 3}", f"a{day % 5}", first + dt.timedelta(days=day)) for day in range(days)
    ]
    return pd.DataFrame(rows, columns=["customer_id", "article_id", "purchased_on"])


def test_short_history_tests_last_two_days() -> None:
    assert default_test_days(dt.date(2020, 9, 16), dt.date(2020, 9, 20)) == 2


def test_long_history_tests_last_28_days() -> None:
    assert default_test_days(dt.date(2018, 9, 20), dt.date(2020, 8, 24)) == 28


def test_default_cut_of_week_of_purchases() -> None:
    _, test, cut = split_by_time(_purchases(dt.date(2020, 9, 16), 5))

    assert cut == dt.date(2020, 9, 19)
    assert set(test["purchased_on"]) == {dt.date(2020, 9, 19), dt.date(2020, 9, 20)}


def test_default_cut_of_two_years() -> None:
    purchases = _purchases(
        dt.date(2018, 9, 20), (dt.date(2020, 8, 24) - dt.date(2018, 9, 20)).days + 1
    )

    train, _, cut = split_by_time(purchases)

    assert cut == dt.date(2020, 7, 28)
    assert max(train["purchased_on"]) == dt.date(2020, 7, 27)


def test_explicit_cut_wins() -> None:
    _, _, cut = split_by_time(_purchases(dt.date(2020, 9, 16), 5), cut=dt.date(2020, 9, 18))

    assert cut == dt.date(2020, 9, 18)


def test_cut_outside_history_raises() -> None:
    with pytest.raises(ValueError, match="leaves no test purchases"):
        split_by_time(_purchases(dt.date(2020, 9, 16), 5), cut=dt.date(2021, 1, 1))


def test_cut_on_first_day_names_valid_range() -> None:
    with pytest.raises(ValueError, match="pick a cut from 2020-09-17 to 2020-09-20"):
        split_by_time(_purchases(dt.date(2020, 9, 16), 5), cut=dt.date(2020, 9, 16))


def test_single_day_of_purchases_raises() -> None:
    with pytest.raises(ValueError, match="at least two days"):
        split_by_time(_purchases(dt.date(2020, 9, 16), 1))


def test_tuning_prefers_repurchase_when_shoppers_repeat() -> None:
    items = ["a0", "a1", "a2", "a3"]
    frame = pd.DataFrame(
        {
            "article_id": items,
            "name": items,
            "product_type": ["Shirt"] * 4,
            "colour": ["Red"] * 4,
            "department": ["Tops"] * 4,
        }
    ).set_index("article_id", drop=False)
    day = dt.date(2020, 9, 1)
    history = pd.DataFrame(
        [("s0", "a0", day), ("s1", "a1", day), ("s2", "a2", day), ("s3", "a3", day)]
        + [("s9", "a3", day)] * 5,
        columns=["customer_id", "article_id", "purchased_on"],
    )
    ranker = RankerModel(
        user_ids=[],
        item_ids=items,
        user_factors=np.zeros((0, 2), dtype=np.float32),
        item_factors=np.zeros((4, 2), dtype=np.float32),
        item_biases=np.zeros(4, dtype=np.float32),
        popular=items,
    )
    recommender = Recommender(ranker, np.eye(4, dtype=np.float32), frame, history)
    # Each shopper buys their own item again; popularity would put a3 first.
    validation = pd.DataFrame(
        [("s0", "a0"), ("s1", "a1"), ("s2", "a2")], columns=["customer_id", "article_id"]
    )
    grid = {"hybrid": (0.0,), "visual": (0.0,), "repurchase": (0.0, 1.0), "popularity": (1.0,)}

    weights, score = tune_blend_weights(recommender, validation, k=1, grid=grid)

    assert weights.repurchase == 1.0
    assert score == pytest.approx(1.0)


def _catalog(article_ids: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "article_id": article_ids,
            "name": article_ids,
            "product_type": ["Hat/beanie"] * len(article_ids),
            "colour": ["Black"] * len(article_ids),
            "department": ["Accessories"] * len(article_ids),
        }
    ).set_index("article_id", drop=False)


@pytest.mark.parametrize(
    ("end", "tuned"),
    [
        # Purchases from 2020-09-16; a 2-day window before `end`.
        (dt.date(2020, 9, 19), False),  # 1 day of history before the window, of 3
        (dt.date(2020, 9, 20), True),  # 2 of 4: the share is exactly the minimum
        (dt.date(2020, 9, 21), True),  # 3 of 5
    ],
)
def test_blend_is_tuned_only_after_enough_history(end: dt.date, tuned: bool) -> None:
    # One shopper buys every day, so every window has a shopper with history.
    regular = pd.DataFrame(
        [("regular", f"a{day}", dt.date(2020, 9, 16) + dt.timedelta(days=day)) for day in range(5)],
        columns=["customer_id", "article_id", "purchased_on"],
    )
    purchases = pd.concat([_purchases(dt.date(2020, 9, 16), 5), regular], ignore_index=True)
    article_ids = [f"a{i}" for i in range(5)]
    index = SimilarityIndex.build(
        article_ids, np.eye(5, dtype=np.float32), model_version="test-eye"
    )
    history = purchases.loc[purchases["purchased_on"] < end]

    weights, report = choose_blend_weights(
        history,
        end,
        2,
        items=_catalog(article_ids),
        features={a: [] for a in article_ids},
        index=index,
        config=TrainingConfig(epochs=2, components=4, threads=1),
        k=3,
    )

    assert report["tuned"] is tuned
    share = report["window_history_days"] / report["history_days"]
    assert (share >= MIN_HISTORY_SHARE) is tuned
    if not tuned:
        assert weights == BlendWeights()
        assert "history before the window spans" in report["reason"]
        assert report["map"] is None


def test_window_of_new_shoppers_is_not_tuned() -> None:
    day = dt.date(2020, 9, 16)
    history = pd.DataFrame(
        [("old", "a0", day + dt.timedelta(days=d)) for d in range(4)]
        + [("new", "a1", day + dt.timedelta(days=4))],
        columns=["customer_id", "article_id", "purchased_on"],
    )
    article_ids = ["a0", "a1"]
    index = SimilarityIndex.build(
        article_ids, np.eye(2, dtype=np.float32), model_version="test-eye"
    )

    weights, report = choose_blend_weights(
        history,
        day + dt.timedelta(days=5),
        1,
        items=_catalog(article_ids),
        features={a: [] for a in article_ids},
        index=index,
        config=TrainingConfig(epochs=2, components=4, threads=1),
    )

    assert report["tuned"] is False
    assert report["map"] is None
    assert report["reason"] == "no shopper of the window bought anything before it"
    assert weights == BlendWeights()


def test_stored_blend_weights_are_read_back() -> None:
    stored = {"hybrid": 0.5, "visual": 0.25, "repurchase": 4.0, "popularity": 1.0}

    weights = blend_weights_from_metadata({"blend_weights": stored})

    assert weights is not None
    assert weights.as_dict() == stored
    assert blend_weights_from_metadata({}) is None


@pytest.mark.parametrize(
    "stored",
    [
        {"hybrid": 1.0},
        {"hybrid": -1.0, "visual": 0.0, "repurchase": 0.0, "popularity": 0.0},
        [1.0, 1.0, 1.0, 1.0],
    ],
)
def test_invalid_stored_blend_weights_raise(stored: object) -> None:
    with pytest.raises(ValueError, match="blend"):
        blend_weights_from_metadata({"blend_weights": stored})
