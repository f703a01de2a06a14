"""Write endpoints: API keys, adding and changing items, recording purchases."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from catalog.settings import Settings
from catalog.tables import Purchase
from recsys.api import create_app
from recsys.api.state import load_state
from recsys.pipeline import QuickstartResult
from tests.recsys.api_support import copy_home, shared_state

KEY = "test-key-0123456789"
AUTH = {"X-API-Key": KEY}


@pytest.fixture(scope="module")
def writable(
    pipeline_settings: Settings,
    pipeline_run: QuickstartResult,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    copied = copy_home(pipeline_settings, tmp_path_factory.mktemp("writable") / "home")
    return dataclasses.replace(copied, api_keys=("other-key", KEY))


@pytest.fixture(scope="module")
def client(writable: Settings, pipeline_settings: Settings) -> Iterator[TestClient]:
    # The embedder of the shared state is reused; the catalog and index are the copy's.
    embedder = shared_state(pipeline_settings).embedder
    app = create_app(writable, state=load_state(writable, embedder=embedder))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def product_photo(client: TestClient, pipeline_run: QuickstartResult) -> bytes:
    return client.get(f"/v1/items/{pipeline_run.example_item}/image").content


def _item_form(article_id: str) -> dict[str, str]:
    return {
        "article_id": article_id,
        "name": "Test beanie",
        "product_type": "Hat/beanie",
        "colour": "Black",
        "pattern": "Solid",
        "department": "Accessories",
        "description": "Beanie in a soft rib knit.",
    }


def test_write_without_configured_keys_is_503(
    pipeline_settings: Settings, pipeline_run: QuickstartResult
) -> None:
    state = shared_state(pipeline_settings)
    with TestClient(create_app(pipeline_settings, state=state)) as test_client:
        response = test_client.post("/v1/purchases", json=[], headers=AUTH)

    assert response.status_code == 503
    assert "MILLINER_API_KEYS" in response.json()["detail"]


def test_write_without_key_is_401(client: TestClient) -> None:
    response = client.post("/v1/purchases", json=[])

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("ApiKey")
    assert "missing X-API-Key" in response.json()["detail"]


def test_write_with_wrong_key_is_401(client: TestClient) -> None:
    response = client.post("/v1/purchases", json=[], headers={"X-API-Key": KEY + "x"})

    assert response.status_code == 401
    assert "invalid X-API-Key" in response.json()["detail"]


def test_add_item_is_searchable_at_once(client: TestClient, product_photo: bytes) -> None:
    created = client.post(
        "/v1/items",
        data=_item_form("9990000001"),
        files={"image": ("beanie.jpg", product_photo, "image/jpeg")},
        headers=AUTH,
    )
    similar = client.get("/v1/items/9990000001/similar?k=3")
    image = client.get("/v1/items/9990000001/image")
    ready = client.get("/ready").json()

    assert created.status_code == 201
    assert created.json()["labels"]["type"]["name"] == "beanie"
    assert similar.status_code == 200
    assert similar.json()["items"][0]["score"] > 0.99
    assert image.status_code == 200
    assert ready["index_size"] == 301


def test_added_item_photo_is_under_home(client: TestClient, writable: Settings) -> None:
    stored = list((writable.home / "images").glob("9990000001-*.jpg"))

    assert len(stored) == 1


def test_add_existing_item_is_409(
    client: TestClient, pipeline_run: QuickstartResult, product_photo: bytes
) -> None:
    response = client.post(
        "/v1/items",
        data=_item_form(pipeline_run.example_item or ""),
        files={"image": ("beanie.jpg", product_photo, "image/jpeg")},
        headers=AUTH,
    )

    assert response.status_code == 409
    assert "PUT" in response.json()["detail"]


def test_update_item_changes_fields(client: TestClient, pipeline_run: QuickstartResult) -> None:
    item = pipeline_run.example_item
    response = client.put(f"/v1/items/{item}", data={"name": "Renamed hat"}, headers=AUTH)
    fetched = client.get(f"/v1/items/{item}").json()

    assert response.status_code == 200
    assert fetched["name"] == "Renamed hat"
    assert fetched["product_type"] == response.json()["product_type"]


def test_update_unknown_item_is_404(client: TestClient) -> None:
    response = client.put("/v1/items/0000000000", data={"name": "x"}, headers=AUTH)

    assert response.status_code == 404


def test_record_purchases(
    client: TestClient, writable: Settings, pipeline_run: QuickstartResult
) -> None:
    purchases = [
        {
            "customer_id": "newshopper1",
            "article_id": pipeline_run.example_item,
            "purchased_on": "2020-09-21",
        },
        {
            "customer_id": pipeline_run.example_customer,
            "article_id": pipeline_run.example_item,
            "purchased_on": "2020-09-21",
            "price": 0.02,
        },
    ]
    response = client.post("/v1/purchases", json=purchases, headers=AUTH)
    history = client.get("/v1/customers/newshopper1/purchases")

    assert response.status_code == 201
    assert response.json() == {"recorded": 2, "new_customers": 1}
    assert [item["article_id"] for item in history.json()] == [pipeline_run.example_item]


def test_purchase_of_unknown_item_stores_nothing(client: TestClient, writable: Settings) -> None:
    engine = client.app.state.holder.current.engine  # type: ignore[attr-defined]
    with Session(engine) as session:
        before = session.scalar(select(func.count()).select_from(Purchase))
    purchases = [
        {"customer_id": "newshopper2", "article_id": "0000000000", "purchased_on": "2020-09-21"}
    ]
    response = client.post("/v1/purchases", json=purchases, headers=AUTH)
    with Session(engine) as session:
        after = session.scalar(select(func.count()).select_from(Purchase))

    assert response.status_code == 404
    assert after == before


def test_invalid_purchase_date_is_422(client: TestClient, pipeline_run: QuickstartResult) -> None:
    purchases = [
        {"customer_id": "x", "article_id": pipeline_run.example_item, "purchased_on": "yesterday"}
    ]
    response = client.post("/v1/purchases", json=purchases, headers=AUTH)

    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == "body.0.purchased_on"


@pytest.mark.parametrize(
    ("field", "value", "location"),
    [
        ("purchased_on", "2999-01-01", "body.0.purchased_on"),
        ("price", "Infinity", "body.0.price"),
        ("price", "NaN", "body.0.price"),
    ],
)
def test_future_date_or_infinite_price_is_422(
    client: TestClient, pipeline_run: QuickstartResult, field: str, value: str, location: str
) -> None:
    purchase = {"customer_id": "x", "article_id": pipeline_run.example_item}
    purchase["purchased_on"] = "2020-09-21"
    purchase[field] = value
    response = client.post("/v1/purchases", json=[purchase], headers=AUTH)

    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == location


def test_api_keys_read_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MILLINER_API_KEYS", " first, second ,,")
    monkeypatch.setenv("MILLINER_MAX_UPLOAD_BYTES", "2000000")

    settings = Settings.from_env(home=tmp_path)

    assert settings.api_keys == ("first", "second")
    assert settings.max_upload_bytes == 2_000_000
    assert "first" not in repr(settings)


def test_invalid_upload_limit_in_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MILLINER_MAX_UPLOAD_BYTES", "ten")

    with pytest.raises(ValueError, match="MILLINER_MAX_UPLOAD_BYTES"):
        Settings.from_env(home=tmp_path)
