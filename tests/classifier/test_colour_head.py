"""Fitting the colour head: L-BFGS logistic regression with a cross-validated penalty."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from classifier.colour_head import fit_colour_head, product_folds


def _blobs(seed: int, per_class: int = 40, spread: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Three classes around three corners of a 5-d cube, standardised."""
    rng = np.random.default_rng(seed)
    centres = np.eye(3, 5) * 2.0
    inputs = np.concatenate([c + spread * rng.standard_normal((per_class, 5)) for c in centres])
    labels = np.repeat(np.arange(3), per_class)
    return (inputs - inputs.mean(0)) / inputs.std(0), labels


def _codes(count: int) -> list[str]:
    # Two colour variants per product.
    return [f"{position // 2:04d}" for position in range(count)]


def test_fit_separates_seen_classes() -> None:
    inputs, labels = _blobs(0)
    fit = fit_colour_head(inputs, labels, _codes(len(labels)), classes=5, penalties=(0.01,))
    assert fit.weight.shape == (5, 5)
    assert fit.bias.shape == (5,)
    logits = torch.from_numpy(inputs.astype(np.float32)) @ fit.weight.T + fit.bias
    assert (logits.argmax(1).numpy() == labels).mean() == 1.0
    # Classes 3 and 4 never occur, so the fit pushes their bias below the others.
    assert fit.bias[3:].max() < fit.bias[:3].min()
    assert fit.cross_validation == {}
    assert fit.penalty == 0.01


def test_larger_penalty_shrinks_weights() -> None:
    inputs, labels = _blobs(1)
    codes = _codes(len(labels))
    weak = fit_colour_head(inputs, labels, codes, classes=3, penalties=(0.001,))
    strong = fit_colour_head(inputs, labels, codes, classes=3, penalties=(1.0,))
    assert strong.weight.norm() < 0.5 * weak.weight.norm()


def test_penalty_chosen_by_cross_validation() -> None:
    # Overlapping classes: a huge penalty flattens every logit and loses accuracy.
    inputs, labels = _blobs(2, spread=1.2)
    fit = fit_colour_head(inputs, labels, _codes(len(labels)), classes=3, penalties=(0.01, 1000.0))
    assert set(fit.cross_validation) == {0.01, 1000.0}
    assert fit.cross_validation[0.01] > fit.cross_validation[1000.0]
    assert fit.penalty == 0.01


def test_folds_keep_products_together() -> None:
    codes = [f"{c:03d}" for c in range(300) for _ in range(3)]
    folds = product_folds(codes, 3, seed=0)
    for start in range(0, len(codes), 3):
        assert len(set(folds[start : start + 3])) == 1
    assert np.array_equal(folds, product_folds(codes, 3, seed=0))
    assert np.bincount(folds, minlength=3).min() > 200
    assert not np.array_equal(folds, product_folds(codes, 3, seed=1))


@pytest.mark.parametrize("penalties", [(), (-1.0,)])
def test_rejects_bad_penalties(penalties: tuple[float, ...]) -> None:
    inputs, labels = _blobs(0)
    with pytest.raises(ValueError, match="penalties"):
        fit_colour_head(inputs, labels, _codes(len(labels)), classes=3, penalties=penalties)


def test_rejects_unequal_lengths() -> None:
    inputs, labels = _blobs(0)
    with pytest.raises(ValueError, match="differ in length"):
        fit_colour_head(inputs, labels[:-1], _codes(len(labels)), classes=3)
