"""The batch indexing job on real H&M photos: incremental, resumable, tolerant of bad files."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from PIL import Image, ImageOps
from sqlalchemy import Engine, delete, func, select

from catalog import db
from catalog.db import session_scope
from catalog.importer import import_articles
from catalog.indexing import index_images
from catalog.settings import Settings
from catalog.tables import Embedding, Item, ItemImage
from classifier.embedder import ImageEmbedder
from recsys.errors import ArtifactMissingError
from recsys.jobs import run_indexing
from recsys.similarity import SimilarityIndex

# Small batches so that a run commits many times and a kill lands between commits.
_BATCH_SIZE = 4
_KILL_CATALOG_SIZE = 40


def make_catalog(hm_slice: Path, target: Path, count: int, *, copy_images: bool) -> Path:
    """Write a catalog directory with the first `count` articles of `hm_slice`.

    Images are copied when a test changes them, else linked.
    """
    target.mkdir(parents=True)
    with (hm_slice / "articles.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [next(reader) for _ in range(count)]
    with (target / "articles.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    (target / "images").mkdir()
    for row in rows:
        source = (hm_slice / "images" / f"{row[0]}.jpg").resolve()
        destination = target / "images" / f"{row[0]}.jpg"
        if copy_images:
            shutil.copyfile(source, destination)
        else:
            destination.symlink_to(source)
    return target


def import_into(settings: Settings, catalog_dir: Path) -> Engine:
    """Migrate the database of `settings` and import the articles and photos of `catalog_dir`."""
    db.upgrade(settings.database_url)
    engine = db.create_db_engine(settings.database_url)
    import_articles(engine, catalog_dir / "articles.csv", catalog_dir / "images")
    return engine


def _settings(home: Path) -> Settings:
    return Settings(home=home, database_url=f"sqlite:///{home / 'milliner.db'}")


def _embedding_count(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(session.scalar(select(func.count()).select_from(Embedding)) or 0)


@pytest.fixture(scope="module")
def embedder() -> ImageEmbedder:
    return ImageEmbedder(batch_size=_BATCH_SIZE, precision="fp32", device="cpu")


@pytest.fixture
def catalog(hm_slice: Path, tmp_path: Path) -> Iterator[tuple[Settings, Engine, Path]]:
    """A migrated catalog of 8 articles with copies of their photos."""
    settings = _settings(tmp_path / "home")
    catalog_dir = make_catalog(hm_slice, tmp_path / "catalog", 8, copy_images=True)
    engine = import_into(settings, catalog_dir)
    yield settings, engine, catalog_dir
    engine.dispose()


def test_second_run_does_nothing(
    catalog: tuple[Settings, Engine, Path], embedder: ImageEmbedder
) -> None:
    _, engine, _ = catalog
    first = index_images(engine, embedder)
    with session_scope(engine) as session:
        rows_before = sorted(session.execute(select(Embedding.id, Embedding.image_id)).all())

    second = index_images(engine, embedder)
    with session_scope(engine) as session:
        rows_after = sorted(session.execute(select(Embedding.id, Embedding.image_id)).all())

    assert first.processed == 8
    assert second.processed == 0
    assert second.skipped == 8
    assert second.failures == []
    assert rows_after == rows_before


def test_second_job_publishes_no_new_version(catalog: tuple[Settings, Engine, Path]) -> None:
    settings, engine, _ = catalog
    run_indexing(engine, settings, batch_size=_BATCH_SIZE, precision="fp32")
    pointer = settings.index_dir / "CURRENT"
    first_version = pointer.read_text(encoding="utf-8")
    versions = sorted(path.name for path in settings.index_dir.iterdir())

    summary, index = run_indexing(engine, settings, batch_size=_BATCH_SIZE, precision="fp32")

    assert summary.processed == 0
    assert pointer.read_text(encoding="utf-8") == first_version
    assert sorted(path.name for path in settings.index_dir.iterdir()) == versions
    assert len(index) == 8
    with session_scope(engine) as session:
        session.execute(delete(Item).where(Item.article_id == index.article_ids[0]))
    run_indexing(engine, settings, batch_size=_BATCH_SIZE, precision="fp32")
    assert pointer.read_text(encoding="utf-8") != first_version


def test_job_with_nothing_to_embed_skips_export(
    catalog: tuple[Settings, Engine, Path], caplog: pytest.LogCaptureFixture
) -> None:
    settings, engine, _ = catalog
    run_indexing(engine, settings, batch_size=_BATCH_SIZE, precision="fp32", runtime="onnxruntime")
    caplog.clear()

    with caplog.at_level("INFO"):
        summary, _ = run_indexing(
            engine, settings, batch_size=_BATCH_SIZE, precision="fp32", runtime="onnxruntime"
        )

    assert summary.processed == 0
    assert "the network runs in onnxruntime" in caplog.text
    assert "exported the backbone to ONNX" not in caplog.text


@pytest.mark.parametrize(
    ("device", "message"),
    [("gpu", "invalid device 'gpu'"), ("cuda", "torch finds no CUDA GPU, so use --device cpu")],
)
def test_unusable_device_is_rejected(
    catalog: tuple[Settings, Engine, Path], device: str, message: str
) -> None:
    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present, so cuda is a usable device here")
    settings, engine, _ = catalog

    with pytest.raises(ValueError, match=message):
        run_indexing(engine, settings, batch_size=_BATCH_SIZE, device=device)

    assert not (settings.index_dir / "CURRENT").exists()


def test_changed_photo_is_embedded_again(
    catalog: tuple[Settings, Engine, Path], embedder: ImageEmbedder
) -> None:
    _, engine, catalog_dir = catalog
    index_images(engine, embedder)
    changed = sorted((catalog_dir / "images").iterdir())[3]
    with Image.open(changed) as image:
        ImageOps.mirror(image).save(changed, quality=90)
    import_articles(engine, catalog_dir / "articles.csv", catalog_dir / "images")

    summary = index_images(engine, embedder)

    assert summary.processed == 1
    assert summary.skipped == 7
    assert _embedding_count(engine) == 8


def test_new_model_version_embeds_every_photo(
    catalog: tuple[Settings, Engine, Path], embedder: ImageEmbedder
) -> None:
    _, engine, _ = catalog
    index_images(engine, embedder)
    bf16 = ImageEmbedder(batch_size=_BATCH_SIZE, precision="bf16", device="cpu")

    summary = index_images(engine, bf16)

    assert bf16.model_version != embedder.model_version
    assert summary.processed == 8
    assert _embedding_count(engine) == 16


def test_corrupt_photo_is_listed_and_others_indexed(
    catalog: tuple[Settings, Engine, Path], embedder: ImageEmbedder
) -> None:
    _, engine, catalog_dir = catalog
    corrupt = sorted((catalog_dir / "images").iterdir())[5]
    corrupt.write_bytes(corrupt.read_bytes()[:600])
    import_articles(engine, catalog_dir / "articles.csv", catalog_dir / "images")

    summary = index_images(engine, embedder)

    assert summary.processed == 7
    assert len(summary.failures) == 1
    failed_path, reason = summary.failures[0]
    assert Path(failed_path).name == corrupt.name
    assert reason


def test_removed_items_leave_the_published_index(
    catalog: tuple[Settings, Engine, Path], embedder: ImageEmbedder
) -> None:
    settings, engine, _ = catalog
    _, first = run_indexing(engine, settings, batch_size=_BATCH_SIZE, precision="fp32")
    deleted_item, photo_removed = first.article_ids[0], first.article_ids[1]
    with session_scope(engine) as session:
        session.execute(delete(Item).where(Item.article_id == deleted_item))
        session.execute(delete(ItemImage).where(ItemImage.article_id == photo_removed))

    summary, second = run_indexing(engine, settings, batch_size=_BATCH_SIZE, precision="fp32")
    published = SimilarityIndex.load(settings.index_dir)

    assert summary.processed == 0
    assert len(first) == 8
    assert deleted_item not in published
    assert photo_removed not in published
    assert len(published) == 6
    assert published.article_ids == second.article_ids


@pytest.mark.slow
def test_killed_job_resumes_without_duplicates(hm_slice: Path, tmp_path: Path) -> None:
    settings = _settings(tmp_path / "home")
    catalog_dir = make_catalog(
        hm_slice, tmp_path / "catalog", _KILL_CATALOG_SIZE, copy_images=False
    )
    engine = import_into(settings, catalog_dir)
    command = [
        str(Path(sys.executable).with_name("milliner")),
        "--home",
        str(settings.home),
        "--no-progress",
        "index",
        "--batch-size",
        str(_BATCH_SIZE),
        "--precision",
        "fp32",
        "--device",
        "cpu",
    ]
    environment = {**os.environ, "MILLINER_DATABASE_URL": settings.database_url}

    # Kill the job with SIGKILL once a few batches are committed.
    job = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    committed = 0
    while time.monotonic() < deadline and job.poll() is None:
        committed = _embedding_count(engine)
        if committed >= 2 * _BATCH_SIZE:
            break
        time.sleep(0.05)
    still_running = job.poll() is None
    job.send_signal(signal.SIGKILL)
    job.wait(timeout=30)
    after_kill = _embedding_count(engine)
    # The job was killed while embedding, before it published anything.
    with pytest.raises(ArtifactMissingError):
        SimilarityIndex.load(settings.index_dir)

    rerun = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=300)

    assert still_running, "the job ended before it could be killed; use a larger catalog"
    assert committed >= 2 * _BATCH_SIZE
    assert after_kill < _KILL_CATALOG_SIZE
    assert rerun.returncode == 0, rerun.stderr
    assert f"skipped {after_kill} up to date" in rerun.stdout
    with session_scope(engine) as session:
        total = session.scalar(select(func.count()).select_from(Embedding))
        distinct = session.scalar(
            select(func.count()).select_from(
                select(Embedding.image_id, Embedding.model_version).distinct().subquery()
            )
        )
        images = session.scalar(select(func.count()).select_from(ItemImage))
    assert total == _KILL_CATALOG_SIZE
    assert distinct == _KILL_CATALOG_SIZE
    assert images == _KILL_CATALOG_SIZE
    assert len(SimilarityIndex.load(settings.index_dir)) == _KILL_CATALOG_SIZE
    engine.dispose()
