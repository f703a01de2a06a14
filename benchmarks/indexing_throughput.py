"""Indexing throughput on real product photos: the naive loop against `milliner index`.

In one run, on the same images, this measures:

1. the naive loop: decode each photo in full with PIL and letterbox it in the
   main thread, then run a torch fp32 forward pass per batch, with no overlap;
2. `recsys.jobs.run_indexing` end to end (decode, labels and embedding,
   catalog writes, index build and atomic publish) once per requested path:
   torch fp32, ONNX Runtime fp32, torch bf16. Each path indexes its own
   fresh catalog, so none of them skips work another one did;
3. each stage alone: threaded decoding, and the forward pass of each
   runtime on decoded images.

It prints images/s, the ratio of each path to the naive loop, and the share
of each job's time spent embedding (decode, forward and writes overlap there)
and publishing the index. Every path's vectors are compared with the torch
fp32 ones (cosine per image), and with `--classifier` its labels too (share
of images whose four labels all agree).

Run:
    .venv/bin/python benchmarks/indexing_throughput.py --images ../shared/data/hm-2y \\
        --limit 2000 --repeat 2 --classifier HOME/models/classifier
"""

from __future__ import annotations

import argparse
import csv
import logging
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from catalog import db
from catalog.db import session_scope
from catalog.importer import import_articles
from catalog.indexing import load_item_embeddings
from catalog.queries import item_labels
from catalog.settings import Settings
from classifier.embedder import ImageEmbedder
from classifier.images import load_image
from recsys.jobs import run_indexing

logger = logging.getLogger("indexing_throughput")


def write_catalog(source: Path, target: Path, limit: int) -> int:
    """Write articles.csv and photo links for the first `limit` articles that have a photo."""
    (target / "images").mkdir(parents=True)
    with (source / "articles.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = []
        for row in reader:
            photo = source / "images" / f"{row[0]}.jpg"
            if photo.is_file():
                rows.append(row)
                (target / "images" / photo.name).symlink_to(photo.resolve())
            if len(rows) == limit:
                break
    with (target / "articles.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return len(rows)


def naive_loop(paths: list[Path], batch_size: int) -> tuple[float, float]:
    """Return (decode seconds, forward seconds) of the one-thread fp32 loop."""
    embedder = ImageEmbedder(batch_size=batch_size, precision="fp32", device="cpu")
    decode_s = forward_s = 0.0
    for start in range(0, len(paths), batch_size):
        started = time.perf_counter()
        images = [load_image(path) for path in paths[start : start + batch_size]]
        decoded = time.perf_counter()
        embedder.embed(images)
        decode_s += decoded - started
        forward_s += time.perf_counter() - decoded
    return decode_s, forward_s


def decode_only(paths: list[Path], threads: int, size: int) -> float:
    """Return the seconds to decode `paths` in draft mode with `threads` threads."""
    from concurrent.futures import ThreadPoolExecutor

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(lambda path: load_image(path, draft_size=size), paths))
    return time.perf_counter() - started


def forward_only(paths: list[Path], batch_size: int, precision: str, runtime: str) -> float:
    """Return the images/s of the backbone's forward pass alone on already decoded photos."""
    embedder = ImageEmbedder(
        batch_size=batch_size, precision=precision, device="cpu", runtime=runtime
    )
    images = [load_image(path, draft_size=embedder.preprocessing.size) for path in paths]
    embedder.embed(images[:batch_size])
    started = time.perf_counter()
    for start in range(0, len(images), batch_size):
        embedder.embed(images[start : start + batch_size])
    return len(images) / (time.perf_counter() - started)


@dataclass
class PathResult:
    """One indexing path's figures, vectors and labels."""

    name: str
    total_s: float
    embed_s: float
    processed: int
    article_ids: list[str]
    vectors: np.ndarray
    labels: dict[str, tuple[str, str, str, str]]


def fresh_catalog(root: Path, catalog: Path, classifier: Path | None) -> Settings:
    """Create and fill a new home and SQLite catalog under `root`, with `classifier` published."""
    settings = Settings(home=root / "home", database_url=f"sqlite:///{root / 'catalog.db'}")
    if classifier is not None:
        target = settings.models_dir / "classifier"
        target.parent.mkdir(parents=True)
        shutil.copytree(classifier, target, symlinks=True)
    db.upgrade(settings.database_url)
    engine = db.create_db_engine(settings.database_url)
    import_articles(engine, catalog / "articles.csv", catalog / "images")
    engine.dispose()
    return settings


def indexing_path(
    name: str, root: Path, args: argparse.Namespace, precision: str, runtime: str
) -> PathResult:
    """Index the catalog into a fresh home with one precision and runtime; return its figures."""
    settings = fresh_catalog(root / name, root / "catalog", args.classifier)
    engine = db.create_db_engine(settings.database_url)
    started = time.perf_counter()
    summary, index = run_indexing(
        engine,
        settings,
        batch_size=args.batch_size,
        device="cpu",
        precision=precision,
        runtime=runtime,
    )
    total = time.perf_counter() - started
    article_ids, vectors = load_item_embeddings(engine, index.model_version)
    with session_scope(engine) as session:
        rows = item_labels(session, article_ids=article_ids)
        labels = {
            article_id: (row.type, row.colour, row.pattern, row.material)
            for article_id, row in rows.items()
        }
    engine.dispose()
    return PathResult(name, total, summary.seconds, summary.processed, article_ids, vectors, labels)


def agreement(result: PathResult, reference: PathResult) -> tuple[np.ndarray, float | None]:
    """Return each image's cosine to the reference vector, and the share with equal labels."""
    if result.article_ids != reference.article_ids:
        raise RuntimeError(f"{result.name} and {reference.name} embedded different items")
    similarity = np.sum(result.vectors * reference.vectors, axis=1)
    if not reference.labels:
        return similarity, None
    same = sum(result.labels.get(key) == value for key, value in reference.labels.items())
    return similarity, same / len(reference.labels)


_PATHS = {
    "torch": ("fp32", "torch"),
    "onnxruntime": ("fp32", "onnxruntime"),
    "bf16": ("bf16", "torch"),
}


def one_run(args: argparse.Namespace, repeat: int) -> None:
    with tempfile.TemporaryDirectory(prefix="milliner-throughput-") as scratch:
        root = Path(scratch)
        count = write_catalog(args.images, root / "catalog", args.limit)
        paths = sorted((root / "catalog" / "images").iterdir())

        decode_s, forward_s = naive_loop(paths, args.batch_size)
        naive_rate = count / (decode_s + forward_s)
        results = [indexing_path(name, root, args, *_PATHS[name]) for name in args.paths]
        sample = paths[: args.stage_sample]
        decode_rate = len(sample) / decode_only(sample, 2, 224)
        forward_rates = {
            name: forward_only(sample, args.batch_size, *_PATHS[name]) for name in args.paths
        }

    labelled = "labels + embedding" if args.classifier else "ImageNet embedding, no labels"
    print(
        f"run {repeat + 1}: {count} photos, batch {args.batch_size}, "
        f"{args.threads} threads, {labelled}"
    )
    print(
        f"  naive loop:          {naive_rate:6.1f} images/s "
        f"(decode {decode_s / (decode_s + forward_s):.0%}, forward "
        f"{forward_s / (decode_s + forward_s):.0%})"
    )
    reference = results[0]
    for result in results:
        rate = result.processed / result.total_s
        print(
            f"  milliner {result.name:<11} {rate:6.1f} images/s end to end, "
            f"{rate / naive_rate:.2f}x naive (decode + forward + catalog writes "
            f"{result.embed_s / result.total_s:.0%}, index build and publish "
            f"{(result.total_s - result.embed_s) / result.total_s:.0%})"
        )
        if result is not reference:
            similarity, same_labels = agreement(result, reference)
            line = (
                f"    against {reference.name}: cosine min {similarity.min():.4f}, "
                f"mean {similarity.mean():.4f}, {np.mean(similarity >= 0.99):.1%} of images >= 0.99"
            )
            if same_labels is not None:
                line += f"; all four labels equal on {same_labels:.1%} of images"
            print(line)
    forwards = ", ".join(f"{name} {rate:.1f}" for name, rate in forward_rates.items())
    print(
        f"  stages alone on {len(sample)} photos: draft decode in 2 threads "
        f"{decode_rate:.1f} images/s; backbone forward images/s: {forwards}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--images",
        type=Path,
        required=True,
        help="catalog in the H&M layout (articles.csv, images/)",
    )
    parser.add_argument("--limit", type=int, default=2000, help="photos to index")
    parser.add_argument("--batch-size", type=int, default=32, help="images per forward pass")
    parser.add_argument("--threads", type=int, default=2, help="torch and ONNX Runtime threads")
    parser.add_argument("--repeat", type=int, default=2, help="independent runs")
    parser.add_argument(
        "--stage-sample", type=int, default=256, help="photos for the per-stage measurements"
    )
    parser.add_argument(
        "--paths",
        default="torch,onnxruntime",
        help="comma-separated indexing paths, the first being the reference: "
        f"{', '.join(_PATHS)} (default: torch,onnxruntime)",
    )
    parser.add_argument(
        "--classifier",
        type=Path,
        help="a models/classifier directory with a trained classifier: the jobs then "
        "label photos too (default: ImageNet embeddings, no labels)",
    )
    args = parser.parse_args()
    args.paths = args.paths.split(",")
    unknown = [name for name in args.paths if name not in _PATHS]
    if unknown:
        parser.error(f"unknown paths {unknown}: use {', '.join(_PATHS)}")
    if args.classifier and not (args.classifier / "CURRENT").is_file():
        parser.error(f"{args.classifier} holds no trained classifier (no CURRENT file)")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    for repeat in range(args.repeat):
        one_run(args, repeat)


if __name__ == "__main__":
    main()
