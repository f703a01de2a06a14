"""The hybrid ranker: real LightFM on real purchases from the hm-week slice."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.features import attribute_tags
from recsys.ranker import LightFMFit, RankerModel, TrainingConfig, fit_lightfm, train_ranker

CONFIG = TrainingConfig(epochs=5, components=16, threads=1, seed=3)


@pytest.fixture(scope="module")
def purchases(hm_slice: Path) -> pd.DataFrame:
    frame = pd.read_csv(hm_slice / "transactions.csv", dtype=str)
    frame["purchased_on"] = frame["t_dat"].map(dt.date.fromisoformat)
    return frame[["customer_id", "article_id", "purchased_on"]]


@pytest.fixture(scope="module")
def item_features(hm_slice: Path) -> dict[str, list[str]]:
    articles = pd.read_csv(hm_slice / "articles.csv", dtype=str).fillna("")
    features = {
        row.article_id: attribute_tags(
            {"type": row.product_type_name, "colour": row.perceived_colour_master_name}
        )
        for row in articles.itertuples()
    }
    # An item without purchases, known only by its features.
    features["cold0000001"] = ["type:Hat/beanie", "colour:Black"]
    return features


@pytest.fixture(scope="module")
def fit(purchases: pd.DataFrame, item_features: dict[str, list[str]]) -> LightFMFit:
    return fit_lightfm(purchases, item_features, config=CONFIG)


@pytest.fixture(scope="module")
def ranker(purchases: pd.DataFrame, item_features: dict[str, list[str]]) -> RankerModel:
    return train_ranker(purchases, item_features, config=CONFIG)


def test_scores_match_lightfm_predict(fit: LightFMFit, ranker: RankerModel) -> None:
    customers = ranker.user_ids[:5]
    scores = ranker.score_items(customers)
    n_items = len(fit.item_ids)
    for row, customer in enumerate(customers):
        user_index = fit.user_ids.index(customer)
        expected = fit.model.predict(
            np.full(n_items, user_index, dtype=np.int32),
            np.arange(n_items, dtype=np.int32),
            item_features=fit.item_features,
        )
        # predict adds the user bias, which does not change the ranking.
        offset = expected - scores[row]
        np.testing.assert_allclose(offset, offset[0], atol=1e-3)


def test_training_is_reproducible(
    purchases: pd.DataFrame, item_features: dict[str, list[str]], ranker: RankerModel
) -> None:
    again = train_ranker(purchases, item_features, config=CONFIG)

    np.testing.assert_allclose(again.item_factors, ranker.item_factors, atol=1e-6)


def test_recommend_returns_k_sorted(ranker: RankerModel) -> None:
    lists = ranker.recommend(ranker.user_ids[:3], 12)

    for items in lists:
        scores = [score for _, score in items]
        assert len(items) == 12
        assert scores == sorted(scores, reverse=True)
        assert len({article for article, _ in items}) == 12


def test_recommend_excludes_items(ranker: RankerModel) -> None:
    customer = ranker.user_ids[0]
    first = [article for article, _ in ranker.recommend([customer], 5)[0]]
    again = ranker.recommend([customer], 5, exclude=[set(first[:2])])[0]

    assert not set(first[:2]) & {article for article, _ in again}


def test_unbought_item_gets_a_finite_score(ranker: RankerModel) -> None:
    column = ranker.item_column("cold0000001")
    scores = ranker.score_items(ranker.user_ids[:2])

    assert column is not None
    assert np.isfinite(scores[:, column]).all()


def test_identical_tags_score_differently(
    ranker: RankerModel, purchases: pd.DataFrame, item_features: dict[str, list[str]]
) -> None:
    # Two bought items with the same tags differ only in their identity feature.
    by_tags: dict[tuple[str, ...], list[str]] = {}
    for article in purchases["article_id"].unique():
        by_tags.setdefault(tuple(item_features[article]), []).append(article)
    twins = next(articles[:2] for articles in by_tags.values() if len(articles) >= 2)
    columns = [ranker.item_column(article) for article in twins]
    scores = ranker.score_items(ranker.user_ids[:1])[0]

    assert item_features[twins[0]] == item_features[twins[1]]
    assert scores[columns[0]] != scores[columns[1]]


def test_save_load_round_trip(ranker: RankerModel, tmp_path: Path) -> None:
    ranker.save(tmp_path)
    loaded = RankerModel.load(tmp_path)

    assert loaded.user_ids == ranker.user_ids
    assert loaded.popular == ranker.popular
    assert loaded.recommend(ranker.user_ids[:2], 5) == ranker.recommend(ranker.user_ids[:2], 5)


def test_repeat_purchases_collapse(fit: LightFMFit, purchases: pd.DataFrame) -> None:
    distinct = len(purchases[["customer_id", "article_id"]].drop_duplicates())

    assert fit.interactions.nnz == distinct


def test_unknown_customer_raises(ranker: RankerModel) -> None:
    with pytest.raises(KeyError):
        ranker.score_items(["no-such-customer"])


def test_no_usable_purchases_raises(purchases: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="milliner index"):
        train_ranker(purchases, {"only": ["type:x"]}, config=CONFIG)


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="epochs"):
        TrainingConfig(epochs=0)
