"""Fixtures shared by every test package: where the real data lives."""

from __future__ import annotations

import csv
import os
import secrets
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path:
    configured = os.environ.get("MILLINER_SHARED_DATA")
    if configured:
        return Path(configured)
    return REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Directory with the real data sets (`hm-week/`, `hm-2y/`, `ccp/`).

    Set MILLINER_SHARED_DATA to use another copy.
    """
    path = _shared_data_dir()
    if not (path / "hm-week" / "articles.csv").is_file():
        pytest.fail(
            f"real data not found under {path}: set MILLINER_SHARED_DATA to the "
            "directory that contains hm-week/, hm-2y/ and ccp/"
        )
    return path


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of the PostgreSQL server for tests, from MILLINER_TEST_POSTGRES_URL.

    Skips when no server responds, unless MILLINER_REQUIRE_POSTGRES=1 (set by
    CI), where a missing server fails the test instead.
    """
    import sqlalchemy

    url = os.environ.get(
        "MILLINER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    try:
        engine = sqlalchemy.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except sqlalchemy.exc.OperationalError as error:
        message = (
            f"PostgreSQL at {url} does not answer ({error.orig}); set MILLINER_TEST_POSTGRES_URL"
        )
        if os.environ.get("MILLINER_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL URL whose connections use a fresh schema, dropped afterwards."""
    import sqlalchemy

    schema = f"milliner_test_{secrets.token_hex(4)}"
    admin = sqlalchemy.create_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in postgres_url else "?"
    yield f"{postgres_url}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _write_rows(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture(scope="session")
def hm_slice(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small catalog in the H&M layout cut from hm-week.

    It contains the 300 most-bought articles (head attire included), every
    purchase of them, and symbolic links to their photos.
    """
    source = shared_data / "hm-week"
    target = tmp_path_factory.mktemp("hm-slice")
    with (source / "transactions.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        purchase_header = next(reader)
        purchases = list(reader)
    counts = Counter(row[2] for row in purchases)
    chosen = {article_id for article_id, _ in counts.most_common(300)}

    with (source / "articles.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        article_header = next(reader)
        articles = [row for row in reader if row[0] in chosen]
    _write_rows(target / "articles.csv", article_header, articles)
    _write_rows(
        target / "transactions.csv", purchase_header, [row for row in purchases if row[2] in chosen]
    )
    (target / "images").mkdir()
    for row in articles:
        (target / "images" / f"{row[0]}.jpg").symlink_to(source / "images" / f"{row[0]}.jpg")
    return target
