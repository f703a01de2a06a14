"""Indexing throughput on real product photos: the naive loop against `milliner index`.

In one run, on the same images, this measures:

1. the naive loop: decode each photo in full with PIL and letterbox it in the
   main thread, then run an fp32 forward pass per batch, with no overlap;
2. `recsys.jobs.run_indexing` end to end (decode, embedding, catalog writes,
   index build and atomic publish) in fp32, then in bf16;
3. each stage alone: threaded draft-mode decoding, and the bf16 forward pass
   on decoded images.

It prints images/s and the ratio of each path to the naive loop. It also
prints the share of the job's time spent embedding (decode and forward
overlap there) and publishing the index, and the cosine between the bf16
and fp32 vector of each image. No trained classifier is configured, so no labels are
compared.

Run:
    .venv/bin/python benchmarks/indexing_throughput.py --images ../shared/data/hm-2y \\
        --limit 2000 --repeat 2
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from catalog import db
from catalog.importer import import_articles
from catalog.indexing import load_item_embeddings
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


def forward_only(paths: list[Path], batch_size: int, precision: str) -> float:
    """Return the images/s of the forward pass alone on already decoded photos."""
    embedder = ImageEmbedder(batch_size=batch_size, precision=precision, device="cpu")
    images = [load_image(path, draft_size=embedder.preprocessing.size) for path in paths]
    embedder.embed(images[:batch_size])
    started = time.perf_counter()
    for start in range(0, len(images), batch_size):
        embedder.embed(images[start : start + batch_size])
    return len(images) / (time.perf_counter() - started)


def indexing_run(
    settings: Settings, batch_size: int, precision: str
) -> tuple[float, float, int, str]:
    """Run the indexing job; return (total seconds, embedding seconds, processed, model version)."""
    engine = db.create_db_engine(settings.database_url)
    started = time.perf_counter()
    summary, index = run_indexing(
        engine, settings, batch_size=batch_size, device="cpu", precision=precision
    )
    total = time.perf_counter() - started
    engine.dispose()
    return total, summary.seconds, summary.processed, index.model_version


def cosines(settings: Settings, first_version: str, second_version: str) -> np.ndarray:
    """Return the cosine between the two versions' vectors of every item that has both."""
    engine = db.create_db_engine(settings.database_url)
    ids_a, vectors_a = load_item_embeddings(engine, first_version)
    ids_b, vectors_b = load_item_embeddings(engine, second_version)
    engine.dispose()
    if ids_a != ids_b:
        raise RuntimeError("the two runs embedded different items")
    return np.sum(vectors_a * vectors_b, axis=1)


def one_run(args: argparse.Namespace, repeat: int) -> None:
    with tempfile.TemporaryDirectory(prefix="milliner-throughput-") as scratch:
        root = Path(scratch)
        count = write_catalog(args.images, root / "catalog", args.limit)
        settings = Settings(home=root / "home", database_url=f"sqlite:///{root / 'catalog.db'}")
        db.upgrade(settings.database_url)
        engine = db.create_db_engine(settings.database_url)
        import_articles(engine, root / "catalog" / "articles.csv", root / "catalog" / "images")
        engine.dispose()
        paths = sorted((root / "catalog" / "images").iterdir())

        decode_s, forward_s = naive_loop(paths, args.batch_size)
        naive_rate = count / (decode_s + forward_s)
        fp32_total, fp32_embed, fp32_count, fp32_version = indexing_run(
            settings, args.batch_size, "fp32"
        )
        bf16_total, bf16_embed, bf16_count, bf16_version = indexing_run(
            settings, args.batch_size, "bf16"
        )
        sample = paths[: args.stage_sample]
        decode_rate = len(sample) / decode_only(sample, 2, 224)
        bf16_forward_rate = forward_only(sample, args.batch_size, "bf16")
        fp32_forward_rate = forward_only(sample, args.batch_size, "fp32")
        similarity = cosines(settings, fp32_version, bf16_version)

    print(f"run {repeat + 1}: {count} photos, batch {args.batch_size}, {args.threads} threads")
    print(
        f"  naive loop:        {naive_rate:6.1f} images/s "
        f"(decode {decode_s / (decode_s + forward_s):.0%}, forward "
        f"{forward_s / (decode_s + forward_s):.0%})"
    )
    for name, total, embed, processed in (
        ("milliner fp32", fp32_total, fp32_embed, fp32_count),
        ("milliner bf16", bf16_total, bf16_embed, bf16_count),
    ):
        rate = processed / total
        print(
            f"  {name}:     {rate:6.1f} images/s end to end, {rate / naive_rate:.2f}x naive "
            f"(decode + forward + catalog writes {embed / total:.0%}, "
            f"index build and publish {(total - embed) / total:.0%})"
        )
    print(
        f"  stages alone on {len(sample)} photos: draft decode in 2 threads "
        f"{decode_rate:.1f} images/s, forward fp32 {fp32_forward_rate:.1f} images/s, "
        f"bf16 {bf16_forward_rate:.1f} images/s"
    )
    print(
        f"  bf16 against fp32 cosine: min {similarity.min():.4f}, mean {similarity.mean():.4f}, "
        f"{np.mean(similarity >= 0.99):.1%} of images >= 0.99"
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
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--repeat", type=int, default=2, help="independent runs")
    parser.add_argument(
        "--stage-sample", type=int, default=256, help="photos for the per-stage measurements"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    for repeat in range(args.repeat):
        one_run(args, repeat)


if __name__ == "__main__":
    main()
