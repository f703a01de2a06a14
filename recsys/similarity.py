"""Visual similarity search over item embeddings with FAISS.

Vectors are L2-normalised, so the inner product that the index computes is
cosine similarity. Every vector is added with an explicit int64 id: its
position in `article_ids`, which maps FAISS ids back to catalog ids.

The index type follows the catalog size (`choose_index_kind`): an exact flat
index up to `EXACT_SEARCH_MAX_ITEMS` items, and an HNSW graph above it. Two
inverted-file kinds are available on request: IVF-Flat ("ivf"), and "ivfpq",
whose 4-bit product-quantisation codes are scanned with SIMD and whose best
candidates are re-ranked exactly. When faiss was built with GPU support and
finds a GPU, flat and IVF-Flat searches run on a GPU copy of the index.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import faiss
import numpy as np
from tqdm import tqdm

from recsys.artifacts import current_version_dir, publish_version, write_json_atomic
from recsys.errors import ArtifactMissingError

__all__ = [
    "EXACT_SEARCH_MAX_ITEMS",
    "IVF_MIN_POINTS_PER_LIST",
    "IndexKind",
    "SimilarityIndex",
    "choose_index_kind",
    "content_digest",
    "ivf_list_count",
    "published_content_digest",
]

logger = logging.getLogger(__name__)

IndexKind = Literal["flat", "ivf", "ivfpq", "hnsw"]
_KINDS: tuple[IndexKind, ...] = ("flat", "ivf", "ivfpq", "hnsw")

# Below this many items an exact (flat) search is fast enough and needs no
# training; above it an IVF index keeps queries sub-linear.
# NOTE: the threshold was not measured. A flat search over 200,000 items of
# 1280 dimensions reads 1 GB of vectors per search call.
EXACT_SEARCH_MAX_ITEMS = 200_000

# FAISS k-means warns below 39 training points per centroid, because the
# centroids of a smaller sample are noise. An IVF index never trains on fewer.
IVF_MIN_POINTS_PER_LIST = 39
# k-means cost grows with the sample, and 64 points per list already place
# the centroids well; FAISS itself caps the sample at 256 per list.
_IVF_TRAINING_POINTS_PER_LIST = 64
_IVF_TRAINING_SEED = 1234
# Lists probed per query, as a share of all lists, with a floor. The ivfpq
# scan is so much cheaper per vector that it can afford more lists; both
# shares were chosen with benchmarks/search_scale.py.
_IVF_PROBE_SHARE: dict[str, float] = {"ivf": 1 / 64, "ivfpq": 1 / 16}
_IVF_MIN_PROBES = 8
# ivfpq: one 4-bit code per 4 dimensions, and 8 * k candidates re-ranked
# exactly. At 1M vectors, 16 * k gave the same recall and 15% fewer queries/s.
_PQ_DIMS_PER_CODE = 4
_PQ_K_FACTOR = 8
# HNSW at one million clustered 256-d vectors on 2 cores
# (benchmarks/search_scale.py): efSearch 64 reached recall@10 0.987 at 2,141
# queries/s, 128 reached 0.998 at 962 queries/s, 32 reached 0.929.
_HNSW_NEIGHBOURS = 32
_HNSW_EF_CONSTRUCTION = 80
_HNSW_EF_SEARCH = 64
# Vectors added per call while building, so that a long build reports progress.
_ADD_CHUNK = 100_000


def choose_index_kind(
    item_count: int, *, exact_max_items: int = EXACT_SEARCH_MAX_ITEMS
) -> IndexKind:
    """Return "flat" up to `exact_max_items` items, and "hnsw" above.

    At one million clustered 256-d vectors on 2 cores, HNSW reached recall@10
    0.987 at 2,141 queries/s, while the best IVF kind ("ivfpq") reached 0.917
    at 676 queries/s (benchmarks/search_scale.py). HNSW costs more to build
    (15 minutes for those vectors against 3.5) and about 20% more memory.
    """
    if item_count <= exact_max_items:
        return "flat"
    return "hnsw"


def ivf_list_count(item_count: int) -> int:
    """Return the number of IVF lists (k-means centroids) for `item_count` vectors.

    About 2 * sqrt(n) lists, reduced so that every list has at least
    `IVF_MIN_POINTS_PER_LIST` training points.

    Raises:
        ValueError: fewer than `IVF_MIN_POINTS_PER_LIST` vectors, too few to train even one list.
    """
    if item_count < IVF_MIN_POINTS_PER_LIST:
        raise ValueError(
            f"an IVF index needs at least {IVF_MIN_POINTS_PER_LIST} vectors to train, "
            f"got {item_count}: use a flat index"
        )
    target = max(1, round(2 * math.sqrt(item_count)))
    return min(target, item_count // IVF_MIN_POINTS_PER_LIST)


def _ivf_probe_count(list_count: int, kind: IndexKind) -> int:
    return min(list_count, max(_IVF_MIN_PROBES, round(list_count * _IVF_PROBE_SHARE[kind])))


def _build_inner(
    matrix: np.ndarray, kind: IndexKind, *, nprobe: int | None, ef_search: int | None
) -> tuple[faiss.Index, dict[str, Any]]:
    """Create and train (for IVF) the inner index; return it with its parameters."""
    count, dim = matrix.shape
    if kind == "flat":
        return faiss.IndexFlatIP(dim), {}

    if kind == "hnsw":
        hnsw = faiss.IndexHNSWFlat(dim, _HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = _HNSW_EF_CONSTRUCTION
        hnsw.hnsw.efSearch = ef_search or _HNSW_EF_SEARCH
        return hnsw, {"neighbours": _HNSW_NEIGHBOURS, "ef_search": hnsw.hnsw.efSearch}

    lists = ivf_list_count(count)
    index: faiss.Index
    if kind == "ivfpq":
        if dim % _PQ_DIMS_PER_CODE:
            raise ValueError(
                f"an ivfpq index needs a dimension divisible by {_PQ_DIMS_PER_CODE}, "
                f"got {dim}: use ivf"
            )
        # 4-bit codes scanned with SIMD ("fs", fast scan), then the best
        # k * k_factor candidates re-ranked exactly against a flat copy ("RFlat").
        codes = dim // _PQ_DIMS_PER_CODE
        index = faiss.index_factory(
            dim, f"IVF{lists},PQ{codes}x4fs,RFlat", faiss.METRIC_INNER_PRODUCT
        )
        _downcast(index).k_factor = _PQ_K_FACTOR
    else:
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)

    training_size = min(count, lists * _IVF_TRAINING_POINTS_PER_LIST)
    rows = np.random.default_rng(_IVF_TRAINING_SEED).choice(count, training_size, replace=False)
    started = time.perf_counter()
    index.train(matrix[np.sort(rows)])
    logger.info(
        "trained the %s index (%d lists) on %d vectors in %.1f s",
        kind,
        lists,
        training_size,
        time.perf_counter() - started,
    )
    ivf = faiss.extract_index_ivf(index)
    ivf.nprobe = min(lists, nprobe) if nprobe else _ivf_probe_count(lists, kind)
    parameters: dict[str, Any] = {
        "lists": lists,
        "nprobe": ivf.nprobe,
        "training_size": training_size,
    }
    if kind == "ivfpq":
        parameters["k_factor"] = _PQ_K_FACTOR
    else:
        # `vector()` reconstructs by id, which an IVF-Flat index can do only
        # with a direct map. The exact copy of an ivfpq index serves it instead.
        ivf.make_direct_map()
    return index, parameters


def _estimated_bytes(count: int, dim: int, kind: IndexKind) -> int:
    """Estimate the memory of an index: vectors, ids and the structure of its kind."""
    vectors = count * dim * 4
    ids = count * 8
    if kind == "hnsw":
        return vectors + ids + count * _HNSW_NEIGHBOURS * 2 * 4
    if kind == "ivf":
        return vectors + 2 * ids + ivf_list_count(count) * dim * 4
    if kind == "ivfpq":
        codes = count * dim // (2 * _PQ_DIMS_PER_CODE)
        return vectors + codes + 2 * ids + ivf_list_count(count) * dim * 4
    return vectors + ids


def _search_copy_on_gpu(index: faiss.Index, kind: str) -> faiss.Index | None:
    """Return a copy of `index` on every visible GPU, or None without GPUs.

    The CPU index stays the one that is saved and reconstructed from. FAISS
    has no GPU version of HNSW or of the fast-scan PQ codes, so those kinds
    always search on the CPU.
    """
    get_num_gpus = getattr(faiss, "get_num_gpus", None)
    if get_num_gpus is None or get_num_gpus() == 0 or kind not in ("flat", "ivf"):
        return None
    # NOTE: this path needs faiss-gpu (`pip install 'milliner[gpu]'`) and was
    # not run in the test suite, which has faiss-cpu only.
    gpu_index = faiss.index_cpu_to_all_gpus(index)
    logger.info("searching the %s index on %d GPU(s)", kind, get_num_gpus())
    return gpu_index


class SimilarityIndex:
    """Nearest-neighbour search by cosine similarity, in catalog id space.

    Attributes:
        article_ids: catalog ids; the FAISS id of an item is its position here.
        model_version: the embedding model that produced the vectors.
        kind: "flat" (exact) or an approximate kind: "ivf" (IVF-Flat),
            "ivfpq" (IVF with 4-bit PQ fast scan, re-ranked exactly) or "hnsw".
        parameters: the build and search parameters of `kind`, as saved in
            the published metadata (lists, nprobe and k_factor for IVF,
            neighbours and ef_search for HNSW).
    """

    def __init__(
        self,
        index: faiss.Index,
        article_ids: Sequence[str],
        model_version: str,
        *,
        parameters: dict[str, Any] | None = None,
        content_sha256: str | None = None,
    ) -> None:
        if index.ntotal != len(article_ids):
            raise ValueError(
                f"index contains {index.ntotal} vectors but the id map has {len(article_ids)} ids"
            )
        self._index = index
        self.article_ids = list(article_ids)
        self._position = {article_id: i for i, article_id in enumerate(self.article_ids)}
        self.model_version = model_version
        self.kind = _kind_of(index)
        self.parameters = dict(parameters or {})
        self.content_sha256 = content_sha256
        self._search_index = _search_copy_on_gpu(index, self.kind) or index

    @classmethod
    def build(
        cls,
        article_ids: Sequence[str],
        vectors: np.ndarray,
        *,
        model_version: str,
        exact_max_items: int = EXACT_SEARCH_MAX_ITEMS,
        kind: IndexKind | None = None,
        nprobe: int | None = None,
        ef_search: int | None = None,
        progress: bool = False,
    ) -> SimilarityIndex:
        """Index `vectors` (float32, shape (n, dim)), one row per id in `article_ids`.

        Rows are L2-normalised here as well, so callers cannot break the
        cosine contract by passing raw features.

        Args:
            kind: the index type; by default `choose_index_kind(n, exact_max_items)`.
            nprobe: IVF lists searched per query (default: 1/64 of the lists
                for ivf, 1/16 for ivfpq, at least 8).
            ef_search: HNSW candidate list size per query (default: 64).
            progress: show a progress bar while the vectors are added.

        Raises:
            ValueError: the shapes disagree, an id repeats, the kind is unknown,
                or an IVF index is requested for fewer than 39 vectors.
        """
        if vectors.ndim != 2 or vectors.shape[0] != len(article_ids):
            raise ValueError(
                f"vectors must have shape ({len(article_ids)}, dim), got {vectors.shape}"
            )
        if len(set(article_ids)) != len(article_ids):
            raise ValueError("article_ids contains duplicates; each item must appear once")
        chosen = kind or choose_index_kind(len(article_ids), exact_max_items=exact_max_items)
        if chosen not in _KINDS:
            raise ValueError(f"invalid index kind {chosen!r}: use one of {', '.join(_KINDS)}")
        count, dim = vectors.shape
        estimate = _estimated_bytes(count, dim, chosen) if count else 0
        logger.info(
            "building the %s index of %d vectors (dim %d): about %.1f MB",
            chosen,
            count,
            dim,
            estimate / 1e6,
        )

        started = time.perf_counter()
        matrix = np.ascontiguousarray(vectors, dtype=np.float32)
        if matrix is vectors:
            matrix = matrix.copy()
        faiss.normalize_L2(matrix)
        inner, parameters = _build_inner(matrix, chosen, nprobe=nprobe, ef_search=ef_search)
        index = faiss.IndexIDMap2(inner)
        ids = np.arange(count, dtype=np.int64)
        with tqdm(total=count, desc=f"{chosen} index", unit="vector", disable=not progress) as bar:
            for start in range(0, count, _ADD_CHUNK):
                stop = min(count, start + _ADD_CHUNK)
                index.add_with_ids(matrix[start:stop], ids[start:stop])
                bar.update(stop - start)
        logger.info(
            "built the %s index of %d vectors in %.1f s",
            chosen,
            count,
            time.perf_counter() - started,
        )
        return cls(
            index,
            article_ids,
            model_version,
            parameters=parameters,
            content_sha256=content_digest(article_ids, vectors, model_version),
        )

    def set_search_parameters(
        self,
        *,
        nprobe: int | None = None,
        k_factor: int | None = None,
        ef_search: int | None = None,
    ) -> None:
        """Trade speed for recall at query time.

        Args:
            nprobe: IVF lists scanned per query (ivf and ivfpq).
            k_factor: ivfpq re-ranks the best `k * k_factor` candidates exactly.
            ef_search: HNSW candidate list size.

        A parameter that does not apply to this index's kind is ignored, so
        callers can tune any index the same way. The values are saved with
        the index.

        Raises:
            ValueError: a value is below 1.
        """
        for name, value in (("nprobe", nprobe), ("k_factor", k_factor), ("ef_search", ef_search)):
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if nprobe is not None and self.kind in ("ivf", "ivfpq"):
            nprobe = min(nprobe, int(self.parameters.get("lists", nprobe)))
            faiss.extract_index_ivf(self._index).nprobe = nprobe
            if self._search_index is not self._index:
                faiss.GpuParameterSpace().set_index_parameter(self._search_index, "nprobe", nprobe)
            self.parameters["nprobe"] = nprobe
        if k_factor is not None and self.kind == "ivfpq":
            _downcast(self._inner()).k_factor = k_factor
            self.parameters["k_factor"] = k_factor
        if ef_search is not None and self.kind == "hnsw":
            _downcast(self._inner()).hnsw.efSearch = ef_search
            self.parameters["ef_search"] = ef_search

    def _inner(self) -> faiss.Index:
        """Return the index inside the id map."""
        return _downcast(_downcast(self._index).index)

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
        scores, ids = self._search_index.search(matrix, min(k, len(self)))
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
                    "kind": self.kind,
                    "parameters": self.parameters,
                    "content_sha256": self.content_sha256,
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
        return cls(
            index,
            article_ids,
            metadata["model_version"],
            parameters=metadata.get("parameters", {}),
            content_sha256=metadata.get("content_sha256"),
        )


def content_digest(article_ids: Sequence[str], vectors: np.ndarray, model_version: str) -> str:
    """Return a SHA-256 of what an index is built from: ids, vectors and model version.

    Two builds from the same inputs give the same digest, so `milliner index`
    can tell that a run changed nothing and keep the published version.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps([model_version, list(article_ids)]).encode("utf-8"))
    digest.update(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
    return digest.hexdigest()


def published_content_digest(root: Path) -> str | None:
    """Return the content digest in the metadata of the current version under `root`.

    None when nothing is published, or the version predates digests.
    """
    try:
        directory = current_version_dir(root, produced_by="milliner index")
        metadata = json.loads((directory / "metadata.json").read_text(encoding="utf-8"))
    except (ArtifactMissingError, OSError, ValueError):
        return None
    digest = metadata.get("content_sha256")
    return digest if isinstance(digest, str) else None


def _downcast(index: faiss.Index) -> Any:
    """Return `index` as its concrete FAISS class, whose attributes the stubs do not list."""
    return faiss.downcast_index(index)


def _kind_of(index: faiss.Index) -> str:
    inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap) else index
    if isinstance(inner, faiss.IndexRefine):
        return "ivfpq"
    if isinstance(inner, faiss.IndexIVF):
        return "ivf"
    if isinstance(inner, faiss.IndexHNSW):
        return "hnsw"
    return "flat"
