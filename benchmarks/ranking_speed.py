"""Time scoring every item for 1,000 shoppers: one matrix product against LightFM's `predict`.

Run from the repository root on a data directory with a catalog, an index and purchases:

    MILLINER_HOME=/path/to/home .venv/bin/python benchmarks/ranking_speed.py

The script fits the hybrid LightFM model (identity, attribute and visual-cluster
item features) on every purchase, then ranks all items for the same shoppers
twice: with `LightFM.predict` called once per shopper over every item and a
sort, and with `RankerModel.score_items` (a batched matrix product) plus the
partial sort of `recsys.recommend.top_k_columns`. It
prints both timings, the speed-up measured in the same run, and how many of the
top-12 lists are identical.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

# Both paths run on one thread, like LightFM's predict with --threads 1. The
# BLAS thread count is read when numpy loads, so it is set before the import.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import torch

# Running the file directly puts benchmarks/ on sys.path, not the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from catalog.db import create_db_engine
from catalog.indexing import load_item_embeddings
from catalog.settings import Settings
from recsys.data import build_item_features, load_items, load_purchases
from recsys.ranker import TrainingConfig, fit_lightfm, ranker_from_fit
from recsys.recommend import top_k_columns
from recsys.similarity import SimilarityIndex


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shoppers", type=int, default=1000, help="shoppers to rank for")
    parser.add_argument("--k", type=int, default=12, help="list length compared")
    parser.add_argument("--batch", type=int, default=256, help="shoppers per matrix product")
    parser.add_argument("--threads", type=int, default=1, help="LightFM predict threads")
    args = parser.parse_args()
    torch.set_num_threads(1)

    settings = Settings.from_env()
    engine = create_db_engine(settings.database_url)
    index = SimilarityIndex.load(settings.index_dir)
    article_ids, vectors = load_item_embeddings(engine, index.model_version)
    config = TrainingConfig(epochs=10, components=48)
    features = build_item_features(load_items(engine), article_ids, vectors, seed=config.seed)
    fit = fit_lightfm(load_purchases(engine), features, config=config)
    ranker = ranker_from_fit(fit, config=config)
    engine.dispose()

    shoppers = fit.user_ids[: args.shoppers]
    n_items = len(fit.item_ids)
    print(f"data: {settings.home}, {len(shoppers)} shoppers x {n_items} items, k={args.k}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")

    # LightFM's pairwise predict: one call per shopper over every item, then a
    # full stable sort of that shopper's scores.
    all_items = np.arange(n_items, dtype=np.int32)
    started = time.perf_counter()
    loop_top = np.empty((len(shoppers), args.k), dtype=np.int64)
    for row in range(len(shoppers)):
        users = np.full(n_items, row, dtype=np.int32)
        predicted = fit.model.predict(
            users, all_items, item_features=fit.item_features, num_threads=args.threads
        )
        loop_top[row] = np.argsort(-predicted, kind="stable")[: args.k]
    loop_seconds = time.perf_counter() - started

    # The serving path: batched matrix product and partial sort.
    started = time.perf_counter()
    tops = []
    for start in range(0, len(shoppers), args.batch):
        scores = ranker.score_items(shoppers[start : start + args.batch])
        tops.append(top_k_columns(scores, args.k))
    matrix_top = np.concatenate(tops)
    matrix_seconds = time.perf_counter() - started

    identical = int((loop_top == matrix_top).all(axis=1).sum())
    same_sets = sum(
        set(a) == set(b) for a, b in zip(loop_top.tolist(), matrix_top.tolist(), strict=True)
    )
    print(f"LightFM predict loop : {loop_seconds:8.3f} s")
    print(f"matrix product + top : {matrix_seconds:8.3f} s")
    print(f"speed-up             : {loop_seconds / matrix_seconds:8.1f}x")
    print(f"identical top-{args.k} lists: {identical}/{len(shoppers)} (same sets: {same_sets})")


if __name__ == "__main__":
    main()
