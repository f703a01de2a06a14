"""Similarity search at catalog scale: recall@10 against exact search, queries/s, memory.

Builds `SimilarityIndex` over synthetic clustered unit vectors (default one
million, 256-d) and computes the exact top 10 of each query with a flat
index. For each requested index kind it then measures build time and
resident memory, and for each search setting recall@10 and queries per
second (one batch of queries through `SimilarityIndex.search`, catalog ids
included).

The vectors are a mixture of Gaussian clusters around random centres, so
that neighbourhoods exist as they do in real image embeddings. Uniform random
vectors in 256 dimensions have almost equidistant neighbours and are a
worst case that no real catalog resembles.

Run:
    .venv/bin/python benchmarks/search_scale.py --size 1000000 --kinds hnsw,ivfpq
"""

from __future__ import annotations

import argparse
import logging
import resource
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys.similarity import SimilarityIndex

logger = logging.getLogger("search_scale")

_CHUNK = 100_000


def _resident_mb() -> float:
    """Return the resident set size of this process now, in MB (Linux only)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def clustered_unit_vectors(
    count: int, dim: int, *, clusters: int, noise: float, rng: np.random.Generator
) -> np.ndarray:
    """Return `count` float32 unit vectors (count, dim) drawn around `clusters` random centres."""
    centres = rng.normal(size=(clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vectors = np.empty((count, dim), dtype=np.float32)
    for start in range(0, count, _CHUNK):
        stop = min(count, start + _CHUNK)
        members = rng.integers(0, clusters, size=stop - start)
        chunk = centres[members] + rng.normal(
            scale=noise / np.sqrt(dim), size=(stop - start, dim)
        ).astype(np.float32)
        chunk /= np.linalg.norm(chunk, axis=1, keepdims=True)
        vectors[start:stop] = chunk
    return vectors


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    """Return the exact top-`k` positions (n_queries, k) and the flat index's queries/s."""
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    started = time.perf_counter()
    _, positions = flat.search(queries, k)
    return positions, len(queries) / (time.perf_counter() - started)


def recall_at_k(found: list[list[tuple[str, float]]], expected: np.ndarray, k: int) -> float:
    hits = 0
    for row, neighbours in enumerate(found):
        hits += len({int(article_id) for article_id, _ in neighbours[:k]} & set(expected[row]))
    return hits / (len(found) * k)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="vectors in the index")
    parser.add_argument("--dim", type=int, default=256, help="vector dimension")
    parser.add_argument("--queries", type=int, default=2000, help="queries per measurement")
    parser.add_argument("--clusters", type=int, default=20_000, help="cluster centres")
    parser.add_argument(
        "--noise", type=float, default=1.0, help="noise norm relative to a unit centre"
    )
    parser.add_argument("--kinds", default="hnsw", help="comma-separated: flat, ivf, ivfpq, hnsw")
    parser.add_argument("--nprobe", default="64,128,256", help="IVF settings to measure")
    parser.add_argument("--k-factor", default="8,16", help="ivfpq re-ranking settings to measure")
    parser.add_argument("--ef-search", default="32,64,128", help="HNSW settings to measure")
    parser.add_argument("--threads", type=int, default=2, help="FAISS OpenMP threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    faiss.omp_set_num_threads(args.threads)
    k = 10

    logger.info(
        "allocating %d x %d float32 vectors: about %.0f MB, and as much again for each index",
        args.size,
        args.dim,
        args.size * args.dim * 4 / 1e6,
    )
    # Queries come from the same clusters as the data but are not in the index.
    rng = np.random.default_rng(args.seed)
    everything = clustered_unit_vectors(
        args.size + args.queries, args.dim, clusters=args.clusters, noise=args.noise, rng=rng
    )
    vectors, queries = everything[: args.size], everything[args.size :]
    article_ids = [str(i) for i in range(args.size)]

    expected, flat_qps = exact_top(vectors, queries, k)
    print(
        f"data: {args.size} x {args.dim} clustered unit vectors ({args.clusters} clusters, "
        f"noise {args.noise}), {args.queries} queries, {args.threads} threads"
    )
    print(f"exact flat search: {flat_qps:,.0f} queries/s")

    for kind in args.kinds.split(","):
        before_mb = _resident_mb()
        started = time.perf_counter()
        index = SimilarityIndex.build(article_ids, vectors, model_version="bench", kind=kind)
        build_s = time.perf_counter() - started
        index_mb = _resident_mb() - before_mb
        print(
            f"{kind}: built in {build_s:.1f} s, {index_mb:,.0f} MB resident for the index "
            f"(peak process {_peak_mb():,.0f} MB), parameters {index.parameters}"
        )
        if kind == "ivf":
            settings = [{"nprobe": int(value)} for value in args.nprobe.split(",")]
        elif kind == "ivfpq":
            settings = [
                {"nprobe": int(nprobe), "k_factor": int(k_factor)}
                for nprobe in args.nprobe.split(",")
                for k_factor in args.k_factor.split(",")
            ]
        elif kind == "hnsw":
            settings = [{"ef_search": int(value)} for value in args.ef_search.split(",")]
        else:
            settings = [{}]
        for setting in settings:
            index.set_search_parameters(**setting)
            index.search(queries[:50], k)
            started = time.perf_counter()
            found = index.search(queries, k)
            qps = len(queries) / (time.perf_counter() - started)
            recall = recall_at_k(found, expected, k)
            print(f"  {setting or 'exact'}: recall@10 {recall:.3f}, {qps:,.0f} queries/s")
        del index


if __name__ == "__main__":
    main()
