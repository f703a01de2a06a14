"""A hat / no-hat head for photos of people, trained on head crops of street photos.

The type head learns from product photos on a light background. A head crop
from a street photo looks different (a face, hair, a busy background), so a
separate linear head over the same frozen backbone features decides whether a
hat is worn. It is trained on the Clothing Co-Parsing (CCP) layout: `photos/<id>.jpg`
and `labels.csv` with a `hat` column (0/1). Photos are split by photo id, and the
held-out part is never used for fitting.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from classifier.features import backbone_features
from classifier.head import detect_head
from classifier.images import load_image
from classifier.metrics import accuracy, bootstrap_interval
from classifier.preprocess import Preprocessing
from classifier.runtime import FeatureExtractor

__all__ = [
    "HatPresenceResult",
    "StreetPhoto",
    "fallback_head_box",
    "fit_hat_presence",
    "person_head_box",
    "read_street_photos",
    "split_photos",
]

logger = logging.getLogger(__name__)

# Without a face, the head of a full-length street photo is almost always in
# the top quarter, in the middle of the width.
_FALLBACK_TOP_SHARE = 0.25
_FALLBACK_WIDTH_SHARE = 0.6


@dataclass(frozen=True)
class StreetPhoto:
    """One photo of a person and whether a hat is worn (the `hat` column, 0/1)."""

    photo_id: str
    path: Path
    hat: bool


@dataclass
class HatPresenceResult:
    """A fitted hat-presence head and its held-out figures.

    `state` has the layout of `ClassifierArtifact.hat_presence`.
    """

    state: dict[str, torch.Tensor]
    metrics: dict[str, Any] = field(default_factory=dict)


def read_street_photos(directory: Path) -> list[StreetPhoto]:
    """Read `labels.csv` and the matching `photos/<id>.jpg` of a CCP-layout directory.

    Raises:
        FileNotFoundError: `labels.csv` is missing.
        ValueError: it lacks the `photo` or `hat` column.
    """
    labels = directory / "labels.csv"
    if not labels.is_file():
        raise FileNotFoundError(f"{labels} not found: pass a directory with labels.csv and photos/")
    photos = []
    with labels.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not {"photo", "hat"} <= set(reader.fieldnames or ()):
            raise ValueError(f"{labels} needs the columns photo and hat")
        for row in reader:
            path = directory / "photos" / f"{row['photo']}.jpg"
            if path.is_file():
                photos.append(StreetPhoto(row["photo"], path, row["hat"].strip() == "1"))
    return photos


def split_photos(
    photos: Sequence[StreetPhoto], *, test_fraction: float = 0.4, seed: int = 0
) -> tuple[list[StreetPhoto], list[StreetPhoto]]:
    """Split photos into (fit, test) by a hash of the photo id and `seed`."""
    fit: list[StreetPhoto] = []
    test: list[StreetPhoto] = []
    for photo in photos:
        digest = hashlib.sha256(f"{seed}:{photo.photo_id}".encode()).digest()
        share = int.from_bytes(digest[:8], "big") / 2**64
        (test if share < test_fraction else fit).append(photo)
    return fit, test


def fallback_head_box(image: Image.Image) -> tuple[int, int, int, int]:
    """Return the top-centre box where the head of a full-length photo usually is."""
    margin = round(image.width * (1 - _FALLBACK_WIDTH_SHARE) / 2)
    return (margin, 0, image.width - margin, max(1, round(image.height * _FALLBACK_TOP_SHARE)))


def person_head_box(image: Image.Image) -> tuple[tuple[int, int, int, int], bool]:
    """Return the head box of a person photo and whether a face was found.

    Without a face the box is `fallback_head_box`.
    """
    detection = detect_head(image)
    if detection is None:
        return fallback_head_box(image), False
    return detection.box, True


def _crop_features(
    photos: Sequence[StreetPhoto],
    network: FeatureExtractor,
    preprocessing: Preprocessing,
    *,
    progress: bool,
) -> tuple[np.ndarray, np.ndarray]:
    features = []
    found = []
    for photo in tqdm(photos, desc="street photos", unit="photo", disable=not progress):
        image = load_image(photo.path)
        box, face = person_head_box(image)
        features.append(backbone_features(network, preprocessing, [image.crop(box)])[0])
        found.append(face)
    return np.stack(features), np.asarray(found)


def _fit_logistic(
    features: np.ndarray, labels: np.ndarray, *, seed: int
) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    inputs = torch.from_numpy(features)
    mean = inputs.mean(0)
    std = inputs.std(0).clamp_min(1e-6)
    standardised = (inputs - mean) / std
    targets = torch.from_numpy(labels.astype(np.float32))[:, None]
    linear = torch.nn.Linear(inputs.shape[1], 1)
    optimiser = torch.optim.Adam(linear.parameters(), lr=1e-2, weight_decay=1e-2)
    loss_function = torch.nn.BCEWithLogitsLoss()
    for _ in range(300):
        optimiser.zero_grad()
        loss = loss_function(linear(standardised), targets)
        loss.backward()
        optimiser.step()
    return {
        "weight": linear.weight.detach().clone(),
        "bias": linear.bias.detach().clone(),
        "mean": mean,
        "std": std,
    }


def hat_probabilities(state: dict[str, torch.Tensor], features: np.ndarray) -> np.ndarray:
    """Return the hat probability of each row of backbone features (N, 1280), shape (N,)."""
    standardised = (torch.from_numpy(features) - state["mean"]) / state["std"]
    logits = standardised @ state["weight"].T + state["bias"]
    return torch.sigmoid(logits)[:, 0].numpy()


def fit_hat_presence(
    directory: Path,
    network: FeatureExtractor,
    preprocessing: Preprocessing,
    *,
    seed: int = 0,
    test_fraction: float = 0.4,
    progress: bool = False,
) -> HatPresenceResult:
    """Fit the hat-presence head on part of a CCP-layout directory and test it on the rest.

    Raises:
        ValueError: one side of the split has no photos or only one class.
    """
    photos = read_street_photos(directory)
    fit, test = split_photos(photos, test_fraction=test_fraction, seed=seed)
    fit_labels = np.asarray([p.hat for p in fit])
    if not test or len(set(fit_labels.tolist())) < 2:
        raise ValueError(
            f"{directory}: the split left {len(fit)} photos to fit (needing both hat and "
            f"no-hat) and {len(test)} to test: add photos"
        )
    fit_features, _ = _crop_features(fit, network, preprocessing, progress=progress)
    test_features, test_found = _crop_features(test, network, preprocessing, progress=progress)
    state = _fit_logistic(fit_features, fit_labels, seed=seed)

    truth = np.asarray([p.hat for p in test], dtype=np.int64)
    predicted = (hat_probabilities(state, test_features) >= 0.5).astype(np.int64)
    metrics: dict[str, Any] = {
        "photos": len(test),
        "fit_photos": len(fit),
        "split": f"photo ids hashed with seed {seed}, {test_fraction:.0%} held out",
        "head_found": int(test_found.sum()),
        "accuracy": bootstrap_interval(accuracy, truth, predicted, seed=seed).to_dict(),
        "accuracy_face_found": accuracy(truth[test_found], predicted[test_found]),
        "test_photo_ids": [p.photo_id for p in test],
    }
    logger.info(
        "hat presence on %d held-out street photos: accuracy %.3f",
        len(test),
        metrics["accuracy"]["value"],
    )
    return HatPresenceResult(state=state, metrics=metrics)
