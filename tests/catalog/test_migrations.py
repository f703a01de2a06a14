"""Migrations run up, down and up again on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from catalog import db

TABLES = {"items", "item_images", "customers", "purchases", "embeddings"}


def _tables(url: str) -> set[str]:
    engine = db.create_db_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _insert_item(url: str, article_id: str) -> None:
    engine = db.create_db_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO items (article_id, name, product_type, product_group, pattern, "
                "colour, department, section, garment_group, description) "
                "VALUES (:id, 'n', 't', 'g', 'p', 'c', 'd', 's', 'gg', 'desc')"
            ),
            {"id": article_id},
        )
    engine.dispose()


def _item_ids(url: str) -> list[str]:
    engine = db.create_db_engine(url)
    with engine.connect() as connection:
        ids = [row[0] for row in connection.execute(text("SELECT article_id FROM items"))]
    engine.dispose()
    return ids


def _round_trip(url: str) -> None:
    db.upgrade(url)
    assert _tables(url) == TABLES
    _insert_item(url, "0123173001")
    assert _item_ids(url) == ["0123173001"]

    db.downgrade(url)
    assert _tables(url) == set()

    db.upgrade(url)
    assert _tables(url) == TABLES
    _insert_item(url, "0123173001")
    assert _item_ids(url) == ["0123173001"]


def test_migrations_round_trip_sqlite(tmp_path: Path) -> None:
    _round_trip(f"sqlite:///{tmp_path / 'catalog.db'}")


@pytest.mark.postgres
def test_migrations_round_trip_postgres(postgres_schema_url: str) -> None:
    _round_trip(postgres_schema_url)


def test_sqlite_engine_uses_wal(tmp_path: Path) -> None:
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.connect() as connection:
        mode = connection.execute(text("PRAGMA journal_mode")).scalar()
        timeout = connection.execute(text("PRAGMA busy_timeout")).scalar()
    engine.dispose()
    assert mode == "wal"
    assert timeout == db.SQLITE_BUSY_TIMEOUT_MS
