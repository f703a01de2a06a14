"""The HTTP API's read endpoints over the artifacts of a real pipeline run."""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from catalog.settings import Settings
from classifier.taxonomy import TYPE, type_from_product_type
from recsys.api import create_app
from recsys.pipeline import QuickstartResult
from recsys.ranker import RankerModel
from tests.recsys.api_support import copy_home, shared_state


@pytest.fixture(scope="module")
def client(pipeline_settings: Settings, pipeline_run: QuickstartResult) -> Iterator[TestClient]:
    app = create_app(pipeline_settings, state=shared_state(pipeline_settings))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def catalog_ids(hm_slice: Path) -> set[str]:
    with (hm_slice / "articles.csv").open(newline="", encoding="utf-8") as handle:
        return {row["article_id"] for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def product_types(hm_slice: Path) -> dict[str, str]:
    with (hm_slice / "articles.csv").open(newline="", encoding="utf-8") as handle:
        return {row["article_id"]: row["product_type_name"] for row in csv.DictReader(handle)}


def test_health(client: TestClient) -> None:
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_wrong_method_is_405_with_allow(client: TestClient) -> None:
    response = client.delete("/health")

    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["allow"] == "GET"


def test_ready_names_loaded_versions(client: TestClient) -> None:
    response = client.get("/ready")
    body = response.json()

    assert response.status_code == 200
    assert body["status"] == "ready"
    assert body["index_version"].startswith("v")
    assert body["ranker_version"].startswith("v")
    assert body["index_size"] == 300


def test_metrics_count_requests_by_route(
    client: TestClient, pipeline_run: QuickstartResult
) -> None:
    client.get(f"/v1/items/{pipeline_run.example_item}")
    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'route="/v1/items/{article_id}"' in response.text
    assert "milliner_http_request_duration_seconds_bucket" in response.text
    assert "milliner_index_items 300.0" in response.text
    assert 'milliner_model_info{artifact="ranker"' in response.text


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


def test_customer_list_longest_history_first(client: TestClient) -> None:
    response = client.get("/v1/customers?limit=5")
    counts = [customer["purchases"] for customer in response.json()["customers"]]

    assert response.status_code == 200
    assert len(counts) == 5
    assert counts == sorted(counts, reverse=True)


def test_purchase_history_lists_bought_items(
    client: TestClient, pipeline_run: QuickstartResult, hm_slice: Path
) -> None:
    customer = pipeline_run.example_customer
    with (hm_slice / "transactions.csv").open(newline="", encoding="utf-8") as handle:
        bought = {
            row["article_id"] for row in csv.DictReader(handle) if row["customer_id"] == customer
        }
    response = client.get(f"/v1/customers/{customer}/purchases?limit=100")

    assert response.status_code == 200
    assert {item["article_id"] for item in response.json()} == bought


def test_item_has_catalog_labels(client: TestClient, pipeline_run: QuickstartResult) -> None:
    response = client.get(f"/v1/items/{pipeline_run.example_item}")
    body = response.json()

    assert response.status_code == 200
    assert body["image_url"] == f"/v1/items/{pipeline_run.example_item}/image"
    assert body["labels"]["source"] == "catalog"
    assert body["labels"]["type"]["name"] == type_from_product_type(body["product_type"])
    assert body["labels"]["type"]["display"] == TYPE.display(body["labels"]["type"]["name"])


def test_item_labels_in_chinese(client: TestClient, pipeline_run: QuickstartResult) -> None:
    response = client.get(
        f"/v1/items/{pipeline_run.example_item}", headers={"Accept-Language": "zh-CN,en;q=0.5"}
    )
    labels = response.json()["labels"]

    assert labels["type"]["display"] == TYPE.display(labels["type"]["name"], "zh-CN")
    assert labels["colour"]["display"] != labels["colour"]["name"]


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


def test_similar_items_of_same_type(
    client: TestClient, pipeline_run: QuickstartResult, product_types: dict[str, str]
) -> None:
    item = pipeline_run.example_item
    item_type = type_from_product_type(product_types[item])
    response = client.get(f"/v1/items/{item}/similar?k=5&same_type=true")
    types = {
        type_from_product_type(product_types[n["article_id"]]) for n in response.json()["items"]
    }

    assert response.status_code == 200
    assert item_type != "none"
    assert types == {item_type}


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


def test_openapi_lists_every_endpoint(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    for path in (
        "/v1/customers",
        "/v1/customers/{customer_id}/recommendations",
        "/v1/customers/{customer_id}/purchases",
        "/v1/items",
        "/v1/items/{article_id}",
        "/v1/items/{article_id}/similar",
        "/v1/items/{article_id}/image",
        "/v1/looks",
        "/v1/purchases",
        "/ready",
        "/metrics",
    ):
        assert path in paths, path


def test_demo_page_is_served(client: TestClient) -> None:
    page = client.get("/")
    script = client.get("/static/app.js")

    assert page.status_code == 200
    assert "shop this look" in page.text.lower()
    assert script.status_code == 200


def test_without_artifacts_ready_is_503(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'x.db'}")
    with TestClient(create_app(settings)) as test_client:
        health = test_client.get("/health")
        ready = test_client.get("/ready")

    assert health.status_code == 200
    assert ready.status_code == 503
    assert "milliner index" in ready.json()["detail"]


def test_new_ranker_version_is_loaded_without_restart(
    pipeline_settings: Settings, pipeline_run: QuickstartResult, tmp_path: Path
) -> None:
    settings = copy_home(pipeline_settings, tmp_path / "home")
    settings = Settings(
        home=settings.home, database_url=settings.database_url, reload_interval_s=0.1
    )
    with TestClient(create_app(settings)) as test_client:
        before = test_client.get("/ready").json()["ranker_version"]
        RankerModel.load(settings.models_dir / "ranker").save(settings.models_dir / "ranker")
        deadline = time.monotonic() + 10
        after = before
        while after == before and time.monotonic() < deadline:
            time.sleep(0.1)
            after = test_client.get("/ready").json()["ranker_version"]

    assert after != before


@pytest.mark.parametrize("article_id", [".hidden", "..."])
def test_dot_leading_item_id_is_422(client: TestClient, article_id: str) -> None:
    response = client.get(f"/v1/items/{article_id}/similar")

    assert response.status_code == 422


@pytest.mark.parametrize(
    ("page", "assets"),
    [
        ("/docs", ["swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"]),
        ("/redoc", ["redoc.standalone.js"]),
    ],
)
def test_docs_pages_load_assets_locally(client: TestClient, page: str, assets: list[str]) -> None:
    response = client.get(page)

    assert response.status_code == 200
    assert "/openapi.json" in response.text
    assert "https://" not in response.text
    for asset in assets:
        assert f"/docs-assets/{asset}" in response.text
        served = client.get(f"/docs-assets/{asset}")
        assert served.status_code == 200, asset
        assert len(served.content) > 0, asset


def test_docs_pages_keep_the_root_path(pipeline_settings: Settings) -> None:
    app = create_app(pipeline_settings, state=shared_state(pipeline_settings))

    with TestClient(app, root_path="/shop-api") as prefixed:
        page = prefixed.get("/docs").text

    assert "/shop-api/openapi.json" in page
    assert "/shop-api/docs-assets/swagger-ui-bundle.js" in page
