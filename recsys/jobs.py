"""The batch jobs behind the command line: index, train and evaluate."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from sqlalchemy import Engine

from catalog.indexing import IndexingSummary, index_images, load_item_embeddings
from catalog.locking import IndexingLock
from catalog.settings import Settings
from classifier.embedder import BatchEmbedder, ImageEmbedder, resolve_precision
from classifier.evaluation import evaluate_classifier, held_out_samples
from classifier.predict import HeadAttireClassifier
from classifier.training import ClassifierTrainingConfig, TrainingResult, train_classifier
from recsys.blending import choose_blend_weights
from recsys.data import build_item_features, load_items, load_purchases
from recsys.errors import ArtifactMissingError
from recsys.evaluation import default_test_days
from recsys.ranker import RankerModel, TrainingConfig, train_ranker
from recsys.similarity import SimilarityIndex, content_digest, published_content_digest

__all__ = [
    "DEFAULT_PRECISION",
    "DEFAULT_RUNTIME",
    "EXECUTIONS",
    "build_similarity_index",
    "classifier_dir",
    "load_classifier",
    "run_classifier_evaluation",
    "run_classifier_training",
    "run_indexing",
    "run_training",
]

logger = logging.getLogger(__name__)

EXECUTIONS = ("local", "ray")
# "auto" picks bf16 where the hardware computes it natively, else fp32. bf16
# autocast kept every embedding of 600 hm-2y photos within cosine 0.99 of
# fp32 (min 0.995). It ran the forward pass 1.3x faster than fp32 on a 2-core
# AMD EPYC with AVX512-BF16, and 4.6x slower on one with only AVX2
# (benchmarks/indexing_throughput.py, docs/benchmarks.md).
DEFAULT_PRECISION = "auto"
# ONNX Runtime for fp32 on the CPU, torch elsewhere (classifier.runtime).
DEFAULT_RUNTIME = "auto"


def build_similarity_index(
    engine: Engine, settings: Settings, model_version: str, *, progress: bool = False
) -> SimilarityIndex:
    """Build and publish the FAISS index from the stored embeddings of `model_version`.

    When the published index was built from the same ids and vectors, it is
    returned and no new version is published.

    Raises:
        ArtifactMissingError: no item has an embedding of that version.
    """
    article_ids, vectors = load_item_embeddings(engine, model_version)
    if not article_ids:
        raise ArtifactMissingError(
            f"no item has an embedding of model {model_version}: import a catalog with "
            "photos (`milliner import --data DIR`), then run `milliner index`"
        )
    if published_content_digest(settings.index_dir) == content_digest(
        article_ids, vectors, model_version
    ):
        current = SimilarityIndex.load(settings.index_dir)
        logger.info(
            "the published similarity index of %d items is up to date: nothing to publish",
            len(current),
        )
        return current
    index = SimilarityIndex.build(
        article_ids, vectors, model_version=model_version, progress=progress
    )
    path = index.save(settings.index_dir)
    logger.info("published the similarity index of %d items at %s", len(index), path)
    return index


def classifier_dir(settings: Settings) -> Path:
    """Return the root of the published classifier versions, `models/classifier`."""
    return settings.models_dir / "classifier"


def run_indexing(
    engine: Engine,
    settings: Settings,
    *,
    batch_size: int = 32,
    weights_path: Path | None = None,
    device: str | None = None,
    classifier: HeadAttireClassifier | None = None,
    progress: bool = False,
    precision: str = DEFAULT_PRECISION,
    execution: str = "local",
    runtime: str = DEFAULT_RUNTIME,
) -> tuple[IndexingSummary, SimilarityIndex]:
    """Embed (and label) new or changed photos, then publish a fresh similarity index.

    The trained classifier is used when one is passed or published under
    `models/classifier`: the index then contains its style embeddings and every
    photo gets labels. Otherwise the ImageNet features of the backbone are the
    embedding, and no labels are stored.

    The whole job holds the indexing lock of `settings.home`, so two jobs on
    one data directory never interleave.

    Args:
        precision: "fp32", "bf16" (bfloat16 autocast) or "auto" (bf16 where
            `device` computes it natively) for the ImageNet embedder; bf16
            vectors carry their own model version. A trained
            classifier always runs in fp32.
        runtime: where the backbone runs: "torch", "onnxruntime" (fp32 on the
            CPU only) or "auto" (onnxruntime where it applies, else torch).
            Both compute the same vectors, so the model version does not change.
        execution: "local" decodes and runs the network in this process;
            "ray" spreads that over the workers of a Ray cluster (`RAY_ADDRESS`,
            else a local one) while this process writes the catalog and the index.

    Raises:
        IndexingLockedError: another job holds the lock of `settings.home`.
        ValueError: an invalid precision, runtime or execution.
    """
    if execution not in EXECUTIONS:
        raise ValueError(f"invalid execution {execution!r}: use one of {', '.join(EXECUTIONS)}")
    _check_device(device)
    precision = resolve_precision(precision, device)
    with IndexingLock(settings.home):
        return _index_locked(
            engine,
            settings,
            batch_size=batch_size,
            weights_path=weights_path,
            device=device,
            classifier=classifier,
            progress=progress,
            precision=precision,
            execution=execution,
            runtime=runtime,
        )


def _check_device(device: str | None) -> None:
    """Raise ValueError for a device name torch does not know, or a GPU it cannot see."""
    if device is None:
        return
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"invalid device {device!r}: use cpu or cuda ({error})") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"invalid device {device!r}: torch finds no CUDA GPU, so use --device cpu")


def _index_locked(
    engine: Engine,
    settings: Settings,
    *,
    batch_size: int,
    weights_path: Path | None,
    device: str | None,
    classifier: HeadAttireClassifier | None,
    progress: bool,
    precision: str,
    execution: str,
    runtime: str,
) -> tuple[IndexingSummary, SimilarityIndex]:
    embedder: BatchEmbedder
    if classifier is None and (classifier_dir(settings) / "CURRENT").is_file():
        classifier = HeadAttireClassifier.load(
            classifier_dir(settings),
            weights_path=weights_path,
            device=device,
            batch_size=batch_size,
            runtime=runtime,
        )
    if classifier is not None:
        logger.info("indexing with the trained classifier %s", classifier.model_version)
        embedder = classifier
    else:
        logger.info(
            "no trained classifier under %s: indexing with ImageNet features and no labels "
            "(run `milliner train classifier --data DIR`, then `milliner index`)",
            classifier_dir(settings),
        )
        embedder = ImageEmbedder(
            weights_path=weights_path,
            batch_size=batch_size,
            device=device,
            precision=precision,
            runtime=runtime,
        )
    logger.info("the network runs in %s", getattr(embedder, "runtime", "torch"))
    if execution == "ray":
        from catalog.ray_engine import RayEmbedder

        embedder = RayEmbedder(embedder)
    summary = index_images(engine, embedder, progress=progress)
    index = build_similarity_index(engine, settings, embedder.model_version, progress=progress)
    return summary, index


def run_training(
    engine: Engine,
    settings: Settings,
    *,
    config: TrainingConfig | None = None,
    progress: bool = False,
) -> RankerModel:
    """Train the hybrid ranker on every purchase and publish it with its blend weights.

    The visual features come from the embeddings of the model version that
    the current similarity index was built with. The blend weights that the
    API serves are tuned as `milliner evaluate` tunes them: on the last
    window of purchases (28 days for a history of 56 days or more, else 2),
    with a ranker trained on the purchases before it. They are stored in
    the ranker's metadata.

    Raises:
        ArtifactMissingError: no index was published yet.
        ValueError: there are no usable purchases.
    """
    config = config or TrainingConfig()
    index = SimilarityIndex.load(settings.index_dir)
    article_ids, vectors = load_item_embeddings(engine, index.model_version)
    items = load_items(engine)
    features = build_item_features(items, article_ids, vectors, seed=config.seed)
    purchases = load_purchases(engine)
    if purchases.empty:
        raise ArtifactMissingError(
            "the catalog has no purchases: run `milliner import --data DIR` with a transactions.csv"
        )
    first_day: dt.date = min(purchases["purchased_on"])
    last_day: dt.date = max(purchases["purchased_on"])
    weights, validation = choose_blend_weights(
        purchases,
        last_day + dt.timedelta(days=1),
        default_test_days(first_day, last_day),
        items=items,
        features=features,
        index=index,
        config=config,
        progress=progress,
    )
    model = train_ranker(purchases, features, config=config, progress=progress)
    model.metadata["embedding_model_version"] = index.model_version
    model.metadata["blend_weights"] = weights.as_dict()
    model.metadata["blend_validation"] = validation
    path = model.save(settings.models_dir / "ranker")
    logger.info("published the ranker at %s", path)
    return model


def load_classifier(
    settings: Settings, *, weights_path: Path | None = None, device: str | None = None
) -> HeadAttireClassifier:
    """Load the published classifier.

    Raises:
        ArtifactMissingError: none was published; the message names `milliner train classifier`.
        ModelLoadError: the artifact cannot be used (other label lists, other weights).
    """
    root = classifier_dir(settings)
    if not (root / "CURRENT").is_file():
        raise ArtifactMissingError(
            f"no classifier published under {root}: run `milliner train classifier --data DIR`"
        )
    return HeadAttireClassifier.load(root, weights_path=weights_path, device=device)


def run_classifier_training(
    settings: Settings,
    catalog_dirs: list[Path],
    *,
    street_photos: Path | None = None,
    config: ClassifierTrainingConfig | None = None,
    progress: bool = False,
) -> TrainingResult:
    """Train the head-attire classifier and publish it under `models/classifier`.

    Backbone features are cached under `cache/classifier-features`, so a second
    run on the same photos skips the backbone. With `street_photos` (a
    directory in the CCP layout) a hat-presence head for photos of people is
    fitted on part of it, tested on the rest, and stored in the same artifact.
    """
    settings.ensure_dirs()
    return train_classifier(
        catalog_dirs,
        classifier_dir(settings),
        config=config,
        cache_dir=settings.home / "cache" / "classifier-features",
        street_photos=street_photos,
        progress=progress,
    )


def run_classifier_evaluation(
    settings: Settings, catalog_dirs: Sequence[Path] | None = None, *, progress: bool = False
) -> tuple[dict[str, Any], Path, Path]:
    """Evaluate the published classifier on its held-out products; write the report.

    The held-out photos are read from `catalog_dirs`, or from the catalogs
    recorded at training when None.

    Returns:
        (metrics, report.html path, metrics.json path), under `reports/classifier/<version>/`.
    """
    classifier = load_classifier(settings)
    samples = held_out_samples(classifier, catalog_dirs)
    hat = classifier.artifact.metadata.get("hat_presence")
    return evaluate_classifier(
        classifier,
        samples,
        settings.reports_dir / "classifier" / classifier.artifact.version,
        hat_presence=hat,
        progress=progress,
    )
