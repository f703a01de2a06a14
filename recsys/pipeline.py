"""The quickstart: every job in order on one catalog directory, with timings."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from catalog import db
from catalog.importer import import_catalog
from catalog.queries import get_items, image_paths
from catalog.settings import Settings
from classifier.taxonomy import type_from_product_type
from recsys.data import load_items, load_purchases
from recsys.evaluation import EvaluationResult, evaluate_rankers
from recsys.jobs import run_indexing, run_training
from recsys.ranker import RankerModel, TrainingConfig
from recsys.recommend import BlendWeights
from recsys.reporting import (
    GalleryItem,
    ShopperGallery,
    SimilarGallery,
    head_attire_trends,
    write_report,
)
from recsys.similarity import SimilarityIndex

__all__ = [
    "QuickstartResult",
    "run_evaluation",
    "run_quickstart",
    "shopper_galleries",
    "showcase_customer",
    "showcase_item",
    "similar_gallery",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class QuickstartResult:
    """Outputs of one quickstart run, and the wall time of each step in seconds."""

    report_html: Path
    report_json: Path
    example_customer: str | None
    example_item: str | None
    timings: dict[str, float] = field(default_factory=dict)
    # Whether a trained classifier was published, so that indexing used it.
    with_classifier: bool = False


def _timed(timings: dict[str, float], step: str, work: Callable[[], T]) -> T:
    started = time.perf_counter()
    logger.info("step %s: started", step)
    result = work()
    timings[step] = time.perf_counter() - started
    logger.info("step %s: done in %.1f s", step, timings[step])
    return result


def showcase_item(
    index: SimilarityIndex, items: pd.DataFrame, purchases: pd.DataFrame
) -> str | None:
    """Return the best-selling indexed head-attire item.

    Falls back to the best-selling indexed item when no head-attire item sold,
    and to the first indexed item when nothing sold; None for an empty index.
    """
    sales = purchases["article_id"].value_counts()
    indexed = [a for a in sales.index if a in index and a in items.index]
    head_attire = [
        a for a in indexed if type_from_product_type(items.at[a, "product_type"]) != "none"
    ]
    candidates = head_attire or indexed or list(index.article_ids)
    return str(candidates[0]) if candidates else None


def showcase_customer(ranker: RankerModel, purchases: pd.DataFrame) -> str | None:
    """Return the shopper with the most purchases that the ranker learned from."""
    known = purchases.loc[purchases["customer_id"].map(ranker.knows_customer)]
    if known.empty:
        return None
    return str(known["customer_id"].value_counts().idxmax())


def _gallery_items(
    engine: Engine, article_ids: list[str], hits: set[str] | None = None
) -> dict[str, GalleryItem]:
    with Session(engine) as session:
        items = get_items(session, article_ids=article_ids)
        photos = image_paths(session, article_ids=article_ids)
    gallery: dict[str, GalleryItem] = {}
    for identifier in article_ids:
        item = items.get(identifier)
        photo = photos.get(identifier)
        gallery[identifier] = GalleryItem(
            article_id=identifier,
            name=item.name if item else "",
            product_type=item.product_type if item else "",
            image_path=Path(photo) if photo else None,
            hit=hits is not None and identifier in hits,
        )
    return gallery


def similar_gallery(
    engine: Engine, index: SimilarityIndex, article_id: str, k: int = 12
) -> SimilarGallery:
    """Return an item and its `k` nearest items, with their photos, for the report."""
    neighbours = index.similar_items(article_id, k)
    pictures = _gallery_items(engine, [article_id] + [other for other, _ in neighbours])
    return SimilarGallery(
        query=pictures[article_id],
        neighbours=[replace(pictures[other], score=score) for other, score in neighbours],
    )


def shopper_galleries(
    engine: Engine, result: EvaluationResult, *, count: int = 3, ranker: str = "blend"
) -> list[ShopperGallery]:
    """Pick up to `count` returning shoppers and show their history and every ranker's list.

    Shoppers whose `ranker` list has a hit come first, head-attire buyers
    among them first, then those with the longest history; ties go by id.
    """
    if not result.rankers:
        return []
    lists = {scores.name: scores.recommendations for scores in result.rankers}
    chosen_lists = lists.get(ranker) or next(iter(lists.values()))
    history = result.train.groupby("customer_id")["article_id"].agg(list)
    bought_after = result.test.groupby("customer_id")["article_id"].agg(list)
    items = load_items(engine)
    head = {
        str(a)
        for a, product_type in items["product_type"].items()
        if type_from_product_type(product_type) != "none"
    }

    def rank(customer_id: str) -> tuple[int, int, int, str]:
        after = set(bought_after[customer_id])
        hits = len(after & set(chosen_lists.get(customer_id, [])))
        return (-int(hits > 0), -int(bool(after & head)), -len(history[customer_id]), customer_id)

    returning = sorted((s for s in result.shoppers if s in history.index), key=rank)[:count]
    galleries: list[ShopperGallery] = []
    for customer_id in returning:
        past = list(dict.fromkeys(history[customer_id]))[-12:]
        after = list(dict.fromkeys(bought_after[customer_id]))
        shown = list(
            dict.fromkeys(past + after + [a for ls in lists.values() for a in ls[customer_id]])
        )
        pictures = _gallery_items(engine, shown, hits=set(after))
        galleries.append(
            ShopperGallery(
                customer_id=customer_id,
                history=[replace(pictures[a], hit=False) for a in past],
                bought_after_cut=[pictures[a] for a in after],
                lists={name: [pictures[a] for a in ls[customer_id]] for name, ls in lists.items()},
            )
        )
    return galleries


def run_evaluation(
    engine: Engine,
    settings: Settings,
    *,
    cut: dt.date | None = None,
    test_days: int | None = None,
    k: int = 12,
    config: TrainingConfig | None = None,
    weights: BlendWeights | None = None,
    gallery_item: str | None = None,
    progress: bool = False,
) -> tuple[EvaluationResult, Path, Path]:
    """Evaluate the rankers on a time split and write the report under `reports/`.

    Without `cut` and `test_days`, the test window follows `default_test_days`.

    Raises:
        ArtifactMissingError: no similarity index was published.
        ValueError: the split leaves no training or test purchases.
    """
    index = SimilarityIndex.load(settings.index_dir)
    result = evaluate_rankers(
        engine,
        index,
        cut=cut,
        test_days=test_days,
        k=k,
        config=config,
        weights=weights,
        progress=progress,
    )
    result.training["embedding_model_version"] = index.model_version
    items = load_items(engine)
    purchases = load_purchases(engine)
    if gallery_item is None:
        gallery_item = showcase_item(index, items, purchases)
    similar = similar_gallery(engine, index, gallery_item, k) if gallery_item else None
    shoppers = shopper_galleries(engine, result)
    period, trends = head_attire_trends(purchases, items)
    html_path, json_path = write_report(
        result, similar, shoppers, trends, period, settings.reports_dir / f"cut-{result.cut}"
    )
    return result, html_path, json_path


def run_quickstart(
    settings: Settings,
    data_dir: Path,
    *,
    batch_size: int = 32,
    config: TrainingConfig | None = None,
    progress: bool = True,
) -> QuickstartResult:
    """Migrate, import, index, train and evaluate on one catalog directory."""
    settings.ensure_dirs()
    timings: dict[str, float] = {}
    engine = db.create_db_engine(settings.database_url)
    try:
        _timed(timings, "db upgrade", lambda: db.upgrade(settings.database_url))
        _timed(timings, "import", lambda: import_catalog(engine, data_dir, progress=progress))
        _, index = _timed(
            timings,
            "index",
            lambda: run_indexing(engine, settings, batch_size=batch_size, progress=progress),
        )
        ranker = _timed(
            timings,
            "train",
            lambda: run_training(engine, settings, config=config, progress=progress),
        )
        purchases = load_purchases(engine)
        customer = showcase_customer(ranker, purchases)
        item = showcase_item(index, load_items(engine), purchases)
        _, html_path, json_path = _timed(
            timings,
            "evaluate",
            lambda: run_evaluation(
                engine, settings, config=config, gallery_item=item, progress=progress
            ),
        )
    finally:
        engine.dispose()
    return QuickstartResult(
        report_html=html_path,
        report_json=json_path,
        example_customer=customer,
        example_item=item,
        timings=timings,
        with_classifier=(settings.models_dir / "classifier" / "CURRENT").is_file(),
    )
