"""GET /v1/customers/{id}/recommendations served by the blend, on a real pipeline run."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from catalog.settings import Settings
from recsys.api import create_app
from recsys.pipeline import QuickstartResult

REASON_STARTS = ("looks like ", "matches your style: ", "popular this week", "you bought this")
REASON_STARTS_ZH = ("看起来像您买过的", "符合您的风格：", "本周热销", "您之前买过")


@pytest.fixture(scope="module")
def client(pipeline_settings: Settings, pipeline_run: QuickstartResult) -> Iterator[TestClient]:
    with TestClient(create_app(pipeline_settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def articles(hm_slice: Path) -> dict[str, dict[str, str]]:
    with (hm_slice / "articles.csv").open(newline="", encoding="utf-8") as handle:
        return {row["article_id"]: row for row in csv.DictReader(handle)}


def _first_buyer(hm_slice: Path) -> str:
    with (hm_slice / "transactions.csv").open(newline="", encoding="utf-8") as handle:
        return next(csv.DictReader(handle))["customer_id"]


def test_every_item_has_english_reason(client: TestClient, pipeline_run: QuickstartResult) -> None:
    response = client.get(f"/v1/customers/{pipeline_run.example_customer}/recommendations?k=20")
    items = response.json()["items"]

    assert response.status_code == 200
    assert len(items) == 20
    for item in items:
        assert item["reason"].startswith(REASON_STARTS), item["reason"]


def test_chinese_reasons(client: TestClient, pipeline_run: QuickstartResult) -> None:
    response = client.get(
        f"/v1/customers/{pipeline_run.example_customer}/recommendations?k=12",
        headers={"Accept-Language": "zh-CN"},
    )

    assert response.status_code == 200
    for item in response.json()["items"]:
        assert item["reason"].startswith(REASON_STARTS_ZH), item["reason"]


def test_product_type_filter(
    client: TestClient, pipeline_run: QuickstartResult, articles: dict[str, dict[str, str]]
) -> None:
    response = client.get(
        f"/v1/customers/{pipeline_run.example_customer}/recommendations",
        params={"k": 100, "product_type": "Hat/beanie"},
    )
    ids = [item["article_id"] for item in response.json()["items"]]
    beanies = {a for a, row in articles.items() if row["product_type_name"] == "Hat/beanie"}

    assert response.status_code == 200
    assert set(ids) == beanies


def test_department_filter(
    client: TestClient, pipeline_run: QuickstartResult, articles: dict[str, dict[str, str]]
) -> None:
    department = articles[pipeline_run.example_item or ""]["department_name"]
    response = client.get(
        f"/v1/customers/{pipeline_run.example_customer}/recommendations",
        params={"k": 50, "department": department},
    )
    items = response.json()["items"]

    assert response.status_code == 200
    assert items
    assert {articles[item["article_id"]]["department_name"] for item in items} == {department}


def test_unknown_product_type_gives_empty_list(
    client: TestClient, pipeline_run: QuickstartResult
) -> None:
    response = client.get(
        f"/v1/customers/{pipeline_run.example_customer}/recommendations?product_type=Spacesuit"
    )

    assert response.status_code == 200
    assert response.json()["items"] == []


def test_empty_filter_is_422(client: TestClient, pipeline_run: QuickstartResult) -> None:
    response = client.get(
        f"/v1/customers/{pipeline_run.example_customer}/recommendations?department="
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == "query.department"


def test_repeat_purchase_allowed_by_default(client: TestClient, hm_slice: Path) -> None:
    customer = _first_buyer(hm_slice)
    with_bought = client.get(f"/v1/customers/{customer}/recommendations?k=100").json()
    without = client.get(
        f"/v1/customers/{customer}/recommendations?k=100&exclude_bought=true"
    ).json()

    assert len(with_bought["items"]) == 100
    assert [i["article_id"] for i in with_bought["items"]] != [
        i["article_id"] for i in without["items"]
    ]
