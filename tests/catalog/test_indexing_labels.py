"""Indexing with a trained classifier stores its embedding and the labels of every photo."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from catalog import db
from catalog.importer import import_articles
from catalog.indexing import index_images
from catalog.queries import image_paths, item_cards, item_labels
from catalog.tables import Embedding, Item, ItemImage, ItemLabels
from classifier.predict import HeadAttireClassifier
from classifier.taxonomy import LABEL_SETS
from tests.classifier.tiny_model import tiny_samples, train_tiny_classifier

_ARTICLES = 12


@pytest.fixture(scope="module")
def classifier(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> HeadAttireClassifier:
    root = tmp_path_factory.mktemp("models") / "classifier"
    train_tiny_classifier(shared_data, root)
    return HeadAttireClassifier.load(root, batch_size=5)


@pytest.fixture
def engine(shared_data: Path, tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite catalog with a dozen hm-week articles, head attire among them."""
    source = shared_data / "hm-week"
    wanted = {sample.article_id for sample in tiny_samples(shared_data)[:_ARTICLES]}
    catalog = tmp_path / "catalog"
    (catalog / "images").mkdir(parents=True)
    with (source / "articles.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [row for row in reader if row[0] in wanted]
    with (catalog / "articles.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    for row in rows:
        (catalog / "images" / f"{row[0]}.jpg").symlink_to(source / "images" / f"{row[0]}.jpg")

    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    db.upgrade(url)
    engine = db.create_db_engine(url)
    import_articles(engine, catalog / "articles.csv", catalog / "images")
    yield engine
    engine.dispose()


def test_indexing_stores_labels_and_embeddings(
    engine: Engine, classifier: HeadAttireClassifier
) -> None:
    summary = index_images(engine, classifier)

    assert summary.processed == _ARTICLES
    assert summary.model_version == classifier.model_version
    with Session(engine) as session:
        labels = session.scalars(select(ItemLabels)).all()
        dims = set(session.scalars(select(Embedding.dim)))
    assert len(labels) == _ARTICLES
    assert dims == {classifier.dim}
    for row in labels:
        assert row.model_version == classifier.model_version
        assert row.type in LABEL_SETS["type"]
        assert row.colour in LABEL_SETS["colour"]
        assert row.pattern in LABEL_SETS["pattern"]
        assert row.material in LABEL_SETS["material"]
        assert 0.0 <= row.type_confidence <= 1.0


def test_indexing_again_skips_labelled_photos(
    engine: Engine, classifier: HeadAttireClassifier
) -> None:
    index_images(engine, classifier)
    again = index_images(engine, classifier)

    assert again.processed == 0
    assert again.skipped == _ARTICLES
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(ItemLabels)) == _ARTICLES


def test_item_labels_query_returns_current_labels(
    engine: Engine, classifier: HeadAttireClassifier
) -> None:
    index_images(engine, classifier)
    with Session(engine) as session:
        ids = list(session.scalars(select(ItemLabels.image_id)))
        article_ids = list(
            session.scalars(select(ItemImage.article_id).where(ItemImage.id.in_(ids)))
        )
        found = item_labels(session, article_ids=[*article_ids, "0000000000"])
        other_version = item_labels(session, article_ids=article_ids, model_version="other")

    assert set(found) == set(article_ids)
    assert other_version == {}
    for labels in found.values():
        assert labels.model_version == classifier.model_version


def test_item_cards_agree_with_the_separate_queries(
    engine: Engine, classifier: HeadAttireClassifier
) -> None:
    index_images(engine, classifier)
    with Session(engine) as session:
        article_ids = sorted(session.scalars(select(Item.article_id)))
        changed, photo_removed = article_ids[0], article_ids[1]
        # A photo whose content changed after labelling has no current labels.
        image = session.scalars(select(ItemImage).where(ItemImage.article_id == changed)).one()
        image.sha256 = "0" * 64
        session.execute(ItemImage.__table__.delete().where(ItemImage.article_id == photo_removed))
        session.commit()
        requested = [*article_ids, "0000000000"]

        cards = item_cards(session, article_ids=requested)
        labels = item_labels(session, article_ids=requested)
        photos = image_paths(session, article_ids=requested)

    assert set(cards) == set(article_ids)
    assert {a for a, card in cards.items() if card.has_photo} == set(photos)
    assert {a for a, card in cards.items() if card.labels is not None} == set(labels)
    assert cards[changed].labels is None
    assert not cards[photo_removed].has_photo
    assert cards[photo_removed].labels is None
    for article_id, card in cards.items():
        assert card.item.article_id == article_id
        if card.labels is not None:
            assert card.labels.id == labels[article_id].id
