"""Consistency checks of a data directory, for `milliner doctor`.

A crash (even `kill -9`) during indexing, training or publishing must leave
the previous artifacts in use and whole. These checks verify that promise
after the fact:

- the catalog database is at the newest Alembic revision;
- each artifact kind's `CURRENT` names a version directory that contains every
  required file and loads;
- the similarity index only holds catalog items, and its embedding model
  version has embeddings in the database;
- the ranker only knows catalog items;
- no staging leftovers (`.*.tmp` under the artifact roots) remain; with
  `fix=True` they are removed.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from catalog.db import create_db_engine, schema_revisions
from catalog.settings import Settings
from catalog.tables import Embedding, Item
from recsys.ranker import RankerModel
from recsys.similarity import SimilarityIndex

__all__ = ["DoctorReport", "Finding", "check_data_directory"]

logger = logging.getLogger(__name__)

# Files each published version must hold, by artifact kind.
_REQUIRED_FILES = {
    "index": ("index.faiss", "article_ids.json", "metadata.json"),
    "ranker": ("factors.npz", "ids.json", "metadata.json"),
}
# Errors that mean "this artifact cannot be loaded", as opposed to a bug here.
_LOAD_ERRORS = (OSError, ValueError, KeyError, RuntimeError)


@dataclass(frozen=True)
class Finding:
    """The outcome of one check.

    Attributes:
        check: what was checked, e.g. "database" or "ranker".
        ok: the check passed (or its problem was fixed).
        message: what was found, and the command that fixes a failure.
        fixed: the problem was repaired by this run (`fix=True`).
    """

    check: str
    ok: bool
    message: str
    fixed: bool = False


@dataclass
class DoctorReport:
    """Every finding of one `check_data_directory` run, in check order."""

    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(finding.ok for finding in self.findings)

    def add(self, check: str, ok: bool, message: str, *, fixed: bool = False) -> None:
        self.findings.append(Finding(check, ok, message, fixed))


def _artifact_roots(settings: Settings) -> dict[str, Path]:
    return {
        "index": settings.index_dir,
        "ranker": settings.models_dir / "ranker",
        "classifier": settings.models_dir / "classifier",
    }


def _database_exists(url: str) -> bool:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return True
    return Path(parsed.database).is_file()


def _check_database(engine: Engine, report: DoctorReport) -> bool:
    try:
        current, heads = schema_revisions(engine)
    except DBAPIError as error:
        report.add("database", False, f"cannot read the catalog database: {error.orig}")
        return False
    if current == heads:
        report.add("database", True, f"at the newest revision {', '.join(sorted(heads))}")
        return True
    report.add(
        "database",
        False,
        f"at revision {', '.join(sorted(current)) or '(none)'}, the newest is "
        f"{', '.join(sorted(heads))}: run `milliner db upgrade`",
    )
    return False


def _current_version(root: Path, kind: str, report: DoctorReport) -> Path | None:
    """Return the directory `CURRENT` names when it is complete; record the finding."""
    pointer = root / "CURRENT"
    if not pointer.is_file():
        report.add(kind, True, f"not published yet ({root} has no CURRENT)")
        return None
    version = pointer.read_text(encoding="utf-8").strip()
    directory = root / version
    if not version or not directory.is_dir():
        report.add(kind, False, f"{pointer} names {version!r}, which is missing: rerun the job")
        return None
    required = _REQUIRED_FILES.get(kind, ())
    missing = [name for name in required if not (directory / name).is_file()]
    if missing or not any(directory.iterdir()):
        listed = ", ".join(missing) or "every file"
        report.add(kind, False, f"{directory} lacks {listed}: rerun the job")
        return None
    return directory


def _load(kind: str, directory: Path, loader: Callable[[], object], report: DoctorReport) -> object:
    try:
        return loader()
    except _LOAD_ERRORS as error:
        report.add(kind, False, f"{directory} does not load ({error}): rerun the job")
        return None


def _check_ids(
    kind: str, ids: Iterable[str], catalog_ids: set[str], directory: Path, report: DoctorReport
) -> bool:
    unknown = sorted(set(ids) - catalog_ids)
    if unknown:
        examples = ", ".join(unknown[:5])
        report.add(
            kind,
            False,
            f"{directory.name} holds {len(unknown)} items missing from the catalog "
            f"(e.g. {examples}): rerun the job",
        )
        return False
    return True


def _check_index(
    settings: Settings, engine: Engine | None, catalog_ids: set[str] | None, report: DoctorReport
) -> None:
    directory = _current_version(settings.index_dir, "index", report)
    if directory is None:
        return
    index = _load("index", directory, lambda: SimilarityIndex.load(settings.index_dir), report)
    if not isinstance(index, SimilarityIndex):
        return
    if catalog_ids is not None and not _check_ids(
        "index", index.article_ids, catalog_ids, directory, report
    ):
        return
    if engine is not None:
        with engine.connect() as connection:
            embeddings = connection.scalar(
                select(func.count(Embedding.id)).where(
                    Embedding.model_version == index.model_version
                )
            )
        if not embeddings:
            report.add(
                "index",
                False,
                f"{directory.name} was built with model {index.model_version}, which has no "
                "embeddings in the catalog: run `milliner index`",
            )
            return
    report.add("index", True, f"{directory.name}: {len(index)} items, complete and loadable")


def _check_ranker(settings: Settings, catalog_ids: set[str] | None, report: DoctorReport) -> None:
    root = settings.models_dir / "ranker"
    directory = _current_version(root, "ranker", report)
    if directory is None:
        return
    ranker = _load("ranker", directory, lambda: RankerModel.load(root), report)
    if not isinstance(ranker, RankerModel):
        return
    if catalog_ids is not None and not _check_ids(
        "ranker", ranker.item_ids, catalog_ids, directory, report
    ):
        return
    report.add(
        "ranker",
        True,
        f"{directory.name}: {len(ranker.user_ids)} shoppers and {len(ranker.item_ids)} items, "
        "complete and loadable",
    )


def _check_classifier(settings: Settings, report: DoctorReport) -> None:
    root = settings.models_dir / "classifier"
    directory = _current_version(root, "classifier", report)
    if directory is None:
        return
    from classifier.errors import ModelLoadError
    from recsys.api.state import load_classifier

    try:
        load_classifier(settings)
    except (*_LOAD_ERRORS, ModelLoadError) as error:
        report.add("classifier", False, f"{directory} does not load ({error}): rerun the job")
        return
    report.add("classifier", True, f"{directory.name}: complete and loadable")


def _staging_leftovers(settings: Settings) -> list[Path]:
    leftovers: list[Path] = []
    for root in _artifact_roots(settings).values():
        if root.is_dir():
            leftovers.extend(sorted(root.glob(".*.tmp")))
    return leftovers


def _check_leftovers(settings: Settings, report: DoctorReport, *, fix: bool) -> None:
    leftovers = _staging_leftovers(settings)
    if not leftovers:
        report.add("staging", True, "no leftover .tmp staging files")
        return
    for path in leftovers:
        if not fix:
            report.add(
                "staging",
                False,
                f"leftover {path} from an interrupted run: run `milliner doctor --fix`",
            )
            continue
        # NOTE: a job that is running right now also has a .tmp staging
        # directory; --fix must only run while no index or training job runs.
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
        logger.info("removed the leftover %s", path)
        report.add("staging", True, f"removed the leftover {path}", fixed=True)


def check_data_directory(settings: Settings, *, fix: bool = False) -> DoctorReport:
    """Check that the data directory of `settings` is consistent.

    Args:
        settings: the data directory and the catalog database URL.
        fix: remove leftover staging files. Run it only while no `milliner
            index` or `milliner train` runs, because their staging
            directories look the same as leftovers.

    Returns:
        every finding; `report.ok` is False when any check failed.
    """
    report = DoctorReport()
    engine: Engine | None = None
    catalog_ids: set[str] | None = None
    if not _database_exists(settings.database_url):
        report.add("database", False, "no catalog database: run `milliner db upgrade`")
    else:
        engine = create_db_engine(settings.database_url)
    try:
        if engine is not None and _check_database(engine, report):
            with engine.connect() as connection:
                catalog_ids = set(connection.scalars(select(Item.article_id)))
        _check_index(settings, engine if catalog_ids is not None else None, catalog_ids, report)
        _check_ranker(settings, catalog_ids, report)
        _check_classifier(settings, report)
        _check_leftovers(settings, report, fix=fix)
    finally:
        if engine is not None:
            engine.dispose()
    return report
