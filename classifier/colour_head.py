"""Fit the colour head: a multinomial logistic regression on pixel colour features.

The colour head reads only the standardised pixel colour features
(`classifier.colour`), so it shares nothing with the other heads and is fitted
on its own, to convergence, with L-BFGS. Its L2 penalty is chosen by
cross-validation over folds of training products, so the held-out photos that
training reports on play no part in the choice.

It is fitted on the photos themselves, not on their augmented views: the
augmentation crops into the product and rotates the border, which moves the
background estimate that the colour features rest on.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

__all__ = [
    "COLOUR_PENALTIES",
    "ColourHeadFit",
    "check_penalties",
    "fit_colour_head",
    "product_folds",
]

logger = logging.getLogger(__name__)

# L2 penalties to try. The loss is the mean cross-entropy + penalty / 2 * |W|^2.
# They span a factor of ten around 0.005, which cross-validation on the H&M
# training products put near the best.
COLOUR_PENALTIES: tuple[float, ...] = (0.0015, 0.005, 0.015)
_FOLDS = 3
_MAX_ITERATIONS = 300


@dataclass(frozen=True)
class ColourHeadFit:
    """A fitted colour head and how its penalty was chosen.

    Attributes:
        weight: float32 (classes, features).
        bias: float32 (classes,).
        penalty: the chosen L2 penalty.
        cross_validation: mean fold accuracy of each penalty tried, or empty
            when only one penalty was given.
    """

    weight: torch.Tensor
    bias: torch.Tensor
    penalty: float
    cross_validation: dict[float, float]


def check_penalties(penalties: Sequence[float]) -> None:
    """Raise ValueError unless `penalties` contains one or more values >= 0."""
    if not penalties or any(p < 0 for p in penalties):
        raise ValueError(f"colour penalties must be one or more values >= 0, got {penalties}")


def product_folds(product_codes: Sequence[str], folds: int, seed: int) -> np.ndarray:
    """Return a fold number (0..folds-1) for each photo; photos of one product share it."""
    result = np.empty(len(product_codes), dtype=np.int64)
    for position, code in enumerate(product_codes):
        digest = hashlib.sha256(f"colour-folds:{seed}:{code}".encode()).digest()
        result[position] = int.from_bytes(digest[:8], "big") % folds
    return result


def _fit(
    inputs: torch.Tensor, labels: torch.Tensor, classes: int, penalty: float
) -> tuple[torch.Tensor, torch.Tensor]:
    linear = nn.Linear(inputs.shape[1], classes, dtype=torch.float64)
    nn.init.zeros_(linear.weight)
    nn.init.zeros_(linear.bias)
    optimiser = torch.optim.LBFGS(
        linear.parameters(),
        lr=1.0,
        max_iter=_MAX_ITERATIONS,
        tolerance_grad=1e-6,
        tolerance_change=1e-9,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = nn.functional.cross_entropy(linear(inputs), labels)
        loss = loss + 0.5 * penalty * linear.weight.pow(2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    return linear.weight.detach(), linear.bias.detach()


def fit_colour_head(
    inputs: np.ndarray,
    labels: np.ndarray,
    product_codes: Sequence[str],
    *,
    classes: int,
    penalties: Sequence[float] = COLOUR_PENALTIES,
    seed: int = 0,
) -> ColourHeadFit:
    """Fit the colour head on standardised pixel colour features.

    Args:
        inputs: float (N, features), already standardised.
        labels: int (N,), colour class indices.
        product_codes: the product of each photo; folds never split a product.
        classes: the number of colour labels.
        penalties: L2 penalties to choose from by cross-validated accuracy.

    Raises:
        ValueError: no penalty given, a penalty is negative, or the arrays differ
            in length.
    """
    check_penalties(penalties)
    if not len(inputs) == len(labels) == len(product_codes):
        raise ValueError(
            f"inputs, labels and product codes differ in length: "
            f"{len(inputs)}, {len(labels)}, {len(product_codes)}"
        )
    x = torch.from_numpy(np.asarray(inputs, dtype=np.float64))
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    scores: dict[float, float] = {}
    if len(penalties) > 1:
        folds = product_folds(product_codes, _FOLDS, seed)
        for penalty in penalties:
            correct = 0
            for fold in range(_FOLDS):
                held_out = torch.from_numpy(folds == fold)
                if held_out.all() or not held_out.any():
                    continue
                weight, bias = _fit(x[~held_out], y[~held_out], classes, penalty)
                predicted = (x[held_out] @ weight.T + bias).argmax(1)
                correct += int((predicted == y[held_out]).sum())
            scores[float(penalty)] = correct / len(y)
        chosen = max(penalties, key=lambda p: (scores[float(p)], p))
        logger.info(
            "colour head: penalty %g chosen by %d-fold accuracy %s",
            chosen,
            _FOLDS,
            ", ".join(f"{p:g}: {a:.3f}" for p, a in scores.items()),
        )
    else:
        chosen = penalties[0]
    weight, bias = _fit(x, y, classes, chosen)
    return ColourHeadFit(
        weight=weight.to(torch.float32),
        bias=bias.to(torch.float32),
        penalty=float(chosen),
        cross_validation=scores,
    )
