"""Migrations run up, down and up again, with rows in every table, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
    inspect,
    select,
    text,
)

import migrations
from catalog import db
from catalog.tables import Base

ORM_TABLES = set(Base.metadata.tables)


def _revisions() -> list[str]:
    """Every revision id, oldest first."""
    script = ScriptDirectory(str(Path(migrations.__file__).parent))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def _engine(url: str) -> Engine:
    return db.create_db_engine(url)


def _tables(url: str) -> set[str]:
    engine = _engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _value(column: Any) -> object:
    """A valid value for a column of the reflected schema."""
    kind = column.type
    if isinstance(kind, Boolean):
        return True
    if isinstance(kind, Integer):
        return 1
    if isinstance(kind, Float):
        return 0.5
    if isinstance(kind, DateTime):
        return dt.datetime(2020, 9, 16, 12, 0, tzinfo=dt.UTC)
    if isinstance(kind, Date):
        return dt.date(2020, 9, 16)
    if isinstance(kind, LargeBinary):
        return b"\x00\x00\x80\x3f"
    if isinstance(kind, String) and kind.length:
        return "0123173001"[: kind.length]
    return "0123173001"


def _fill_every_table(url: str) -> dict[str, int]:
    """Insert one row into every table (parents first); return the row count of each."""
    engine = _engine(url)
    metadata = MetaData()
    metadata.reflect(engine)
    tables: list[Table] = [t for t in metadata.sorted_tables if t.name != "alembic_version"]
    try:
        with engine.begin() as connection:
            for table in tables:
                row = {column.name: _value(column) for column in table.columns}
                connection.execute(table.insert().values(**row))
        with engine.connect() as connection:
            return {
                table.name: int(connection.scalar(select(func.count()).select_from(table)) or 0)
                for table in tables
            }
    finally:
        engine.dispose()


def _item_ids(url: str) -> list[str]:
    engine = _engine(url)
    try:
        with engine.connect() as connection:
            return [row[0] for row in connection.execute(text("SELECT article_id FROM items"))]
    finally:
        engine.dispose()


def _round_trip(url: str) -> None:
    revisions = _revisions()
    db.upgrade(url)
    assert _tables(url) == ORM_TABLES
    counts = _fill_every_table(url)
    assert set(counts) == ORM_TABLES
    assert set(counts.values()) == {1}

    # Step down one revision at a time with data in the tables: the rows of
    # the tables that remain survive each step.
    for revision in reversed(revisions[:-1]):
        db.downgrade(url, revision)
        assert _item_ids(url) == ["0123173001"]

    db.downgrade(url)
    assert _tables(url) == set()

    db.upgrade(url)
    assert _tables(url) == ORM_TABLES
    assert _item_ids(url) == []
    assert set(_fill_every_table(url).values()) == {1}


def test_migrations_round_trip_sqlite(tmp_path: Path) -> None:
    _round_trip(f"sqlite:///{tmp_path / 'catalog.db'}")


@pytest.mark.postgres
def test_migrations_round_trip_postgres(postgres_schema_url: str) -> None:
    _round_trip(postgres_schema_url)


def test_migrations_cover_every_table(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    db.upgrade(url)

    assert _tables(url) == ORM_TABLES


def test_sqlite_engine_uses_wal(tmp_path: Path) -> None:
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.connect() as connection:
        mode = connection.execute(text("PRAGMA journal_mode")).scalar()
        timeout = connection.execute(text("PRAGMA busy_timeout")).scalar()
    engine.dispose()
    assert mode == "wal"
    assert timeout == db.SQLITE_BUSY_TIMEOUT_MS
