"""Visual similarity search over item embeddings with FAISS.

Vectors are L2-normalised, so the inner product that the index computes is
cosine similarity. Every vector is added with an explicit int64 id: its
position in `article_ids`, which maps FAISS ids back to catalog ids.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import faiss
import numpy as np

from recsys.artifacts import current_version_dir, publish_version, write_json_atomic

__all__ = ["EXACT_SEARCH_MAX_ITEMS", "SimilarityIndex"]

logger = logging.getLogger(__name__)

# Below this many items an exact (flat) search is fast enough and needs no
# training; above it an HNSW graph keeps queries sub-linear.
EXACT_SEARCH_MAX_ITEMS = 200_000
_HNSW_NEIGHBOURS = 32
_HNSW_EF_SEARCH = 128


class SimilarityIndex:
    """Nearest-neighbour search by cosine similarity, in catalog id space."""

    def __init__(self, index: faiss.Index, article_ids: Sequence[str], model_version: str) -> None:
        if index.ntotal != len(article_ids):
            raise ValueError(
                f"index holds {index.ntotal} vectors but the id map has {len(article_ids)} ids"
            )
        self._index = index
        self.article_ids = list(article_ids)
        self._position = {article_id: i for i, article_id in enumerate(self.article_ids)}
        self.model_version = model_version

    @classmethod
    def build(
        cls,
        article_ids: Sequence[str],
        vectors: np.ndarray,
        *,
        model_version: str,
        exact_max_items: int = EXACT_SEARCH_MAX_ITEMS,
    ) -> SimilarityIndex:
        """Index `vectors` (float32, shape (n, dim)), one row per id in `article_ids`.

        Rows are L2-normalised here as well, so callers cannot break the
        cosine contract by passing raw features.
        """
        if vectors.ndim != 2 or vectors.shape[0] != len(article_ids):
            raise ValueError(
                f"vectors must have shape ({len(article_ids)}, dim), got {vectors.shape}"
            )
        if len(set(article_ids)) != len(article_ids):
            raise ValueError("article_ids contains duplicates; each item must appear once")
        matrix = np.ascontiguousarray(vectors, dtype=np.float32)
        faiss.normalize_L2(matrix)
        dim = matrix.shape[1]
        if len(article_ids) <= exact_max_items:
            inner: faiss.Index = faiss.IndexFlatIP(dim)
            kind = "flat"
        else:
            inner = faiss.IndexHNSWFlat(dim, _HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efSearch = _HNSW_EF_SEARCH
            kind = "hnsw"
        index = faiss.IndexIDMap2(inner)
        index.add_with_ids(matrix, np.arange(len(article_ids), dtype=np.int64))
        logger.info(
            "built a %s index of %d vectors (dim %d, about %.1f MB)",
            kind,
            len(article_ids),
            dim,
            matrix.nbytes / 1e6,
        )
        return cls(index, article_ids, model_version)

    def __len__(self) -> int:
        return len(self.article_ids)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._position

    def vector(self, article_id: str) -> np.ndarray:
        """Return the stored unit vector of an item, float32 shape (dim,).

        Raises:
            KeyError: the item is not in the index.
        """
        return np.asarray(self._index.reconstruct(self._position[article_id]), dtype=np.float32)

    def search(self, queries: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """Return the `k` nearest items of each query row, best first.

        Args:
            queries: float32 (n, dim); normalised here.
            k: neighbours per query; fewer come back when the index is smaller.

        Returns:
            One list per query of (article_id, cosine similarity in [-1, 1]).
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        matrix = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        faiss.normalize_L2(matrix)
        scores, ids = self._index.search(matrix, min(k, len(self)))
        results: list[list[tuple[str, float]]] = []
        for row_scores, row_ids in zip(scores, ids, strict=True):
            # FAISS pads missing neighbours with id -1.
            results.append(
                [
                    (self.article_ids[i], float(s))
                    for s, i in zip(row_scores, row_ids, strict=True)
                    if i >= 0
                ]
            )
        return results

    def similar_items(self, article_id: str, k: int) -> list[tuple[str, float]]:
        """Return the `k` items most similar to `article_id`, itself excluded.

        Raises:
            KeyError: the item is not in the index.
        """
        neighbours = self.search(self.vector(article_id)[None, :], k + 1)[0]
        return [(other, score) for other, score in neighbours if other != article_id][:k]

    def save(self, root: Path) -> Path:
        """Publish the index as a new version under `root`; return its directory."""
        with publish_version(root) as publication:
            directory = publication.staging
            faiss.write_index(self._index, str(directory / "index.faiss"))
            write_json_atomic(directory / "article_ids.json", self.article_ids)
            write_json_atomic(
                directory / "metadata.json",
                {
                    "model_version": self.model_version,
                    "size": len(self),
                    "dim": self._index.d,
                    "metric": "inner_product_on_unit_vectors",
                },
            )
        return publication.final

    @classmethod
    def load(cls, root: Path) -> SimilarityIndex:
        """Load the current version under `root`.

        Raises:
            ArtifactMissingError: no index was published.
        """
        directory = current_version_dir(root, produced_by="milliner index")
        metadata = json.loads((directory / "metadata.json").read_text(encoding="utf-8"))
        article_ids = json.loads((directory / "article_ids.json").read_text(encoding="utf-8"))
        index = faiss.read_index(str(directory / "index.faiss"))
        return cls(index, article_ids, metadata["model_version"])
