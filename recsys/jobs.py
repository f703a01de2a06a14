"""The batch jobs behind the command line: index and train from the catalog."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Engine

from catalog.indexing import IndexingSummary, index_images, load_item_embeddings
from catalog.settings import Settings
from classifier.embedder import ImageEmbedder
from recsys.data import build_item_features, load_items, load_purchases
from recsys.errors import ArtifactMissingError
from recsys.ranker import RankerModel, TrainingConfig, train_ranker
from recsys.similarity import SimilarityIndex

__all__ = ["build_similarity_index", "run_indexing", "run_training"]

logger = logging.getLogger(__name__)


def build_similarity_index(
    engine: Engine, settings: Settings, model_version: str
) -> SimilarityIndex:
    """Build and publish the FAISS index from the stored embeddings of `model_version`.

    Raises:
        ArtifactMissingError: no item has an embedding of that version.
    """
    article_ids, vectors = load_item_embeddings(engine, model_version)
    if not article_ids:
        raise ArtifactMissingError(
            f"no item has an embedding of model {model_version}: import a catalog with "
            "photos (`milliner import --data DIR`), then run `milliner index`"
        )
    index = SimilarityIndex.build(article_ids, vectors, model_version=model_version)
    path = index.save(settings.index_dir)
    logger.info("published the similarity index of %d items at %s", len(index), path)
    return index


def run_indexing(
    engine: Engine,
    settings: Settings,
    *,
    batch_size: int = 32,
    weights_path: Path | None = None,
    device: str | None = None,
    progress: bool = False,
) -> tuple[IndexingSummary, SimilarityIndex]:
    """Embed new or changed photos, then publish a fresh similarity index."""
    embedder = ImageEmbedder(weights_path=weights_path, batch_size=batch_size, device=device)
    summary = index_images(engine, embedder, progress=progress)
    index = build_similarity_index(engine, settings, embedder.model_version)
    return summary, index


def run_training(
    engine: Engine,
    settings: Settings,
    *,
    config: TrainingConfig | None = None,
    progress: bool = False,
) -> RankerModel:
    """Train the hybrid ranker on every purchase and publish it.

    The visual features come from the embeddings of the model version that
    the current similarity index was built with.

    Raises:
        ArtifactMissingError: no index was published yet.
        ValueError: there are no usable purchases.
    """
    config = config or TrainingConfig()
    index = SimilarityIndex.load(settings.index_dir)
    article_ids, vectors = load_item_embeddings(engine, index.model_version)
    features = build_item_features(load_items(engine), article_ids, vectors, seed=config.seed)
    purchases = load_purchases(engine)
    if purchases.empty:
        raise ArtifactMissingError(
            "the catalog has no purchases: run `milliner import --data DIR` with a transactions.csv"
        )
    model = train_ranker(purchases, features, config=config, progress=progress)
    model.metadata["embedding_model_version"] = index.model_version
    path = model.save(settings.models_dir / "ranker")
    logger.info("published the ranker at %s", path)
    return model
