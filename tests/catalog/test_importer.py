"""Importing a catalog in the H&M layout into real SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from catalog import db
from catalog.errors import ImportFileError
from catalog.importer import import_articles, import_catalog, import_purchases
from catalog.tables import Customer, Embedding, Item, ItemImage, Purchase


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    db.upgrade(url)
    engine = db.create_db_engine(url)
    yield engine
    engine.dispose()


def _count(engine: Engine, column: object) -> int:
    with db.session_scope(engine) as session:
        return int(session.scalar(select(func.count(column))) or 0)


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_import_keeps_leading_zeros(engine: Engine, hm_slice: Path) -> None:
    import_catalog(engine, hm_slice)

    expected = {row["article_id"] for row in _csv_rows(hm_slice / "articles.csv")}
    with db.session_scope(engine) as session:
        stored = set(session.scalars(select(Item.article_id)))
    assert stored == expected
    assert any(article_id.startswith("0") for article_id in stored)


def test_import_counts_match_files(engine: Engine, hm_slice: Path) -> None:
    articles, purchases = import_catalog(engine, hm_slice)

    rows = _csv_rows(hm_slice / "transactions.csv")
    assert articles.rejected == []
    assert purchases.rejected == []
    assert _count(engine, Item.article_id) == len(_csv_rows(hm_slice / "articles.csv"))
    assert _count(engine, ItemImage.id) == articles.imported
    assert _count(engine, Purchase.id) == len(rows)
    assert _count(engine, Customer.customer_id) == len({row["customer_id"] for row in rows})


def test_reimport_replaces_purchases(engine: Engine, hm_slice: Path) -> None:
    import_catalog(engine, hm_slice)
    first = _count(engine, Purchase.id)
    _, purchases = import_catalog(engine, hm_slice)

    assert _count(engine, Purchase.id) == first
    assert purchases.details["replaced"] == first
    assert _count(engine, ItemImage.id) == _count(engine, Item.article_id)


def test_unknown_article_rejected_with_line(engine: Engine, hm_slice: Path, tmp_path: Path) -> None:
    import_articles(engine, hm_slice / "articles.csv", hm_slice / "images")
    transactions = tmp_path / "transactions.csv"
    transactions.write_text(
        "t_dat,customer_id,article_id,price,sales_channel_id\n"
        "2020-09-16,abc123,9999999999,0.01,1\n"
        "2020-09-31,abc123,9999999999,0.01,1\n",
        encoding="utf-8",
    )
    summary = import_purchases(engine, transactions)

    assert summary.imported == 0
    assert [row.line for row in summary.rejected] == [2, 3]
    assert "unknown article_id '9999999999'" in summary.rejected[0].reason


def test_invalid_date_rejected(engine: Engine, hm_slice: Path, tmp_path: Path) -> None:
    import_articles(engine, hm_slice / "articles.csv", hm_slice / "images")
    known = _csv_rows(hm_slice / "articles.csv")[0]["article_id"]
    transactions = tmp_path / "transactions.csv"
    transactions.write_text(
        f"t_dat,customer_id,article_id\n16/09/2020,abc,{known}\n2020-09-16,abc,{known}\n",
        encoding="utf-8",
    )
    summary = import_purchases(engine, transactions)

    assert summary.imported == 1
    assert summary.rejected[0].line == 2
    assert "%Y-%m-%d" in summary.rejected[0].reason


def test_missing_column_raises(engine: Engine, tmp_path: Path) -> None:
    transactions = tmp_path / "transactions.csv"
    transactions.write_text("t_dat,article_id\n2020-09-16,0123\n", encoding="utf-8")

    with pytest.raises(ImportFileError, match="customer_id"):
        import_purchases(engine, transactions)


def test_missing_directory_raises(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="not found"):
        import_catalog(engine, tmp_path / "nowhere")


def test_article_without_photo_is_kept(engine: Engine, hm_slice: Path, tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(hm_slice, catalog, symlinks=True)
    article_id = _csv_rows(catalog / "articles.csv")[0]["article_id"]
    (catalog / "images" / f"{article_id}.jpg").unlink()
    articles, _ = import_catalog(engine, catalog)

    assert articles.details["without_image"] == 1
    with db.session_scope(engine) as session:
        assert session.get(Item, article_id) is not None


@pytest.mark.postgres
def test_import_on_postgres(postgres_schema_url: str, hm_slice: Path) -> None:
    db.upgrade(postgres_schema_url)
    engine = db.create_db_engine(postgres_schema_url)
    try:
        import_catalog(engine, hm_slice)
        import_catalog(engine, hm_slice)
        rows = _csv_rows(hm_slice / "transactions.csv")
        assert _count(engine, Purchase.id) == len(rows)
    finally:
        engine.dispose()


def _image_rows(engine: Engine, article_id: str) -> list[tuple[int, str]]:
    with db.session_scope(engine) as session:
        rows = session.execute(
            select(ItemImage.id, ItemImage.path).where(ItemImage.article_id == article_id)
        )
        return [(image_id, path) for image_id, path in rows]


def test_replaced_photo_drops_old_row(engine: Engine, hm_slice: Path, tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(hm_slice, catalog, symlinks=True)
    rows = _csv_rows(catalog / "articles.csv")
    article_id, other_id = rows[0]["article_id"], rows[1]["article_id"]
    import_catalog(engine, catalog)
    [(old_id, _)] = _image_rows(engine, article_id)
    with db.session_scope(engine) as session:
        session.add(
            Embedding(image_id=old_id, model_version="m", image_sha256="x", dim=1, vector=b"\0" * 4)
        )

    # The same article now has a PNG of another product: a different file and path.
    (catalog / "images" / f"{article_id}.jpg").unlink()
    shutil.copyfile(
        catalog / "images" / f"{other_id}.jpg", catalog / "images" / f"{article_id}.png"
    )
    articles, _ = import_catalog(engine, catalog)

    [(new_id, new_path)] = _image_rows(engine, article_id)
    assert new_id != old_id
    assert new_path.endswith(f"{article_id}.png")
    assert articles.details["changed_images"] == 1
    assert articles.details["new_images"] == 0
    assert _count(engine, Embedding.id) == 0


def test_deleted_photo_drops_old_row(engine: Engine, hm_slice: Path, tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(hm_slice, catalog, symlinks=True)
    article_id = _csv_rows(catalog / "articles.csv")[0]["article_id"]
    import_catalog(engine, catalog)
    images_before = _count(engine, ItemImage.id)

    (catalog / "images" / f"{article_id}.jpg").unlink()
    articles, _ = import_catalog(engine, catalog)

    assert _image_rows(engine, article_id) == []
    assert articles.details["removed_images"] == 1
    assert articles.details["without_image"] == 1
    assert _count(engine, ItemImage.id) == images_before - 1
