"""`milliner doctor` on a real pipeline home, whole and damaged in each way it checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete

from catalog import db
from catalog.settings import Settings
from catalog.tables import Embedding, Item
from recsys.cli import EXIT_INCONSISTENT, main
from recsys.doctor import DoctorReport, check_data_directory
from recsys.pipeline import QuickstartResult
from tests.recsys.api_support import copy_home


@pytest.fixture
def home(pipeline_settings: Settings, pipeline_run: QuickstartResult, tmp_path: Path) -> Settings:
    return copy_home(pipeline_settings, tmp_path / "home")


def _failures(report: DoctorReport) -> dict[str, str]:
    return {finding.check: finding.message for finding in report.findings if not finding.ok}


def _current(root: Path) -> Path:
    return root / (root / "CURRENT").read_text(encoding="utf-8").strip()


def test_pipeline_home_is_consistent(home: Settings) -> None:
    report = check_data_directory(home)

    assert _failures(report) == {}
    assert {finding.check for finding in report.findings} >= {
        "database",
        "index",
        "ranker",
        "staging",
    }


def test_cli_doctor_exit_codes(home: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--home", str(home.home), "doctor"]) == 0
    (home.models_dir / "ranker" / "CURRENT").write_text("v-missing\n", encoding="utf-8")

    assert main(["--home", str(home.home), "doctor"]) == EXIT_INCONSISTENT
    assert "FAIL  ranker" in capsys.readouterr().out


def test_pointer_to_missing_version_fails(home: Settings) -> None:
    (home.index_dir / "CURRENT").write_text("v-missing\n", encoding="utf-8")

    assert "'v-missing', which is missing" in _failures(check_data_directory(home))["index"]


def test_missing_required_file_fails(home: Settings) -> None:
    (_current(home.models_dir / "ranker") / "factors.npz").unlink()

    assert "lacks factors.npz" in _failures(check_data_directory(home))["ranker"]


def test_corrupt_index_fails(home: Settings) -> None:
    (_current(home.index_dir) / "index.faiss").write_bytes(b"not a faiss index")

    assert "does not load" in _failures(check_data_directory(home))["index"]


def test_items_missing_from_catalog_fail(home: Settings, pipeline_run: QuickstartResult) -> None:
    engine = db.create_db_engine(home.database_url)
    with db.session_scope(engine) as session:
        session.execute(delete(Item).where(Item.article_id == pipeline_run.example_item))
    engine.dispose()
    failures = _failures(check_data_directory(home))

    assert "missing from the catalog" in failures["index"]
    assert "missing from the catalog" in failures["ranker"]


def test_index_without_embeddings_fails(home: Settings) -> None:
    engine = db.create_db_engine(home.database_url)
    with db.session_scope(engine) as session:
        session.execute(delete(Embedding))
    engine.dispose()

    assert "has no embeddings" in _failures(check_data_directory(home))["index"]


def test_old_schema_fails(home: Settings) -> None:
    db.downgrade(home.database_url, "0001")

    assert "milliner db upgrade" in _failures(check_data_directory(home))["database"]


def test_missing_database_fails(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'none.db'}")

    assert "no catalog database" in _failures(check_data_directory(settings))["database"]
    assert not (tmp_path / "none.db").exists()


def test_leftovers_fail_until_fixed(home: Settings) -> None:
    staging = home.models_dir / "ranker" / ".v20260101T000000000000-dead.tmp"
    staging.mkdir()
    (staging / "factors.npz").write_bytes(b"partial")
    pointer = home.index_dir / ".CURRENT.0badc0de.tmp"
    pointer.write_text("v-partial", encoding="utf-8")

    assert "doctor --fix" in _failures(check_data_directory(home))["staging"]
    fixed = check_data_directory(home, fix=True)
    assert fixed.ok
    assert sum(finding.fixed for finding in fixed.findings) == 2
    assert not staging.exists()
    assert not pointer.exists()
    assert check_data_directory(home).ok


def test_unpublished_home_is_consistent(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'milliner.db'}")
    db.upgrade(settings.database_url)

    assert check_data_directory(settings).ok


def test_doctor_reads_home_without_writing(home: Settings) -> None:
    before = sorted(path.relative_to(home.home) for path in home.home.rglob("*"))
    check_data_directory(home)
    after = sorted(path.relative_to(home.home) for path in home.home.rglob("*"))

    assert [path for path in after if "milliner.db" not in str(path)] == [
        path for path in before if "milliner.db" not in str(path)
    ]
