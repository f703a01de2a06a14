"""Retraining after new items and purchases: new items enter through their features."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np

from catalog import db
from catalog.importer import import_catalog
from catalog.settings import Settings
from recsys.data import load_items, load_purchases
from recsys.jobs import run_indexing, run_training
from recsys.pipeline import QuickstartResult
from recsys.ranker import TrainingConfig
from recsys.recommend import Recommender
from recsys.similarity import SimilarityIndex

NEW_CUSTOMER = "retraining-test-customer"


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        return next(reader), list(reader)


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def test_train_learns_new_items_and_purchases(
    pipeline_settings: Settings,
    pipeline_run: QuickstartResult,
    hm_slice: Path,
    shared_data: Path,
    tmp_path: Path,
) -> None:
    # A copy of the pipeline's home, so the shared run stays untouched.
    home = tmp_path / "home"
    shutil.copytree(pipeline_settings.home, home)
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'milliner.db'}")

    # Two head-attire articles that the slice lacks, and a purchase of a slice item.
    header, articles = _rows(shared_data / "hm-week" / "articles.csv")
    in_slice = {row[0] for row in _rows(hm_slice / "articles.csv")[1]}
    type_column = header.index("product_type_name")
    new_rows = [r for r in articles if r[0] not in in_slice and r[type_column] == "Hat/beanie"][:2]
    new_ids = {row[0] for row in new_rows}
    update = tmp_path / "update"
    (update / "images").mkdir(parents=True)
    _write(update / "articles.csv", header, new_rows)
    for article_id in new_ids:
        (update / "images" / f"{article_id}.jpg").symlink_to(
            shared_data / "hm-week" / "images" / f"{article_id}.jpg"
        )
    bought = next(iter(in_slice))
    _write(
        update / "transactions.csv",
        ["t_dat", "customer_id", "article_id", "price", "sales_channel_id"],
        [["2020-09-21", NEW_CUSTOMER, bought, "0.02", "2"]],
    )

    engine = db.create_db_engine(settings.database_url)
    try:
        import_catalog(engine, update)
        summary, _ = run_indexing(engine, settings, batch_size=4)
        ranker = run_training(
            engine, settings, config=TrainingConfig(epochs=3, components=8, threads=1)
        )
        recommender = Recommender.from_artifacts(
            ranker,
            SimilarityIndex.load(settings.index_dir),
            load_items(engine),
            load_purchases(engine),
        )
    finally:
        engine.dispose()

    assert summary.processed == 2
    assert new_ids <= set(ranker.item_ids)
    assert ranker.knows_customer(NEW_CUSTOMER)
    columns = [ranker.item_column(article_id) for article_id in new_ids]
    assert all(column is not None for column in columns)
    assert np.abs(ranker.item_factors[columns]).sum() > 0
    beanies = recommender.recommend(NEW_CUSTOMER, 100, product_type="Hat/beanie")
    assert new_ids <= {item.article_id for item in beanies.items}
