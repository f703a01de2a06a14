"""Measure a trained classifier on its held-out products and write the report.

The held-out photos are the validation split stored in the artifact: the
same product codes that training never saw. Type is measured on every
held-out photo (head attire and a sample of other products). Colour, pattern
and material are measured on head attire only, and material only where the
catalog description gives a trusted material label.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from classifier.images import load_image
from classifier.metrics import (
    accuracy,
    bootstrap_interval,
    confusion_matrix,
    macro_f1,
    per_class_precision_recall,
)
from classifier.predict import HeadAttireClassifier
from classifier.report import MistakeTile, SaliencyTile, confusion_figure, write_report
from classifier.saliency import grad_cam, overlay
from classifier.samples import LabelledImage, load_catalog_samples
from classifier.taxonomy import LABEL_SETS, MATERIAL, TYPE

__all__ = ["evaluate_classifier", "held_out_samples", "task_metrics"]

logger = logging.getLogger(__name__)

_MISTAKES = 24
_SALIENCY = 12


def held_out_samples(
    classifier: HeadAttireClassifier, catalog_dirs: Sequence[Path] | None = None
) -> list[LabelledImage]:
    """Return the validation photos of the artifact, read from its catalogs (or `catalog_dirs`).

    Raises:
        ValueError: the artifact stores no validation split, a catalog
            directory has no articles.csv, or none of its held-out articles is
            found in the catalogs.
    """
    split = classifier.artifact.metadata.get("split")
    wanted = set(split.get("validation_article_ids") or []) if isinstance(split, dict) else set()
    if not wanted:
        raise ValueError(
            f"classifier {classifier.model_version} stores no validation split: "
            "run `milliner train classifier --data DIR` again"
        )
    recorded = classifier.artifact.metadata.get("catalogs")
    if not isinstance(recorded, list):
        recorded = []
    recorded_dirs = [Path(d) for d in recorded if isinstance(d, str)]
    if catalog_dirs:
        # An article in several catalogs is read from the first, so the catalogs
        # go in the order of training whatever the order given.
        order = {d.name: position for position, d in enumerate(recorded_dirs)}
        directories = sorted(
            (Path(d) for d in catalog_dirs),
            key=lambda d: order.get(d.resolve().name, len(order)),
        )
    else:
        directories = recorded_dirs
    if not directories:
        raise ValueError(
            f"classifier {classifier.model_version} records no catalogs: pass the catalogs "
            "it was trained on with `milliner evaluate classifier --data DIR`"
        )
    for directory in directories:
        if not (directory / "articles.csv").is_file():
            raise ValueError(
                f"catalog {directory} of classifier {classifier.model_version} has no "
                "articles.csv: pass the catalogs it was trained on with "
                "`milliner evaluate classifier --data DIR`"
            )
    samples = load_catalog_samples(directories, other_per_catalog=10**9)
    held_out = [sample for sample in samples if sample.article_id in wanted]
    if held_out and len(held_out) < len(wanted):
        logger.warning(
            "found %d of the %d held-out articles in %s: the figures cover only those; "
            "pass every catalog the classifier was trained on",
            len(held_out),
            len(wanted),
            ", ".join(map(str, directories)),
        )
    if not held_out:
        raise ValueError(
            f"none of the {len(wanted)} held-out articles was found in "
            f"{', '.join(map(str, directories))}: pass the catalogs the classifier was "
            "trained on with `milliner evaluate classifier --data DIR`"
        )
    return held_out


def task_metrics(
    truth: np.ndarray,
    predicted: np.ndarray,
    task: str,
    groups: Sequence[str],
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """Return accuracy and macro-F1 with bootstrap intervals, and per-class precision/recall."""
    classes = len(LABEL_SETS[task])
    precision, recall, support = per_class_precision_recall(truth, predicted, classes)
    names = LABEL_SETS[task].names
    return {
        "samples": int(truth.size),
        "accuracy": bootstrap_interval(
            accuracy, truth, predicted, groups=groups, seed=seed
        ).to_dict(),
        "macro_f1": bootstrap_interval(
            lambda t, p: macro_f1(t, p, classes), truth, predicted, groups=groups, seed=seed
        ).to_dict(),
        "per_class": {
            names[i]: {
                "precision": None if np.isnan(precision[i]) else float(precision[i]),
                "recall": None if np.isnan(recall[i]) else float(recall[i]),
                "support": int(support[i]),
            }
            for i in range(classes)
            if support[i] > 0 or not np.isnan(precision[i])
        },
        "confusion": confusion_matrix(truth, predicted, classes).tolist(),
    }


def _task_mask(task: str, truth: dict[str, np.ndarray]) -> np.ndarray:
    head = truth["type"] != TYPE.index(TYPE.fallback)
    if task == "type":
        return np.ones_like(head)
    if task == "material":
        return head & (truth["material"] != MATERIAL.index(MATERIAL.fallback))
    return head


def evaluate_classifier(
    classifier: HeadAttireClassifier,
    samples: Sequence[LabelledImage],
    directory: Path,
    *,
    hat_presence: dict[str, Any] | None = None,
    progress: bool = False,
) -> tuple[dict[str, Any], Path, Path]:
    """Classify the held-out photos, compute the metrics and write the report into `directory`.

    Args:
        hat_presence: hat-presence figures measured on street photos, shown as is.

    Returns:
        (metrics, report.html path, metrics.json path).
    """
    images: list[Image.Image] = []
    kept: list[LabelledImage] = []
    for sample in samples:
        try:
            images.append(load_image(sample.path))
        except (OSError, ValueError) as error:
            logger.warning("skipping %s (article %s): %s", sample.path, sample.article_id, error)
            continue
        kept.append(sample)

    predicted: dict[str, list[int]] = {task: [] for task in LABEL_SETS}
    confidence: dict[str, list[float]] = {task: [] for task in LABEL_SETS}
    batch = classifier.batch_size
    for start in tqdm(
        range(0, len(images), batch), desc="evaluate", unit="batch", disable=not progress
    ):
        attire, _ = classifier.classify(images[start : start + batch])
        for labels in attire:
            for task, label_set in LABEL_SETS.items():
                prediction = getattr(labels, task)
                predicted[task].append(label_set.index(prediction.name))
                confidence[task].append(prediction.confidence)

    truth = {
        task: np.asarray([label_set.index(s.label(task)) for s in kept], dtype=np.int64)
        for task, label_set in LABEL_SETS.items()
    }
    guesses = {task: np.asarray(values, dtype=np.int64) for task, values in predicted.items()}
    groups = [s.product_code for s in kept]
    # The training seed, so that the intervals equal those that training printed.
    config = classifier.artifact.metadata.get("config")
    seed = config.get("seed", 0) if isinstance(config, dict) else 0
    bootstrap_seed = seed if isinstance(seed, int) else 0
    tasks: dict[str, Any] = {}
    figures = {}
    for task, label_set in LABEL_SETS.items():
        mask = _task_mask(task, truth)
        chosen_groups = [g for g, keep in zip(groups, mask, strict=True) if keep]
        values = task_metrics(
            truth[task][mask], guesses[task][mask], task, chosen_groups, seed=bootstrap_seed
        )
        values["scope"] = "all held-out photos" if task == "type" else "head attire"
        if task == "material":
            values["scope"] = "head attire with a trusted material label"
        tasks[task] = values
        figures[task] = confusion_figure(
            np.asarray(values["confusion"]), label_set.names, f"{task} ({values['scope']})"
        )

    mistakes: list[MistakeTile] = []
    for task in ("type", "colour", "pattern"):
        mask = _task_mask(task, truth)
        wrong = np.flatnonzero(mask & (truth[task] != guesses[task]))
        ranked = sorted(wrong, key=lambda i: -confidence[task][i])[: _MISTAKES // 3]
        names = LABEL_SETS[task].names
        mistakes.extend(
            MistakeTile(
                images[i],
                kept[i].article_id,
                task,
                names[truth[task][i]],
                names[guesses[task][i]],
                confidence[task][i],
            )
            for i in ranked
        )

    saliency = []
    head = np.flatnonzero(truth["type"] != TYPE.index(TYPE.fallback))
    rng = np.random.default_rng(0)
    for i in rng.choice(head, size=min(_SALIENCY, head.size), replace=False):
        heat, label_index = grad_cam(
            classifier.network, classifier.artifact.heads, classifier.preprocessing, images[i]
        )
        label = TYPE.names[label_index]
        saliency.append(
            SaliencyTile(
                overlay(images[i], heat, classifier.preprocessing),
                kept[i].article_id,
                f"explains {label} (catalog {kept[i].type})",
            )
        )

    metrics: dict[str, Any] = {
        "model_version": classifier.model_version,
        "samples": len(kept),
        "split": "validation products held out by product_code",
        "tasks": tasks,
    }
    if hat_presence is not None:
        metrics["hat_presence"] = hat_presence
    html_path, json_path = write_report(metrics, figures, mistakes, saliency, directory)
    return metrics, html_path, json_path
