"""The served blend on tiny hand-made catalogs, checked against brute-force oracles."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from recsys.ranker import RankerModel
from recsys.recommend import BlendWeights, Recommender, top_k_columns

DAY = dt.date(2020, 9, 18)
ITEMS = ["a0", "a1", "a2", "a3", "a4", "a5"]


def _items() -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "article_id": ITEMS,
            "name": ["Red beanie", "Red beanie twin", "Blue cap", "Jeans", "Scarf", "Shirt"],
            "product_type": [
                "Hat/beanie",
                "Hat/beanie",
                "Cap/peaked",
                "Trousers",
                "Scarf",
                "Shirt",
            ],
            "colour": ["Red", "Red", "Blue", "Blue", "Black", "White"],
            "department": ["Hats", "Hats", "Hats", "Denim", "Accessories", "Tops"],
        }
    )
    return frame.set_index("article_id", drop=False)


def _vectors() -> np.ndarray:
    # a0 and a1 look alike; a5 has no photo (a zero row).
    vectors = np.array(
        [
            [1.0, 0.0, 0.0],
            [0.95, 0.3, 0.0],
            [0.0, 1.0, 0.0],
            [0.0, 0.0, 1.0],
            [0.5, 0.5, 0.5],
            [0.0, 0.0, 0.0],
        ],
        dtype=np.float32,
    )
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


def _purchases() -> pd.DataFrame:
    rows = [
        ("shopper-1", "a0", DAY),
        ("shopper-2", "a3", DAY - dt.timedelta(days=3)),
        ("shopper-2", "a4", DAY),
        ("shopper-3", "a2", DAY),
        ("shopper-3", "a2", DAY),
        ("shopper-4", "a2", DAY),
    ]
    return pd.DataFrame(rows, columns=["customer_id", "article_id", "purchased_on"])


def _ranker() -> RankerModel:
    rng = np.random.default_rng(3)
    return RankerModel(
        user_ids=["shopper-1", "shopper-2", "shopper-3", "shopper-4"],
        item_ids=ITEMS,
        user_factors=rng.normal(size=(4, 2)).astype(np.float32),
        item_factors=rng.normal(size=(6, 2)).astype(np.float32),
        item_biases=rng.normal(size=6).astype(np.float32),
        popular=["a2", "a0", "a3", "a4"],
    )


@pytest.fixture
def recommender() -> Recommender:
    return Recommender(_ranker(), _vectors(), _items(), _purchases(), new_item_slots=0)


def test_top_k_columns_matches_full_sort() -> None:
    scores = np.random.default_rng(0).normal(size=(7, 50)).astype(np.float32)

    top = top_k_columns(scores, 12)

    expected = np.argsort(-scores, axis=1, kind="stable")[:, :12]
    np.testing.assert_array_equal(top, expected)


def test_top_k_columns_pads_infinite_scores() -> None:
    scores = np.array([[1.0, -np.inf, 0.5, -np.inf]], dtype=np.float32)

    assert top_k_columns(scores, 3).tolist() == [[0, 2, -1]]


def test_recommend_matches_blend_oracle(recommender: Recommender) -> None:
    signals = recommender.signals(["shopper-2"])
    expected = np.argsort(-signals.blend(recommender.weights)[0], kind="stable")[:4]

    result = recommender.recommend("shopper-2", 4)

    assert [item.article_id for item in result.items] == [ITEMS[c] for c in expected]
    assert result.fallback is False


def test_last_slot_goes_to_never_bought_item() -> None:
    recommender = Recommender(_ranker(), _vectors(), _items(), _purchases(), new_item_slots=1)
    blend_only = Recommender(_ranker(), _vectors(), _items(), _purchases(), new_item_slots=0)
    never_bought = {"a1", "a5"}

    served = [item.article_id for item in recommender.recommend("shopper-4", 3).items]
    blended = [item.article_id for item in blend_only.recommend("shopper-4", 3).items]

    assert served[:2] == blended[:2]
    assert served[2] in never_bought


def test_new_item_slots_match_oracle() -> None:
    rng = np.random.default_rng(11)
    n_items, n_shoppers, k, slots = 300, 12, 12, 2
    item_ids = [f"i{i:03d}" for i in range(n_items)]
    shoppers = [f"s{s:02d}" for s in range(n_shoppers)]
    items = pd.DataFrame(
        {
            "article_id": item_ids,
            "name": item_ids,
            "product_type": "Hat/beanie",
            "colour": "Black",
            "department": "Hats",
        }
    ).set_index("article_id", drop=False)
    # Half of the catalog was never bought.
    bought = rng.choice(n_items // 2, size=(n_shoppers, 6))
    purchases = pd.DataFrame(
        [
            (shopper, item_ids[column], DAY - dt.timedelta(days=int(rng.integers(0, 30))))
            for shopper, columns in zip(shoppers, bought, strict=True)
            for column in columns
        ],
        columns=["customer_id", "article_id", "purchased_on"],
    )
    ranker = RankerModel(
        user_ids=shoppers,
        item_ids=item_ids,
        user_factors=rng.normal(size=(n_shoppers, 4)).astype(np.float32),
        item_factors=rng.normal(size=(n_items, 4)).astype(np.float32),
        item_biases=rng.normal(size=n_items).astype(np.float32),
        popular=item_ids[:20],
    )
    vectors = rng.normal(size=(n_items, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    recommender = Recommender(
        ranker, vectors, items, purchases, new_item_slots=slots, visual_neighbours=40
    )
    never_bought = ~np.isin(item_ids, purchases["article_id"].unique())

    lists = recommender.recommend_batch(shoppers, k)

    signals = recommender.signals(shoppers)
    blend = signals.blend(recommender.weights)
    weights = recommender.weights
    for row, ranked in enumerate(lists):
        regular = list(np.argsort(-blend[row], kind="stable")[: k - slots])
        looks = weights.hybrid * signals.hybrid[row] + weights.visual * signals.visual[row]
        looks[~never_bought] = -np.inf
        looks[regular] = -np.inf
        chosen = list(np.argsort(-looks, kind="stable")[:slots])
        expected = [item_ids[c] for c in regular + chosen]
        assert [item.article_id for item in ranked.items] == expected


def test_batch_equals_single(recommender: Recommender) -> None:
    shoppers = ["shopper-1", "shopper-2", "nobody", "shopper-3"]

    batch = recommender.recommend_batch(shoppers, 5)

    assert batch == [recommender.recommend(shopper, 5) for shopper in shoppers]


def test_unknown_shopper_gets_popularity(recommender: Recommender) -> None:
    result = recommender.recommend("nobody", 3)

    assert result.fallback is True
    assert result.items[0].article_id == "a2"
    assert {item.reason_en for item in result.items} == {"popular this week"}
    assert {item.reason_zh for item in result.items} == {"本周热销"}


def test_exclude_bought_removes_history(recommender: Recommender) -> None:
    result = recommender.recommend("shopper-2", 6, exclude_bought=True)

    assert not {"a3", "a4"} & {item.article_id for item in result.items}
    assert len(result.items) == 4


def test_exclude_removes_named_items(recommender: Recommender) -> None:
    result = recommender.recommend("shopper-1", 6, exclude=["a1", "a5"])

    assert not {"a1", "a5"} & {item.article_id for item in result.items}


def test_product_type_filter_is_case_insensitive(recommender: Recommender) -> None:
    result = recommender.recommend("shopper-1", 10, product_type="hat/BEANIE")

    assert {item.article_id for item in result.items} == {"a0", "a1"}


def test_department_filter(recommender: Recommender) -> None:
    result = recommender.recommend("nobody", 10, department="Hats")

    assert {item.article_id for item in result.items} == {"a0", "a1", "a2"}


def test_unknown_filter_value_gives_empty_list(recommender: Recommender) -> None:
    assert recommender.recommend("shopper-1", 5, product_type="Boots").items == []


def test_items_outside_catalog_are_never_recommended() -> None:
    items = _items().drop(index="a4")
    recommender = Recommender(_ranker(), _vectors(), items, _purchases())

    result = recommender.recommend("shopper-2", 6)

    assert "a4" not in {item.article_id for item in result.items}


@pytest.mark.parametrize("k", [0, 101])
def test_invalid_k_raises(recommender: Recommender, k: int) -> None:
    with pytest.raises(ValueError, match="k must be between 1 and 100"):
        recommender.recommend("shopper-1", k)


def test_visual_reason_names_bought_item() -> None:
    weights = BlendWeights(hybrid=0.0, visual=1.0, repurchase=0.0, popularity=0.0)
    recommender = Recommender(_ranker(), _vectors(), _items(), _purchases(), weights=weights)

    result = recommender.recommend("shopper-1", 2, exclude_bought=True)

    assert result.items[0].article_id == "a1"
    assert result.items[0].reason_en == "looks like Red beanie you bought"
    assert result.items[0].reason_zh == "看起来像您买过的Red beanie"


def test_repurchase_reason() -> None:
    weights = BlendWeights(hybrid=0.0, visual=0.0, repurchase=1.0, popularity=0.0)
    recommender = Recommender(_ranker(), _vectors(), _items(), _purchases(), weights=weights)

    result = recommender.recommend("shopper-2", 1)

    assert result.items[0].article_id == "a4"
    assert result.items[0].reason_en == "you bought this before"


def test_bought_item_reason_whatever_the_weights() -> None:
    weights = BlendWeights(hybrid=0.0, visual=1.0, repurchase=0.0, popularity=0.0)
    recommender = Recommender(
        _ranker(), _vectors(), _items(), _purchases(), weights=weights, new_item_slots=0
    )

    result = recommender.recommend("shopper-1", 6)

    reasons = {item.article_id: item.reason_en for item in result.items}
    assert reasons["a0"] == "you bought this before"
    assert reasons["a1"] == "looks like Red beanie you bought"


def test_style_reason_in_both_languages() -> None:
    weights = BlendWeights(hybrid=1.0, visual=0.0, repurchase=0.0, popularity=0.0)
    recommender = Recommender(_ranker(), _vectors(), _items(), _purchases(), weights=weights)
    signals = recommender.signals(["shopper-1"])
    beanie_first = recommender.recommend("shopper-1", 6, product_type="Hat/beanie")

    reasons = {item.article_id: item for item in beanie_first.items}

    assert signals.hybrid.shape == (1, len(ITEMS))
    assert reasons["a1"].reason_en == "matches your style: red hat/beanie"
    assert reasons["a1"].reason_zh == "符合您的风格：红色毛线帽"
    trousers = recommender.recommend("shopper-1", 1, product_type="Trousers").items[0]
    assert trousers.reason_zh == "符合您的风格：蓝色长裤"


def test_recent_purchase_scores_higher_repurchase(recommender: Recommender) -> None:
    signals = recommender.signals(["shopper-2"])

    assert signals.repurchase[0, 4] == pytest.approx(1.0)
    assert signals.repurchase[0, 3] == pytest.approx(0.5 ** (3 / 14))
    assert signals.repurchase[0, 0] == 0.0


def test_item_without_photo_has_no_visual_signal(recommender: Recommender) -> None:
    signals = recommender.signals(["shopper-1"])

    assert signals.visual[0, 5] == 0.0
    assert signals.visual[0, 1] > signals.visual[0, 3]


def test_negative_weight_raises() -> None:
    with pytest.raises(ValueError, match="blend weight visual"):
        BlendWeights(visual=-1.0)


def test_shared_neighbours_give_same_lists(recommender: Recommender) -> None:
    reused = Recommender(
        _ranker(),
        _vectors(),
        _items(),
        _purchases(),
        new_item_slots=0,
        neighbours=recommender.neighbours,
    )

    assert reused.neighbours is recommender.neighbours
    for shopper in ("shopper-1", "shopper-2", "nobody"):
        assert reused.recommend(shopper, 6) == recommender.recommend(shopper, 6)


def test_neighbours_of_other_items_raise() -> None:
    other = Recommender(_ranker(), _vectors(), _items(), _purchases()).neighbours
    ranker = _ranker()
    fewer = RankerModel(
        user_ids=ranker.user_ids,
        item_ids=ITEMS[:5],
        user_factors=ranker.user_factors,
        item_factors=ranker.item_factors[:5],
        item_biases=ranker.item_biases[:5],
        popular=ranker.popular,
    )

    with pytest.raises(ValueError, match="neighbours has 6 rows"):
        Recommender(fewer, _vectors()[:5], _items(), _purchases(), neighbours=other)


def test_similar_of_type_searches_that_type(recommender: Recommender) -> None:
    query = np.array([0.0, 1.0, 0.0], dtype=np.float32)

    beanies = recommender.similar_of_type(query, "beanie", 5)

    # Only the two beanies, a1 first: it leans towards the query.
    assert [article_id for article_id, _ in beanies] == ["a1", "a0"]
    assert beanies[0][1] == pytest.approx(float(_vectors()[1] @ query))


def test_similar_of_type_unknown_type_is_empty(recommender: Recommender) -> None:
    query = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    assert recommender.similar_of_type(query, "brimmed_hat", 5) == []
    assert recommender.similar_of_type(query, "beanie", 0) == []
