"""Train the head-attire classifier on catalog photos and publish it.

The route, chosen to fit in minutes on two CPU cores:

1. Read labelled photos from catalog directories and split them by product code.
2. Compute the frozen EfficientNet-Lite0 features of every photo and of a few
   augmented views of each training photo, once (`classifier.features` caches them).
3. Train `AttireHeads` on those features: cross-entropy for type, pattern and
   material, plus a supervised contrastive loss that pulls together the
   embeddings of photos that share type, colour and pattern.
4. Fit the colour head, a logistic regression on the pixel colour features of
   the photos, with its L2 penalty chosen by cross-validation over training
   products (`classifier.colour_head`).
5. Publish weights, preprocessing, label lists, versions and validation metrics.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from classifier.artifact import ClassifierArtifact, save_artifact
from classifier.backbone import BACKBONE_NAME, load_backbone
from classifier.colour_head import (
    COLOUR_PENALTIES,
    ColourHeadFit,
    check_penalties,
    fit_colour_head,
)
from classifier.features import CachedFeatures, cached_features
from classifier.hat_presence import fit_hat_presence
from classifier.heads import TASKS, AttireHeads
from classifier.metrics import accuracy, bootstrap_interval, macro_f1
from classifier.preprocess import Preprocessing
from classifier.runtime import feature_extractor, resolve_runtime
from classifier.samples import LabelledImage, load_catalog_samples, split_by_product
from classifier.taxonomy import LABEL_SETS, MATERIAL, TYPE

__all__ = ["ClassifierTrainingConfig", "TrainingResult", "train_classifier", "validation_metrics"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ClassifierTrainingConfig:
    """Options of one training run.

    Attributes:
        seed: seeds sampling, the split, augmentation and weight initialisation.
        deterministic: make torch use deterministic kernels (slower on GPU).
        validation_fraction: share of product codes held out for validation.
        other_per_catalog: photos of other product types (type "none") drawn
            from each catalog, twice: from the product groups of its head
            attire and from the rest (`classifier.samples.load_catalog_samples`).
        augmented_views: augmented copies of each training photo.
        epochs: passes over the training views.
        batch_size: views per optimiser step.
        learning_rate: AdamW learning rate.
        weight_decay: AdamW weight decay.
        hidden_dim: width of the shared layer.
        embedding_dim: size of the style embedding.
        dropout: dropout rate before and after the shared layer.
        contrastive_weight: weight of the supervised contrastive loss.
        temperature: temperature of the contrastive loss.
        colour_penalties: L2 penalties of the colour head to choose from by
            cross-validation over training products.
        threads: torch CPU threads.
    """

    seed: int = 0
    deterministic: bool = False
    validation_fraction: float = 0.25
    # 1,200 other photos and 3 views, against 400 and 1, raised type accuracy
    # on the same 373 held-out photos from 0.898 to 0.922, and training stays
    # within minutes on two cores.
    other_per_catalog: int = 1200
    augmented_views: int = 3
    epochs: int = 40
    batch_size: int = 128
    learning_rate: float = 2e-3
    weight_decay: float = 1e-3
    hidden_dim: int = 512
    embedding_dim: int = 128
    dropout: float = 0.3
    contrastive_weight: float = 0.5
    temperature: float = 0.1
    colour_penalties: tuple[float, ...] = COLOUR_PENALTIES
    threads: int = 2

    def __post_init__(self) -> None:
        check_penalties(self.colour_penalties)
        for name in ("epochs", "batch_size", "hidden_dim", "embedding_dim", "threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


@dataclass
class TrainingResult:
    """A published classifier and what training measured."""

    artifact: ClassifierArtifact
    directory: Path
    metrics: dict[str, Any]
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)


def _label_matrix(samples: Sequence[LabelledImage], positions: np.ndarray) -> dict[str, np.ndarray]:
    return {
        task: np.asarray(
            [LABEL_SETS[task].index(samples[p].label(task)) for p in positions], dtype=np.int64
        )
        for task in TASKS
    }


def _class_weights(labels: np.ndarray, classes: int) -> torch.Tensor:
    # Inverse square-root frequency: rare classes (caps, brimmed hats) count more
    # without letting a handful of examples dominate the loss.
    counts = np.bincount(labels, minlength=classes).astype(np.float64)
    weights = np.where(counts > 0, 1.0 / np.sqrt(np.maximum(counts, 1.0)), 0.0)
    weights *= (counts > 0).sum() / max(weights.sum(), 1e-12)
    return torch.tensor(weights, dtype=torch.float32)


def _contrastive_loss(
    embedding: torch.Tensor, keys: torch.Tensor, temperature: float
) -> torch.Tensor:
    """Supervised contrastive loss: rows with equal `keys` are positives of each other."""
    similarity = embedding @ embedding.T / temperature
    eye = torch.eye(len(keys), dtype=torch.bool, device=embedding.device)
    similarity = similarity.masked_fill(eye, float("-inf"))
    log_probability = similarity - torch.logsumexp(similarity, dim=1, keepdim=True)
    positives = (keys[:, None] == keys[None, :]) & ~eye
    counts = positives.sum(1)
    anchored = counts > 0
    if not anchored.any():
        return embedding.sum() * 0.0
    summed = torch.where(positives, log_probability, torch.zeros_like(log_probability)).sum(1)
    return -(summed[anchored] / counts[anchored]).mean()


def fit_heads(
    features: CachedFeatures,
    labels: dict[str, np.ndarray],
    product_codes: Sequence[str],
    config: ClassifierTrainingConfig,
    *,
    progress: bool = False,
) -> tuple[AttireHeads, ColourHeadFit]:
    """Train `AttireHeads` on cached features; return them and how the colour head was fitted.

    `labels` maps each task to class indices (V,) and `product_codes` gives
    the product of each view (V,). The colour head is fitted on the views
    with index 0, the photos themselves (`classifier.colour_head`).
    """
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    heads = AttireHeads(
        hidden_dim=config.hidden_dim,
        embedding_dim=config.embedding_dim,
        dropout=config.dropout,
    )
    photos = features.view == 0
    inputs = torch.from_numpy(features.backbone)
    colour = torch.from_numpy(features.colour)
    heads.set_input_statistics(inputs, torch.from_numpy(features.colour[photos]))
    targets = {task: torch.from_numpy(values) for task, values in labels.items()}
    losses = {
        task: nn.CrossEntropyLoss(
            weight=_class_weights(values, len(LABEL_SETS[task])),
            # Material is trained only on trusted labels: unknown means "not trusted".
            ignore_index=MATERIAL.index(MATERIAL.fallback) if task == "material" else -100,
        )
        for task, values in labels.items()
        if task != "colour"
    }
    # Photos that share type, colour and pattern are the positives of the embedding.
    style_key = (targets["type"] * len(LABEL_SETS["colour"]) + targets["colour"]) * len(
        LABEL_SETS["pattern"]
    ) + targets["pattern"]

    colour_head = heads.classifiers["colour_head"]
    assert isinstance(colour_head, nn.Linear)
    # The colour head is fitted after the loop; the optimiser leaves it alone.
    fitted_later = {id(parameter) for parameter in colour_head.parameters()}
    trained = [p for p in heads.parameters() if id(p) not in fitted_later]
    optimiser = torch.optim.AdamW(
        trained, lr=config.learning_rate, weight_decay=config.weight_decay
    )
    steps_per_epoch = max(1, -(-len(inputs) // config.batch_size))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=config.learning_rate, total_steps=config.epochs * steps_per_epoch
    )
    heads.train()
    # The heads are small: one thread avoids the synchronisation cost that
    # dominates such matrix products, most of all on a busy machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _run_epochs(
            heads,
            optimiser,
            scheduler,
            inputs,
            colour,
            targets,
            losses,
            style_key,
            config,
            generator,
            progress=progress,
        )
        fitted = fit_colour_head(
            heads.standardise_colour(colour[photos]).numpy(),
            labels["colour"][photos],
            [code for code, photo in zip(product_codes, photos, strict=True) if photo],
            classes=len(LABEL_SETS["colour"]),
            penalties=config.colour_penalties,
            seed=config.seed,
        )
    finally:
        torch.set_num_threads(threads)
    with torch.no_grad():
        colour_head.weight.copy_(fitted.weight)
        colour_head.bias.copy_(fitted.bias)
    return heads.eval(), fitted


def _run_epochs(
    heads: AttireHeads,
    optimiser: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    inputs: torch.Tensor,
    colour: torch.Tensor,
    targets: dict[str, torch.Tensor],
    losses: Mapping[str, nn.Module],
    style_key: torch.Tensor,
    config: ClassifierTrainingConfig,
    generator: torch.Generator,
    *,
    progress: bool,
) -> None:
    for _ in tqdm(range(config.epochs), desc="train heads", unit="epoch", disable=not progress):
        order = torch.randperm(len(inputs), generator=generator)
        for start in range(0, len(order), config.batch_size):
            batch = order[start : start + config.batch_size]
            logits, embedding = heads(inputs[batch], colour[batch])
            loss = sum(
                (losses[task](logits[task], targets[task][batch]) for task in losses),
                start=torch.zeros(()),
            )
            # A batch whose materials are all untrusted gives NaN for that task.
            loss = torch.nan_to_num(loss)
            loss = loss + config.contrastive_weight * _contrastive_loss(
                embedding, style_key[batch], config.temperature
            )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            scheduler.step()


@torch.inference_mode()
def predict_cached(heads: AttireHeads, features: CachedFeatures) -> dict[str, np.ndarray]:
    """Return predicted class indices (V,) by task, and "embedding" (V, dim)."""
    logits, embedding = heads(
        torch.from_numpy(features.backbone), torch.from_numpy(features.colour)
    )
    result = {task: values.argmax(1).numpy() for task, values in logits.items()}
    result["embedding"] = embedding.numpy()
    return result


def _macro_f1_of(classes: int) -> Callable[[np.ndarray, np.ndarray], float]:
    def metric(truth: np.ndarray, predicted: np.ndarray) -> float:
        return macro_f1(truth, predicted, classes)

    return metric


def validation_metrics(
    samples: Sequence[LabelledImage],
    truth: dict[str, np.ndarray],
    predicted: dict[str, np.ndarray],
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """Return accuracy and macro-F1 with bootstrap intervals (resampling product codes).

    Type is measured on every sample. Colour, pattern and material are
    measured on head attire only, because those are the labels the product
    shows on the head. Material counts only samples with a trusted label.
    """
    groups = [sample.product_code for sample in samples]
    head = truth["type"] != TYPE.index(TYPE.fallback)
    metrics: dict[str, Any] = {"samples": len(samples), "head_attire_samples": int(head.sum())}
    for task in TASKS:
        mask = np.ones_like(head) if task == "type" else head.copy()
        if task == "material":
            mask &= truth[task] != MATERIAL.index(MATERIAL.fallback)
        classes = len(LABEL_SETS[task])
        chosen_groups = [g for g, keep in zip(groups, mask, strict=True) if keep]
        scope = "all" if task == "type" else "head attire"
        metrics[task] = {
            "scope": scope,
            "samples": int(mask.sum()),
            "accuracy": bootstrap_interval(
                accuracy, truth[task][mask], predicted[task][mask], groups=chosen_groups, seed=seed
            ).to_dict(),
            "macro_f1": bootstrap_interval(
                _macro_f1_of(classes),
                truth[task][mask],
                predicted[task][mask],
                groups=chosen_groups,
                seed=seed,
            ).to_dict(),
        }
    return metrics


def train_classifier(
    catalog_dirs: Sequence[Path],
    models_root: Path,
    *,
    config: ClassifierTrainingConfig | None = None,
    cache_dir: Path | None = None,
    weights_path: Path | None = None,
    samples: Sequence[LabelledImage] | None = None,
    street_photos: Path | None = None,
    progress: bool = False,
) -> TrainingResult:
    """Train the classifier on catalog photos and publish it under `models_root`.

    Args:
        catalog_dirs: catalog directories in the H&M layout; ignored when
            `samples` is given.
        models_root: the `models/classifier` directory that versions go into.
        cache_dir: where backbone features are cached between runs.
        samples: labelled photos to use instead of reading `catalog_dirs`.
        street_photos: a directory in the CCP layout (`photos/`, `labels.csv`);
            when given, a hat-presence head for photos of people is fitted on
            part of it and tested on the rest (see `classifier.hat_presence`).

    Raises:
        ValueError: fewer than two products, or a split side is empty.
    """
    config = config or ClassifierTrainingConfig()
    started = time.perf_counter()
    timings: dict[str, float] = {}
    torch.set_num_threads(config.threads)
    torch.use_deterministic_algorithms(config.deterministic)
    random.seed(config.seed)
    np.random.seed(config.seed)

    if samples is None:
        samples = load_catalog_samples(
            catalog_dirs, other_per_catalog=config.other_per_catalog, seed=config.seed
        )
    training, validation = split_by_product(
        samples, validation_fraction=config.validation_fraction, seed=config.seed
    )
    if not training or not validation:
        raise ValueError(
            f"the split by product left {len(training)} training and {len(validation)} "
            "validation photos: give more products or change validation_fraction"
        )
    logger.info("training on %d photos, validating on %d", len(training), len(validation))

    preprocessing = Preprocessing()
    backbone, digest = load_backbone(weights_path)
    # Training runs on the CPU, where ONNX Runtime computes the same features
    # about three times as fast as torch (classifier.runtime).
    network = feature_extractor(
        backbone,
        runtime=resolve_runtime("auto", torch.device("cpu"), "fp32"),
        size=preprocessing.size,
    )
    step = time.perf_counter()
    validation_features = cached_features(
        validation,
        network,
        weights_digest=digest,
        preprocessing=preprocessing,
        cache_dir=cache_dir,
        augmented_views=0,
        seed=config.seed,
        progress=progress,
    )
    training_features = cached_features(
        training,
        network,
        weights_digest=digest,
        preprocessing=preprocessing,
        cache_dir=cache_dir,
        augmented_views=config.augmented_views,
        seed=config.seed,
        progress=progress,
    )
    timings["features"] = time.perf_counter() - step

    step = time.perf_counter()
    training_labels = _label_matrix(training, training_features.sample)
    validation_labels = _label_matrix(validation, validation_features.sample)
    validation_kept = [validation[p] for p in validation_features.sample]
    heads, colour_fit = fit_heads(
        training_features,
        training_labels,
        [training[p].product_code for p in training_features.sample],
        config,
        progress=progress,
    )
    predicted = predict_cached(heads, validation_features)
    timings["heads"] = time.perf_counter() - step

    metrics = validation_metrics(validation_kept, validation_labels, predicted, seed=config.seed)
    metrics["colour_head"] = {
        "penalty": colour_fit.penalty,
        "cross_validation_accuracy": {
            f"{penalty:g}": accuracy for penalty, accuracy in colour_fit.cross_validation.items()
        },
    }
    metrics["training_photos"] = len(training)
    metrics["training_views"] = len(training_features.sample)
    logger.info(
        "validation: type %.3f, colour %.3f, pattern %.3f",
        metrics["type"]["accuracy"]["value"],
        metrics["colour"]["accuracy"]["value"],
        metrics["pattern"]["accuracy"]["value"],
    )

    hat_presence = None
    if street_photos is not None:
        step = time.perf_counter()
        fitted = fit_hat_presence(
            street_photos, network, preprocessing, seed=config.seed, progress=progress
        )
        hat_presence = fitted.state
        metrics["hat_presence"] = fitted.metrics
        timings["hat_presence"] = time.perf_counter() - step

    artifact = ClassifierArtifact(
        heads=heads,
        preprocessing=preprocessing,
        backbone_name=BACKBONE_NAME,
        backbone_digest=digest,
        version="",
        metadata={
            "config": asdict(config),
            # Resolved, so that `milliner evaluate classifier` finds them from any directory.
            "catalogs": [str(Path(path).resolve()) for path in catalog_dirs],
            "split": {
                "by": "product_code",
                "validation_fraction": config.validation_fraction,
                "seed": config.seed,
                "validation_article_ids": [s.article_id for s in validation_kept],
            },
            "validation_metrics": metrics,
            "hat_presence": metrics.get("hat_presence"),
            "timings": timings,
        },
        hat_presence=hat_presence,
    )
    directory = save_artifact(artifact, models_root)
    artifact = replace(artifact, version=directory.name)
    seconds = time.perf_counter() - started
    return TrainingResult(
        artifact=artifact, directory=directory, metrics=metrics, seconds=seconds, timings=timings
    )
