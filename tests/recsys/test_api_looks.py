"""`POST /v1/looks` on real street photos and catalog photos."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from catalog.settings import Settings
from recsys.api import create_app
from recsys.pipeline import QuickstartResult
from tests.recsys.api_support import ccp_photo, shared_state


@pytest.fixture(scope="module")
def client(pipeline_settings: Settings, pipeline_run: QuickstartResult) -> Iterator[TestClient]:
    app = create_app(pipeline_settings, state=shared_state(pipeline_settings))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def street_photo(shared_data: Path) -> bytes:
    return ccp_photo(shared_data).read_bytes()


def _post_look(client: TestClient, data: bytes, media_type: str = "image/jpeg", **form: str):
    return client.post(
        "/v1/looks", files={"photo": ("look.jpg", data, media_type)}, data=form or None
    )


def test_street_photo_finds_head(client: TestClient, street_photo: bytes) -> None:
    response = _post_look(client, street_photo)
    body = response.json()

    assert response.status_code == 200
    assert body["kind"] == "person"
    left, top, right, bottom = body["head_box"]
    assert 0 <= left < right <= body["width"]
    assert 0 <= top < bottom <= body["height"] // 2
    assert len(body["items"]) == 12


def test_look_without_classifier_explains_labels(client: TestClient, street_photo: bytes) -> None:
    body = _post_look(client, street_photo).json()

    assert body["attire"] is None
    assert "milliner train classifier" in body["attire_note"]


def test_product_photo_is_searched_whole(
    client: TestClient, pipeline_run: QuickstartResult
) -> None:
    photo = client.get(f"/v1/items/{pipeline_run.example_item}/image").content
    response = _post_look(client, photo)
    body = response.json()

    assert response.status_code == 200
    assert body["kind"] == "product"
    assert body["head_box"] is None
    assert body["items"][0]["article_id"] == pipeline_run.example_item
    assert body["items"][0]["score"] > 0.99


def test_png_and_webp_are_accepted(client: TestClient, street_photo: bytes) -> None:
    image = Image.open(io.BytesIO(street_photo))
    for image_format, media_type in (("PNG", "image/png"), ("WEBP", "image/webp")):
        buffer = io.BytesIO()
        image.save(buffer, format=image_format)
        response = _post_look(client, buffer.getvalue(), media_type)

        assert response.status_code == 200, image_format


def test_look_blends_shopper_history(
    client: TestClient, pipeline_run: QuickstartResult, street_photo: bytes
) -> None:
    plain = _post_look(client, street_photo).json()
    blended = _post_look(client, street_photo, customer_id=pipeline_run.example_customer).json()

    assert blended["customer_id"] == pipeline_run.example_customer
    assert len(blended["items"]) == 12
    assert [i["article_id"] for i in blended["items"]] != [i["article_id"] for i in plain["items"]]


def test_look_unknown_customer_is_404(client: TestClient, street_photo: bytes) -> None:
    response = _post_look(client, street_photo, customer_id="nobody123")

    assert response.status_code == 404
    assert response.json()["id"] == "nobody123"


def test_gif_is_415(client: TestClient) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), "red").save(buffer, format="GIF")
    response = _post_look(client, buffer.getvalue(), "image/gif")

    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"
    assert "JPEG, PNG or WebP" in response.json()["detail"]


def test_truncated_jpeg_is_422(client: TestClient, street_photo: bytes) -> None:
    response = _post_look(client, street_photo[: len(street_photo) // 2])

    assert response.status_code == 422
    assert "truncated" in response.json()["detail"]


def test_text_sent_as_jpeg_is_415(client: TestClient) -> None:
    response = _post_look(client, b"not an image at all")

    assert response.status_code == 415
    assert "sent as image/jpeg" in response.json()["detail"]


def test_gif_sent_as_jpeg_is_415(client: TestClient) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), "red").save(buffer, format="GIF")
    response = _post_look(client, buffer.getvalue(), "image/jpeg")

    assert response.status_code == 415
    assert "JPEG, PNG or WebP" in response.json()["detail"]


def test_missing_photo_is_422(client: TestClient) -> None:
    response = client.post("/v1/looks", data={"kind": "auto"})

    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == "body.photo"


def test_photo_over_limit_is_413(
    pipeline_settings: Settings, pipeline_run: QuickstartResult, street_photo: bytes
) -> None:
    limit = len(street_photo) - 1
    state = shared_state(pipeline_settings)
    small = dataclasses.replace(state.settings, max_upload_bytes=limit)
    app = create_app(small, state=dataclasses.replace(state, settings=small))
    with TestClient(app) as test_client:
        response = _post_look(test_client, street_photo)
        huge = _post_look(test_client, street_photo * 8)

    assert response.status_code == 413
    assert str(limit) in response.json()["detail"]
    assert huge.status_code == 413
    assert huge.headers["content-type"] == "application/problem+json"


def test_photo_kept_without_metadata(
    pipeline_settings: Settings,
    pipeline_run: QuickstartResult,
    street_photo: bytes,
    tmp_path: Path,
) -> None:
    image = Image.open(io.BytesIO(street_photo))
    exif = Image.Exif()
    exif[0x010F] = "test camera"  # Make
    exif[0x8825] = {2: (52.0, 31.0, 0.0)}  # GPS latitude
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    state = shared_state(pipeline_settings)
    keeping = dataclasses.replace(state.settings, home=tmp_path, keep_photos=True)
    app = create_app(keeping, state=dataclasses.replace(state, settings=keeping))
    with TestClient(app) as test_client:
        response = _post_look(test_client, buffer.getvalue())
    stored_files = list((tmp_path / "photos").iterdir())

    assert response.status_code == 200
    assert len(stored_files) == 1
    assert not Image.open(stored_files[0]).getexif()
    assert b"test camera" not in stored_files[0].read_bytes()


def test_photo_not_kept_by_default(client: TestClient, pipeline_settings: Settings) -> None:
    assert not (pipeline_settings.home / "photos").exists()
