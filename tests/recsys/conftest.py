"""A catalog taken through the whole pipeline once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.settings import Settings
from recsys.pipeline import QuickstartResult, run_quickstart
from recsys.ranker import TrainingConfig


@pytest.fixture(scope="session")
def pipeline_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    home = tmp_path_factory.mktemp("milliner-home")
    return Settings(home=home, database_url=f"sqlite:///{home / 'milliner.db'}")


@pytest.fixture(scope="session")
def pipeline_run(pipeline_settings: Settings, hm_slice: Path) -> QuickstartResult:
    """Migrate, import, index, train and evaluate on the hm-week slice."""
    config = TrainingConfig(epochs=10, components=16, threads=2)
    return run_quickstart(pipeline_settings, hm_slice, batch_size=16, config=config, progress=False)
