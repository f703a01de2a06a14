"""Database engines, sessions and schema migrations."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from catalog.errors import SchemaOutdatedError

__all__ = [
    "SQLITE_BUSY_TIMEOUT_MS",
    "create_db_engine",
    "downgrade",
    "require_newest_schema",
    "schema_revisions",
    "session_scope",
    "upgrade",
]

logger = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 5000


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (the API) work while a writer (indexing) commits; the
    # busy timeout makes a second writer wait instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_db_engine(url: str) -> Engine:
    """Create an engine for `url`; SQLite files get WAL mode and a busy timeout.

    The directory of a SQLite file is created when missing.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    return create_engine(url, pool_pre_ping=True)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """Yield a session that commits on success and rolls back on any error."""
    factory = sessionmaker(engine, expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _alembic_config(url: str) -> Any:
    from alembic.config import Config

    import migrations

    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    # ConfigParser treats % as interpolation; URLs may contain escaped characters.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` up to `revision` (default: the latest)."""
    from alembic import command

    logger.info(
        "migrating %s up to %s", make_url(url).render_as_string(hide_password=True), revision
    )
    command.upgrade(_alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    """Migrate the database at `url` down to `revision` (default: empty)."""
    from alembic import command

    logger.info(
        "migrating %s down to %s", make_url(url).render_as_string(hide_password=True), revision
    )
    command.downgrade(_alembic_config(url), revision)


def schema_revisions(engine: Engine) -> tuple[set[str], set[str]]:
    """Return (the database's current revisions, the newest revisions of the code).

    Raises:
        sqlalchemy.exc.DBAPIError: the database cannot be read.
    """
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    import migrations

    heads = set(ScriptDirectory(str(Path(migrations.__file__).parent)).get_heads())
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    return current, heads


def require_newest_schema(engine: Engine) -> None:
    """Check that the catalog schema is migrated to the newest revision.

    Raises:
        SchemaOutdatedError: it is not. The message names `milliner db upgrade`.
    """
    current, heads = schema_revisions(engine)
    if current != heads:
        raise SchemaOutdatedError(
            f"the catalog database is at revision {', '.join(sorted(current)) or '(none)'}, "
            f"the newest is {', '.join(sorted(heads))}: run `milliner db upgrade` first"
        )
