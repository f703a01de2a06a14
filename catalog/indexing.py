"""The batch indexing job: embed (and label) every new or changed product photo."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, and_, delete, insert, select
from tqdm import tqdm

from catalog.db import session_scope
from catalog.tables import Embedding, ItemImage, ItemLabels
from classifier.embedder import BatchEmbedder
from classifier.predict import ClassifiedBatch

__all__ = ["IndexingSummary", "index_images", "load_item_embeddings"]

logger = logging.getLogger(__name__)


@dataclass
class IndexingSummary:
    """Counts of one indexing run; `failures` lists (image path, reason)."""

    model_version: str
    processed: int = 0
    skipped: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0


def _pending_images(engine: Engine, model_version: str) -> tuple[list[ItemImage], int]:
    """Return images with no embedding of `model_version` for their current content."""
    with session_scope(engine) as session:
        images = list(session.scalars(select(ItemImage).order_by(ItemImage.id)))
        current = {
            (image_id, sha)
            for image_id, sha in session.execute(
                select(Embedding.image_id, Embedding.image_sha256).where(
                    Embedding.model_version == model_version
                )
            )
        }
    pending = [image for image in images if (image.id, image.sha256) not in current]
    return pending, len(images) - len(pending)


def index_images(
    engine: Engine, embedder: BatchEmbedder, *, progress: bool = False
) -> IndexingSummary:
    """Embed every catalog photo that has no embedding for `embedder.model_version`.

    With a `HeadAttireClassifier` the embedding is its trained style embedding,
    and the photo's labels are stored in `item_labels` under the same model
    version. With an `ImageEmbedder` only the ImageNet embedding is stored.
    A photo is embedded again when its content hash changed since its
    embedding was made. Each batch is committed on its own, so a run that is
    stopped part-way keeps its finished batches and the next run does only
    the rest. A photo that cannot be decoded is listed in `failures` and the
    batch goes on.
    """
    started = time.perf_counter()
    model_version = embedder.model_version
    pending, up_to_date = _pending_images(engine, model_version)
    summary = IndexingSummary(model_version=model_version, skipped=up_to_date)
    logger.info(
        "indexing %d photos with %s (%d already up to date)",
        len(pending),
        model_version,
        up_to_date,
    )

    by_path = {Path(image.path): image for image in pending}
    with tqdm(total=len(pending), desc="index", unit="img", disable=not progress) as bar:
        for batch in embedder.embed_files(list(by_path)):
            rows = []
            label_rows = _label_rows(batch, by_path, model_version)
            for path, vector in zip(batch.paths, batch.vectors, strict=True):
                image = by_path[path]
                rows.append(
                    {
                        "image_id": image.id,
                        "model_version": model_version,
                        "image_sha256": image.sha256,
                        "dim": int(vector.shape[0]),
                        "vector": vector.astype("<f4").tobytes(),
                    }
                )
            with session_scope(engine) as session:
                image_ids = [row["image_id"] for row in rows]
                if image_ids:
                    session.execute(
                        delete(Embedding).where(
                            and_(
                                Embedding.model_version == model_version,
                                Embedding.image_id.in_(image_ids),
                            )
                        )
                    )
                    session.execute(insert(Embedding), rows)
                if label_rows:
                    session.execute(
                        delete(ItemLabels).where(
                            and_(
                                ItemLabels.model_version == model_version,
                                ItemLabels.image_id.in_(image_ids),
                            )
                        )
                    )
                    session.execute(insert(ItemLabels), label_rows)
            summary.processed += len(rows)
            summary.failures.extend((str(path), reason) for path, reason in batch.failures)
            bar.update(len(batch.paths) + len(batch.failures))

    summary.seconds = time.perf_counter() - started
    logger.info(
        "indexed %d photos in %.1f s, %d skipped, %d failed",
        summary.processed,
        summary.seconds,
        summary.skipped,
        len(summary.failures),
    )
    return summary


def _label_rows(
    batch: object, by_path: dict[Path, ItemImage], model_version: str
) -> list[dict[str, object]]:
    if not isinstance(batch, ClassifiedBatch):
        return []
    rows: list[dict[str, object]] = []
    for path, attire in zip(batch.paths, batch.attire, strict=True):
        image = by_path[path]
        row: dict[str, object] = {
            "image_id": image.id,
            "model_version": model_version,
            "image_sha256": image.sha256,
        }
        row.update(attire.to_dict())
        rows.append(row)
    return rows


def load_item_embeddings(engine: Engine, model_version: str) -> tuple[list[str], np.ndarray]:
    """Load one embedding per item: that of its first photo.

    Returns:
        (article_ids, vectors): catalog ids, and a float32 array
        (len(article_ids), dim) whose rows are L2-normalised. Items without
        a current embedding are left out.
    """
    with session_scope(engine) as session:
        rows = session.execute(
            select(ItemImage.article_id, Embedding.vector, Embedding.dim)
            .join(Embedding, Embedding.image_id == ItemImage.id)
            .where(
                Embedding.model_version == model_version,
                Embedding.image_sha256 == ItemImage.sha256,
            )
            .order_by(ItemImage.article_id, ItemImage.id)
        ).all()
    article_ids: list[str] = []
    vectors: list[np.ndarray] = []
    for article_id, blob, dim in rows:
        if article_ids and article_ids[-1] == article_id:
            continue
        vector = np.frombuffer(blob, dtype="<f4")
        if vector.shape[0] != dim:
            raise ValueError(
                f"embedding of item {article_id} has {vector.shape[0]} values, expected {dim}: "
                "run `milliner index` again"
            )
        article_ids.append(article_id)
        vectors.append(vector)
    if not vectors:
        return [], np.zeros((0, 0), dtype=np.float32)
    return article_ids, np.vstack(vectors).astype(np.float32)
