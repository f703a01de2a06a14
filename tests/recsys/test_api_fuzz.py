"""Hostile and heavy traffic through the API: fuzzing, parallel writes, leaks, CORS, uploads."""

from __future__ import annotations

import dataclasses
import io
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from sqlalchemy import func, select

from catalog.db import session_scope
from catalog.settings import Settings
from catalog.tables import Purchase
from recsys.api import create_app
from recsys.api.state import ServingState, load_state
from recsys.pipeline import QuickstartResult
from tests.recsys.api_support import copy_home, shared_state

API_KEY = "fuzz-key-0123456789"
FUZZ_EXAMPLES = 20


@pytest.fixture
def writable_state(
    pipeline_settings: Settings, pipeline_run: QuickstartResult, tmp_path: Path
) -> Iterator[ServingState]:
    """A serving state over a private copy of the pipeline home, with an API key."""
    copied = copy_home(pipeline_settings, tmp_path / "home")
    settings = dataclasses.replace(copied, api_keys=(API_KEY,), max_upload_bytes=200_000)
    state = load_state(settings, embedder=shared_state(pipeline_settings).embedder)
    yield state
    state.engine.dispose()


@pytest.fixture
def writable_app(writable_state: ServingState) -> FastAPI:
    return create_app(writable_state.settings, state=writable_state)


@pytest.mark.slow
def test_fuzzed_requests_never_get_5xx(writable_app: FastAPI) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", writable_app)
    failures: list[str] = []
    statuses: set[int] = set()
    operations = [result.ok() for result in schema.get_all_operations()]

    for operation in operations:

        @settings(
            max_examples=FUZZ_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def call(case: schemathesis.Case) -> None:
            response = case.call(headers={"X-API-Key": API_KEY})
            statuses.add(response.status_code)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:200]}"
                )

        call()

    assert len(operations) >= 10
    assert 200 in statuses
    assert failures == []


def _purchase_count(state: ServingState) -> int:
    with session_scope(state.engine) as session:
        return int(session.scalar(select(func.count(Purchase.id))) or 0)


def _post_purchase(client: TestClient, article_id: str, number: int) -> tuple[int, str | None]:
    response = client.post(
        "/v1/purchases",
        headers={"X-API-Key": API_KEY},
        json=[
            {
                "customer_id": f"parallel-{number}",
                "article_id": article_id,
                "purchased_on": "2020-09-21",
            }
        ],
    )
    return response.status_code, response.headers.get("Retry-After")


def test_parallel_writes_succeed_or_503(
    writable_app: FastAPI, writable_state: ServingState, pipeline_run: QuickstartResult
) -> None:
    article_id = str(pipeline_run.example_item)
    before = _purchase_count(writable_state)
    with TestClient(writable_app) as client, ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda n: _post_purchase(client, article_id, n), range(20)))

    created = sum(status == 201 for status, _ in results)
    assert all(status in {201, 503} for status, _ in results), results
    assert all(retry == "1" for status, retry in results if status == 503)
    assert _purchase_count(writable_state) == before + created


def test_locked_database_is_503_with_retry_after(
    writable_app: FastAPI, writable_state: ServingState, pipeline_run: QuickstartResult
) -> None:
    article_id = str(pipeline_run.example_item)
    database = str(writable_state.settings.home / "milliner.db")
    before = _purchase_count(writable_state)
    locked = threading.Event()
    release = threading.Event()

    def hold_write_lock() -> None:
        connection = sqlite3.connect(database, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        locked.set()
        release.wait(timeout=30)
        connection.execute("ROLLBACK")
        connection.close()

    holder = threading.Thread(target=hold_write_lock)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        with TestClient(writable_app) as client, ThreadPoolExecutor(max_workers=20) as pool:
            started = time.monotonic()
            results = list(pool.map(lambda n: _post_purchase(client, article_id, n), range(20)))
            elapsed = time.monotonic() - started
    finally:
        release.set()
        holder.join(timeout=30)

    assert [status for status, _ in results] == [503] * 20
    assert all(retry == "1" for _, retry in results)
    assert elapsed < 30
    assert _purchase_count(writable_state) == before


def test_unexpected_error_leaks_nothing(writable_app: FastAPI) -> None:
    def fail() -> None:
        raise RuntimeError("secret detail in /srv/milliner/secret.py line 12")

    writable_app.add_api_route("/v1/fail", fail)
    with TestClient(writable_app, raise_server_exceptions=False) as client:
        response = client.get("/v1/fail")

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    assert ".py" not in response.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/customers/%2E%2E%2Fetc%2Fpasswd/recommendations", None),
        ("GET", "/v1/items/..%2F..%2Fetc%2Fpasswd/image", None),
        ("GET", "/v1/items/x/similar?k=abc", None),
        ("POST", "/v1/purchases", b"{not json"),
        (
            "POST",
            "/v1/purchases",
            b'[{"customer_id": "a", "article_id": "nope", "purchased_on": "2020-01-01"}]',
        ),
    ],
)
def test_error_bodies_hold_no_paths(
    writable_app: FastAPI, method: str, path: str, body: bytes | None
) -> None:
    with TestClient(writable_app) as client:
        response = client.request(
            method,
            path,
            content=body,
            headers={"X-API-Key": API_KEY, "Content-Type": "application/json"},
        )

    assert 400 <= response.status_code < 500
    assert "Traceback" not in response.text
    assert "/work/" not in response.text
    assert "/tmp/" not in response.text
    assert ".py" not in response.text


def test_oversized_body_rejected_413(writable_app: FastAPI) -> None:
    body = b"[" + b'{"customer_id":"a","article_id":"b","purchased_on":"2020-01-01"},' * 10_000
    with TestClient(writable_app) as client:
        response = client.post(
            "/v1/purchases",
            content=body + b"{}]",
            headers={"X-API-Key": API_KEY, "Content-Type": "application/json"},
        )

    assert response.status_code == 413


def test_cors_closed_by_default(writable_app: FastAPI) -> None:
    with TestClient(writable_app) as client:
        response = client.options(
            "/v1/items",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )

    assert "access-control-allow-origin" not in response.headers


def test_cors_allows_only_configured_origin(writable_state: ServingState) -> None:
    settings = dataclasses.replace(
        writable_state.settings, cors_origins=("https://shop.example.com",)
    )
    app = create_app(settings, state=dataclasses.replace(writable_state, settings=settings))
    with TestClient(app) as client:
        allowed = client.get("/health", headers={"Origin": "https://shop.example.com"})
        other = client.get("/health", headers={"Origin": "https://evil.example"})

    assert allowed.headers["access-control-allow-origin"] == "https://shop.example.com"
    assert "access-control-allow-origin" not in other.headers


def test_cors_setting_rejects_invalid_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MILLINER_CORS_ORIGINS", "https://shop.example.com,*")

    with pytest.raises(ValueError, match="MILLINER_CORS_ORIGINS"):
        Settings.from_env()


def _photo_with_metadata(hm_slice: Path) -> bytes:
    from PIL import Image

    source = next((hm_slice / "images").iterdir()).resolve()
    exif = Image.Exif()
    exif[0x010F] = "SecretCamMaker"  # Make
    exif[0x013B] = "Secret Shopper"  # Artist
    buffer = io.BytesIO()
    with Image.open(source) as image:
        image.convert("RGB").save(buffer, "JPEG", exif=exif, quality=90)
    return buffer.getvalue()


@pytest.mark.parametrize("keep", [False, True])
def test_uploaded_photo_kept_only_when_configured(
    writable_state: ServingState, hm_slice: Path, keep: bool
) -> None:
    from PIL import Image

    settings = dataclasses.replace(writable_state.settings, keep_photos=keep)
    app = create_app(settings, state=dataclasses.replace(writable_state, settings=settings))
    data = _photo_with_metadata(hm_slice)
    assert b"SecretCamMaker" in data
    with TestClient(app) as client:
        response = client.post(
            "/v1/looks?kind=product", files={"photo": ("look.jpg", data, "image/jpeg")}
        )
    stored = sorted(settings.photos_dir.glob("*")) if settings.photos_dir.exists() else []

    assert response.status_code == 200
    assert len(stored) == (1 if keep else 0)
    for path in stored:
        content = path.read_bytes()
        assert b"SecretCamMaker" not in content
        assert b"Secret Shopper" not in content
        with Image.open(path) as image:
            assert dict(image.getexif()) == {}
