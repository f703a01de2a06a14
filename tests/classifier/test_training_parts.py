"""The parts of classifier training: the split, augmentation, pixel colours, metrics."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from classifier.augment import AugmentationConfig, augment
from classifier.colour import _COARSE_DIM, COLOUR_FEATURE_DIM, pixel_colour_features
from classifier.heads import AttireHeads
from classifier.metrics import accuracy, bootstrap_interval, macro_f1, per_class_precision_recall
from classifier.samples import LabelledImage, load_catalog_samples, split_by_product


def _sample(article_id: str, product_code: str) -> LabelledImage:
    return LabelledImage(
        article_id=article_id,
        product_code=product_code,
        path=Path(f"{article_id}.jpg"),
        source="test",
        type="beanie",
        colour="black",
        pattern="solid",
        material="knit",
    )


def test_split_keeps_products_together() -> None:
    samples = [
        _sample(f"{code:04d}{variant:03d}", f"{code:04d}")
        for code in range(200)
        for variant in range(3)
    ]
    training, validation = split_by_product(samples, validation_fraction=0.25, seed=3)
    training_codes = {s.product_code for s in training}
    validation_codes = {s.product_code for s in validation}
    assert training_codes.isdisjoint(validation_codes)
    assert len(training) + len(validation) == len(samples)
    assert 0.15 < len(validation_codes) / 200 < 0.35


def test_split_is_stable_when_products_are_added() -> None:
    first = [_sample(f"{code:04d}001", f"{code:04d}") for code in range(100)]
    more = first + [_sample(f"{code:04d}001", f"{code:04d}") for code in range(100, 150)]
    _, validation = split_by_product(first, seed=1)
    _, validation_more = split_by_product(more, seed=1)
    assert {s.article_id for s in validation} <= {s.article_id for s in validation_more}


def test_split_rejects_invalid_fraction() -> None:
    with pytest.raises(ValueError, match="validation_fraction"):
        split_by_product([_sample("1", "1")], validation_fraction=1.0)


def test_draw_ignores_path_spelling(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = shared_data / "hm-week"
    monkeypatch.chdir(catalog.parent)
    relative = load_catalog_samples([Path("hm-week")], other_per_catalog=30, seed=4)
    absolute = load_catalog_samples([catalog.resolve()], other_per_catalog=30, seed=4)
    assert [s.article_id for s in relative] == [s.article_id for s in absolute]
    monkeypatch.chdir(catalog)
    from_inside = load_catalog_samples([Path(".")], other_per_catalog=30, seed=4)
    assert [s.article_id for s in from_inside] == [s.article_id for s in absolute]
    reseeded = load_catalog_samples([catalog], other_per_catalog=30, seed=5)
    assert [s.article_id for s in reseeded] != [s.article_id for s in absolute]


def test_draw_includes_look_alike_others(shared_data: Path) -> None:
    catalog = shared_data / "hm-week"
    table = pd.read_csv(catalog / "articles.csv", dtype=str, keep_default_na=False)
    group_of = dict(zip(table["article_id"], table["product_group_name"], strict=True))
    samples = load_catalog_samples([catalog], other_per_catalog=30, seed=0)
    head_groups = {group_of[s.article_id] for s in samples if s.type != "none"}
    assert head_groups == {"Accessories"}
    others = [group_of[s.article_id] for s in samples if s.type == "none"]
    # Up to 30 from the head-attire groups and 30 from the rest of the catalog.
    assert len(others) == 60
    assert sum(group in head_groups for group in others) == 30
    assert len(set(others) - head_groups) > 1


def test_augment_keeps_colours() -> None:
    pixels = np.full((90, 60, 3), 250, dtype=np.uint8)
    pixels[20:70, 15:45] = (200, 30, 40)
    image = Image.fromarray(pixels)
    config = AugmentationConfig(noise_std=0.0)
    for seed in range(5):
        result = np.asarray(augment(image, random.Random(seed), config)).reshape(-1, 3).astype(int)
        # Bilinear resampling blends the two colours at edges, but creates no other hue:
        # every pixel stays on the line between the background and the red patch.
        red_share = (250 - result[:, 1]) / (250 - 30)
        expected = 250 + red_share[:, None] * (np.array([200, 30, 40]) - 250)
        assert np.abs(result - expected).max() <= 3


def test_pixel_colour_features_find_the_product_colour() -> None:
    pixels = np.full((120, 80, 3), 245, dtype=np.uint8)
    pixels[30:90, 20:60] = (20, 40, 200)
    features = pixel_colour_features(pixels)
    assert features.shape == (COLOUR_FEATURE_DIM,)
    histogram = features[:64]
    # Blue (20, 40, 200) falls into bin r=0, g=0, b=3 of the 4x4x4 histogram.
    assert histogram.argmax() == 3
    assert histogram[3] == pytest.approx(1.0)
    # The coarse part ends with the share of the photo the product covers.
    assert features[_COARSE_DIM - 1] == pytest.approx(0.25, abs=0.01)


def test_pixel_colour_features_reject_greyscale() -> None:
    with pytest.raises(ValueError, match="RGB"):
        pixel_colour_features(np.zeros((10, 10), dtype=np.uint8))


def test_macro_f1_matches_hand_computation() -> None:
    truth = np.array([0, 0, 1, 1, 2])
    predicted = np.array([0, 1, 1, 1, 0])
    # Class 0: precision 1/2, recall 1/2, F1 1/2. Class 1: precision 2/3, recall 1,
    # F1 4/5. Class 2: never predicted, F1 0.
    assert macro_f1(truth, predicted, 4) == pytest.approx((0.5 + 0.8 + 0.0) / 3)


def test_precision_is_nan_for_unpredicted_class() -> None:
    precision, recall, support = per_class_precision_recall(np.array([0, 1]), np.array([0, 0]), 2)
    assert np.isnan(precision[1])
    assert recall[1] == 0.0
    assert support.tolist() == [1, 1]


def test_bootstrap_interval_contains_value() -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, size=200)
    predicted = np.where(rng.random(200) < 0.8, truth, 1 - truth)
    interval = bootstrap_interval(accuracy, truth, predicted, replicates=300)
    assert interval.low < interval.value < interval.high
    assert interval.high - interval.low < 0.2


def test_bootstrap_interval_ignores_photo_order() -> None:
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 3, size=120)
    predicted = np.where(rng.random(120) < 0.7, truth, (truth + 1) % 3)
    groups = [f"product-{i // 3}" for i in range(120)]
    order = rng.permutation(120)

    first = bootstrap_interval(accuracy, truth, predicted, groups=groups, replicates=200)
    shuffled = bootstrap_interval(
        accuracy, truth[order], predicted[order], groups=[groups[i] for i in order], replicates=200
    )

    assert (shuffled.low, shuffled.high) == pytest.approx((first.low, first.high))


def test_colour_inputs_floored_and_clipped() -> None:
    heads = AttireHeads()
    rng = np.random.default_rng(0)
    colour = torch.from_numpy(rng.normal(0.5, 0.2, (50, COLOUR_FEATURE_DIM)).astype(np.float32))
    # A feature that never varies in training: without a floor its spread is 0.
    colour[:, 0] = 0.25
    heads.set_input_statistics(torch.zeros(50, 1280), colour)
    assert float(heads.colour_std[0]) == pytest.approx(0.05)
    unusual = colour[:1].clone()
    unusual[0, 0] = 1.0
    unusual[0, 1] = -1000.0
    standardised = heads.standardise_colour(unusual)
    assert float(standardised[0, 0]) == pytest.approx(5.0)
    assert float(standardised[0, 1]) == pytest.approx(-5.0)
    assert float(standardised.abs().max()) <= 5.0
