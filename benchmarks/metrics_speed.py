"""Time recsys.metrics.evaluate_lists against a plain Python loop on synthetic lists.

Run from the repository root:

    .venv/bin/python benchmarks/metrics_speed.py

For each k, the script times evaluate_lists on all shoppers and on a subset, and the
reference loop on the same subset, taking the best of --repeats runs each. It checks that
both give the same values and prints the per-shopper speed-up. Item ids are 10-digit strings like
H&M article ids. Each shopper buys 1 to 5 items, about half of them from its own list.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Collection, Sequence
from functools import partial
from pathlib import Path

import numpy as np

# Running the file directly puts benchmarks/ on sys.path, not the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys.metrics import evaluate_lists


def make_lists(
    n_shoppers: int, k: int, catalog_size: int, seed: int
) -> tuple[list[list[str]], list[set[str]]]:
    """Draw k distinct items per shopper and 1 to 5 bought items per shopper."""
    rng = np.random.default_rng(seed)
    item_ids = np.array([f"{i:010d}" for i in range(catalog_size)], dtype=object)

    # A sorted draw with replacement from [0, catalog_size - k] plus 0..k-1 is strictly
    # increasing, so each row contains k distinct items. Shuffling each row then
    # randomises their ranks.
    draws = np.sort(rng.integers(0, catalog_size - k + 1, size=(n_shoppers, k)), axis=1)
    codes = rng.permuted(draws + np.arange(k), axis=1)
    recommended: list[list[str]] = item_ids[codes].tolist()

    n_bought = rng.integers(1, 6, size=n_shoppers)
    from_list = rng.random(size=(n_shoppers, 5)) < 0.5
    list_positions = rng.integers(0, k, size=(n_shoppers, 5))
    other_items = rng.integers(0, catalog_size, size=(n_shoppers, 5))
    relevant: list[set[str]] = []
    for shopper in range(n_shoppers):
        bought = set()
        for slot in range(n_bought[shopper]):
            if from_list[shopper, slot]:
                bought.add(recommended[shopper][list_positions[shopper, slot]])
            else:
                bought.add(item_ids[other_items[shopper, slot]])
        relevant.append(bought)
    return recommended, relevant


def reference_metrics(
    recommended: Sequence[Sequence[str]], relevant: Sequence[Collection[str]], k: int
) -> dict[str, np.ndarray]:
    """Compute the five metrics of evaluate_lists with one plain loop per shopper."""
    columns: dict[str, list[float]] = {
        "map": [],
        "recall": [],
        "precision": [],
        "ndcg": [],
        "hit_rate": [],
    }
    for items, bought in zip(recommended, relevant, strict=True):
        bought_set = set(bought)
        hits = 0
        precision_sum = 0.0
        dcg = 0.0
        for rank, item in enumerate(items[:k], start=1):
            if item in bought_set:
                hits += 1
                precision_sum += hits / rank
                dcg += 1.0 / math.log2(rank + 1)
        n_ideal = min(len(bought_set), k)
        ideal_dcg = sum(1.0 / math.log2(rank + 1) for rank in range(1, n_ideal + 1))
        columns["map"].append(precision_sum / n_ideal)
        columns["recall"].append(hits / len(bought_set))
        columns["precision"].append(hits / k)
        columns["ndcg"].append(dcg / ideal_dcg)
        columns["hit_rate"].append(1.0 if hits else 0.0)
    return {name: np.asarray(values) for name, values in columns.items()}


def best_time(function: Callable[[], object], repeats: int) -> float:
    """Return the shortest wall-clock time in seconds over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shoppers", type=int, default=100_000, help="number of shoppers for evaluate_lists"
    )
    parser.add_argument(
        "--subset",
        type=int,
        default=2_000,
        help="number of leading shoppers for both implementations",
    )
    parser.add_argument(
        "--catalog", type=int, default=100_000, help="number of items in the synthetic catalog"
    )
    parser.add_argument(
        "--ks", type=int, nargs="+", default=[12, 100], help="cut-offs k to time, one data set each"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed runs per measurement, the fastest is printed"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed of the synthetic data")
    args = parser.parse_args()

    print(
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"{platform.machine()}, {os.cpu_count()} logical CPUs"
    )
    for k in args.ks:
        recommended, relevant = make_lists(args.shoppers, k, args.catalog, args.seed)
        subset_recommended = recommended[: args.subset]
        subset_relevant = relevant[: args.subset]

        full_seconds = best_time(partial(evaluate_lists, recommended, relevant, k=k), args.repeats)
        subset_seconds = best_time(
            partial(evaluate_lists, subset_recommended, subset_relevant, k=k), args.repeats
        )
        reference_seconds = best_time(
            partial(reference_metrics, subset_recommended, subset_relevant, k), args.repeats
        )

        actual = evaluate_lists(subset_recommended, subset_relevant, k=k)
        expected = reference_metrics(subset_recommended, subset_relevant, k)
        max_difference = max(np.max(np.abs(actual[name] - expected[name])) for name in expected)

        full_per_shopper = full_seconds / len(recommended)
        subset_per_shopper = subset_seconds / len(subset_recommended)
        reference_per_shopper = reference_seconds / len(subset_recommended)
        print(f"k={k}")
        print(
            f"  evaluate_lists, {len(recommended):,} shoppers: {full_seconds:.3f} s "
            f"({1e6 * full_per_shopper:.2f} us per shopper)"
        )
        print(
            f"  evaluate_lists, {len(subset_recommended):,} shoppers: {subset_seconds:.4f} s "
            f"({1e6 * subset_per_shopper:.2f} us per shopper)"
        )
        print(
            f"  reference loop, {len(subset_recommended):,} shoppers: {reference_seconds:.4f} s "
            f"({1e6 * reference_per_shopper:.2f} us per shopper)"
        )
        print(
            "  per-shopper speed-up over the loop: "
            f"{reference_per_shopper / full_per_shopper:.1f}x for the full run, "
            f"{reference_per_shopper / subset_per_shopper:.1f}x on the same subset"
        )
        print(f"  largest difference from the loop on the subset: {max_difference:.2e}")


if __name__ == "__main__":
    main()
