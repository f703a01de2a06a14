"""A published classifier that cannot be loaded leaves the rest of the API serving."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from catalog.settings import Settings
from recsys.api import create_app
from recsys.api.state import ServingState, load_published_changes, load_state
from recsys.pipeline import QuickstartResult
from tests.recsys.api_support import ccp_photo, copy_home


def _publish_unloadable_classifier(settings: Settings, version: str) -> None:
    """Publish a classifier version whose metadata has a format that no code reads."""
    root = settings.models_dir / "classifier"
    (root / version).mkdir(parents=True)
    (root / version / "metadata.json").write_text(json.dumps({"format": 1}), encoding="utf-8")
    (root / "CURRENT").write_text(version, encoding="utf-8")


@pytest.fixture(scope="module")
def settings(
    pipeline_settings: Settings, pipeline_run: QuickstartResult, tmp_path_factory
) -> Settings:
    copied = copy_home(pipeline_settings, tmp_path_factory.mktemp("unloadable") / "home")
    _publish_unloadable_classifier(copied, "v1-old")
    return copied


@pytest.fixture(scope="module")
def state(settings: Settings) -> ServingState:
    return load_state(settings)


@pytest.fixture(scope="module")
def client(settings: Settings, state: ServingState) -> Iterator[TestClient]:
    with TestClient(create_app(settings, state=state)) as test_client:
        yield test_client


def test_state_loads_without_the_classifier(state: ServingState) -> None:
    assert state.classifier is None
    assert state.failed_classifier_version == "v1-old"
    assert state.classifier_error is not None
    assert "v1-old" in state.classifier_error


def test_ready_reports_classifier_error(client: TestClient) -> None:
    response = client.get("/ready")

    assert response.status_code == 200
    assert "v1-old cannot be loaded" in response.json()["classifier_error"]


def test_recommendations_still_served(client: TestClient, pipeline_run: QuickstartResult) -> None:
    response = client.get(f"/v1/customers/{pipeline_run.example_customer}/recommendations")

    assert response.status_code == 200
    assert response.json()["items"]


def test_look_says_why_labels_are_missing(client: TestClient, shared_data: Path) -> None:
    photo = ccp_photo(shared_data).read_bytes()

    response = client.post("/v1/looks", files={"photo": ("look.jpg", photo, "image/jpeg")})

    assert response.status_code == 200
    assert response.json()["attire"] is None
    assert "v1-old cannot be loaded" in response.json()["attire_note"]


def test_failed_version_is_not_tried_again(state: ServingState) -> None:
    assert load_published_changes(state) is None


def test_newer_unloadable_version_is_recorded(settings: Settings, state: ServingState) -> None:
    _publish_unloadable_classifier(settings, "v2-old")

    changes = load_published_changes(state)

    assert changes is not None
    assert changes["failed_classifier_version"] == "v2-old"
    assert "classifier" not in changes


def test_rollback_to_served_version_clears_error(settings: Settings, state: ServingState) -> None:
    served = dataclasses.replace(state, classifier_version="v0-good")
    (settings.models_dir / "classifier" / "CURRENT").write_text("v0-good", encoding="utf-8")

    changes = load_published_changes(served)

    assert changes == {"classifier_error": None, "failed_classifier_version": None}
