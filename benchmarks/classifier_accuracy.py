"""Train the head-attire classifier and print its held-out figures next to a linear baseline.

Usage:
    python -m benchmarks.classifier_accuracy --data ../shared/data/hm-week \\
        --data ../shared/data/hm-2y [--street-photos ../shared/data/ccp] [--home DIR]

The classifier is trained exactly as `milliner train classifier` trains it and
published under `HOME/models/classifier`. The baseline is one logistic
regression per task on the same frozen backbone features of the same training
photos (no augmented views), scored on the same held-out products, so the two
rows differ only in the heads. Intervals are 95% bootstrap intervals over
product codes. Wall times depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from classifier.backbone import load_backbone
from classifier.features import cached_features
from classifier.preprocess import Preprocessing
from classifier.samples import load_catalog_samples, split_by_product
from classifier.taxonomy import LABEL_SETS, MATERIAL
from classifier.training import ClassifierTrainingConfig, train_classifier, validation_metrics


def _logistic_baseline(
    features: np.ndarray, labels: np.ndarray, classes: int, ignore: int | None
) -> torch.nn.Linear:
    inputs = torch.from_numpy(features)
    targets = torch.from_numpy(labels)
    keep = targets != ignore if ignore is not None else torch.ones_like(targets, dtype=torch.bool)
    linear = torch.nn.Linear(inputs.shape[1], classes)
    optimiser = torch.optim.Adam(linear.parameters(), lr=1e-2, weight_decay=1e-3)
    for _ in range(300):
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(linear(inputs[keep]), targets[keep])
        loss.backward()
        optimiser.step()
    return linear


def _print_row(name: str, metrics: dict) -> None:
    cells = []
    for task in LABEL_SETS:
        accuracy = metrics[task]["accuracy"]
        f1 = metrics[task]["macro_f1"]
        cells.append(
            f"{task} acc {accuracy['value']:.3f} [{accuracy['low']:.3f}, {accuracy['high']:.3f}]"
            f" F1 {f1['value']:.3f}"
        )
    print(f"{name:<10} " + "; ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, action="append", required=True)
    parser.add_argument("--street-photos", type=Path)
    parser.add_argument("--home", type=Path, help="data directory (default: a temporary one)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    home = args.home or Path(tempfile.mkdtemp(prefix="milliner-classifier-"))
    cache_dir = home / "cache" / "classifier-features"
    config = ClassifierTrainingConfig(seed=args.seed)

    started = time.perf_counter()
    result = train_classifier(
        args.data,
        home / "models" / "classifier",
        config=config,
        cache_dir=cache_dir,
        street_photos=args.street_photos,
    )
    print(f"trained in {time.perf_counter() - started:.0f} s, steps {result.timings}")

    samples = load_catalog_samples(
        args.data, other_per_catalog=config.other_per_catalog, seed=args.seed
    )
    training, validation = split_by_product(
        samples, validation_fraction=config.validation_fraction, seed=args.seed
    )
    network, digest = load_backbone()
    common = {
        "weights_digest": digest,
        "preprocessing": Preprocessing(),
        "cache_dir": cache_dir,
        "seed": args.seed,
    }
    training_features = cached_features(
        training, network, augmented_views=config.augmented_views, **common
    )
    validation_features = cached_features(validation, network, augmented_views=0, **common)
    photos = training_features.view == 0
    mean = training_features.backbone[photos].mean(0)
    std = training_features.backbone[photos].std(0) + 1e-6
    fit_inputs = (training_features.backbone[photos] - mean) / std
    test_inputs = (validation_features.backbone - mean) / std
    truth: dict[str, np.ndarray] = {}
    predicted: dict[str, np.ndarray] = {}
    for task, label_set in LABEL_SETS.items():
        fit_labels = np.asarray(
            [label_set.index(training[i].label(task)) for i in training_features.sample[photos]]
        )
        ignore = MATERIAL.index(MATERIAL.fallback) if task == "material" else None
        linear = _logistic_baseline(fit_inputs, fit_labels, len(label_set), ignore)
        with torch.no_grad():
            predicted[task] = linear(torch.from_numpy(test_inputs)).argmax(1).numpy()
        truth[task] = np.asarray(
            [label_set.index(validation[i].label(task)) for i in validation_features.sample]
        )
    kept = [validation[i] for i in validation_features.sample]
    _print_row("baseline", validation_metrics(kept, truth, predicted, seed=args.seed))
    _print_row("classifier", result.metrics)
    print(f"colour head: {result.metrics['colour_head']}")
    hat = result.metrics.get("hat_presence")
    if hat:
        accuracy = hat["accuracy"]
        print(
            f"hat presence on {hat['photos']} held-out street photos: accuracy "
            f"{accuracy['value']:.3f} [{accuracy['low']:.3f}, {accuracy['high']:.3f}], "
            f"face found in {hat['head_found']}, "
            f"accuracy where found {hat['accuracy_face_found']:.3f}"
        )


if __name__ == "__main__":
    main()
