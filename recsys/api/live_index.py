"""The published similarity index plus items added through the API since it was loaded.

Consistency rule: an item added or changed with `POST`/`PUT /v1/items` is
searchable at once in the process that handled the request. Other worker
processes see it after the next `milliner index` publishes a new index version
(the item's embedding is stored in the catalog, so that run includes it
without embedding the photo again). When a new index version is loaded, the
added items it contains are dropped from the overlay and the others are kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from recsys.similarity import SimilarityIndex

__all__ = ["LiveIndex"]


@dataclass(frozen=True)
class LiveIndex:
    """A read-only view: a published `SimilarityIndex` and an overlay of added vectors.

    Every change returns a new `LiveIndex`, so a request that has a reference
    to one never sees it change. Ids are catalog article ids. An overlay vector replaces the
    published vector of the same item.

    Attributes:
        published: the index loaded from disk.
        version: the directory name of the published version.
        added: article id -> unit float32 vector of shape (dim,).
    """

    published: SimilarityIndex
    version: str
    added: Mapping[str, np.ndarray] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def model_version(self) -> str:
        return self.published.model_version

    def __len__(self) -> int:
        return len(self.published) + sum(1 for a in self.added if a not in self.published)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self.added or article_id in self.published

    def vector(self, article_id: str) -> np.ndarray:
        """Return the unit vector of an item, float32 shape (dim,).

        Raises:
            KeyError: the item is in neither the index nor the overlay.
        """
        added = self.added.get(article_id)
        if added is not None:
            return added
        return self.published.vector(article_id)

    def with_item(self, article_id: str, vector: np.ndarray) -> LiveIndex:
        """Return a copy with `vector` (float32 (dim,), normalised here) for `article_id`."""
        unit = np.asarray(vector, dtype=np.float32).reshape(-1)
        unit = unit / max(float(np.linalg.norm(unit)), 1e-12)
        added = dict(self.added)
        added[article_id] = unit
        return LiveIndex(self.published, self.version, MappingProxyType(added))

    def rebased(self, published: SimilarityIndex, version: str) -> LiveIndex:
        """Return a view on a newly published index, keeping added items it lacks."""
        missing = {a: v for a, v in self.added.items() if a not in published}
        return LiveIndex(published, version, MappingProxyType(missing))

    def search(self, query: np.ndarray, k: int) -> list[tuple[str, float]]:
        """Return the `k` items closest to one query vector (shape (dim,)), best first.

        Returns:
            (article_id, cosine similarity) pairs; fewer than `k` when the
            catalog is smaller.
        """
        unit = np.asarray(query, dtype=np.float32).reshape(-1)
        unit = unit / max(float(np.linalg.norm(unit)), 1e-12)
        # Ask the published index for enough extra neighbours that replaced
        # items can be dropped and still leave k.
        published = self.published.search(unit[None, :], k + len(self.added))[0]
        scored = [(a, s) for a, s in published if a not in self.added]
        if self.added:
            ids = list(self.added)
            matrix = np.stack([self.added[a] for a in ids])
            scored.extend(zip(ids, (matrix @ unit).tolist(), strict=True))
        scored.sort(key=lambda pair: -pair[1])
        return scored[:k]

    def similar_items(self, article_id: str, k: int) -> list[tuple[str, float]]:
        """Return the `k` items most similar to `article_id`, itself excluded.

        Raises:
            KeyError: the item is not searchable.
        """
        neighbours = self.search(self.vector(article_id), k + 1)
        return [(other, score) for other, score in neighbours if other != article_id][:k]
