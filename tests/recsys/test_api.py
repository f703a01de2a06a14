"""The HTTP API over the artifacts of a real pipeline run, through the ASGI client."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from catalog.settings import Settings
from recsys.api import create_app
from recsys.pipeline import QuickstartResult


@pytest.fixture(scope="module")
def client(pipeline_settings: Settings, pipeline_run: QuickstartResult) -> Iterator[TestClient]:
    with TestClient(create_app(pipeline_settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def catalog_ids(hm_slice: Path) -> set[str]:
    with (hm_slice / "articles.csv").open(newline="", encoding="utf-8") as handle:
        return {row["article_id"] for row in csv.DictReader(handle)}


def test_health(client: TestClient) -> None:
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_recommendations_for_shopper(
    client: TestClient, pipeline_run: QuickstartResult, catalog_ids: set[str]
) -> None:
    response = client.get(f"/v1/customers/{pipeline_run.example_customer}/recommendations?k=12")
    body = response.json()

    assert response.status_code == 200
    assert body["fallback"] is False
    assert len(body["items"]) == 12
    assert {item["article_id"] for item in body["items"]} <= catalog_ids


def test_recommendations_exclude_bought(
    client: TestClient, pipeline_run: QuickstartResult, hm_slice: Path
) -> None:
    customer = pipeline_run.example_customer
    with (hm_slice / "transactions.csv").open(newline="", encoding="utf-8") as handle:
        bought = {
            row["article_id"] for row in csv.DictReader(handle) if row["customer_id"] == customer
        }
    response = client.get(f"/v1/customers/{customer}/recommendations?k=20&exclude_bought=true")

    assert response.status_code == 200
    assert not bought & {item["article_id"] for item in response.json()["items"]}


def test_similar_items_for_head_attire(
    client: TestClient, pipeline_run: QuickstartResult, catalog_ids: set[str]
) -> None:
    item = pipeline_run.example_item
    response = client.get(f"/v1/items/{item}/similar?k=12")
    body = response.json()

    assert response.status_code == 200
    assert len(body["items"]) == 12
    assert item not in {neighbour["article_id"] for neighbour in body["items"]}
    assert {neighbour["article_id"] for neighbour in body["items"]} <= catalog_ids
    assert all(neighbour["image_url"] for neighbour in body["items"])


def test_item_image_is_served(client: TestClient, pipeline_run: QuickstartResult) -> None:
    response = client.get(f"/v1/items/{pipeline_run.example_item}/image")

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"


def test_unknown_customer_is_404(client: TestClient) -> None:
    response = client.get("/v1/customers/nobody123/recommendations")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["id"] == "nobody123"
    assert "nobody123" in response.json()["detail"]


def test_unknown_item_is_404(client: TestClient) -> None:
    response = client.get("/v1/items/0000000000/similar")

    assert response.status_code == 404
    assert response.json()["detail"] == "item '0000000000' not found in the catalog"


@pytest.mark.parametrize("k", ["0", "101", "abc"])
def test_invalid_k_is_422(client: TestClient, pipeline_run: QuickstartResult, k: str) -> None:
    response = client.get(f"/v1/items/{pipeline_run.example_item}/similar?k={k}")

    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == "query.k"


def test_invalid_id_is_422(client: TestClient) -> None:
    response = client.get("/v1/customers/bad%20id/recommendations")

    assert response.status_code == 422


def test_unknown_route_is_problem_json(client: TestClient) -> None:
    response = client.get("/v1/nothing")

    assert response.status_code == 404
    assert response.json()["title"] == "Not Found"


def test_without_artifacts_is_503(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'x.db'}")
    app = create_app(settings)
    with pytest.raises(Exception, match="milliner index"), TestClient(app):
        pass
