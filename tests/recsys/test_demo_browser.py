"""The demo storefront in headless Chromium over a live server on loopback.

Needs Debian's `chromium` package and the `playwright` Python package (its
own browser downloads are never used). The test skips when either is
missing, unless MILLINER_REQUIRE_BROWSER=1 makes that a failure.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from catalog.settings import Settings
from recsys.api import create_app
from recsys.pipeline import QuickstartResult
from tests.recsys.api_support import ccp_photo, free_port, shared_state

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000


def _missing_browser() -> str | None:
    if not CHROMIUM.is_file() and shutil.which("chromium") is None:
        return "Debian's chromium is not installed: apt-get install -y chromium chromium-driver"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed: pip install playwright"
    return None


@pytest.fixture(scope="module")
def browser_available() -> None:
    reason = _missing_browser()
    if reason is None:
        return
    if os.environ.get("MILLINER_REQUIRE_BROWSER") == "1":
        pytest.fail(f"MILLINER_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def server_url(
    browser_available: None, pipeline_settings: Settings, pipeline_run: QuickstartResult
) -> Iterator[str]:
    app = create_app(pipeline_settings, state=shared_state(pipeline_settings))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the API server did not start within 30 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_storefront_flows(server_url: str, shared_data: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(server_url + "/")

            # A shopper is picked: history and recommendations appear as product images.
            page.wait_for_selector("#recommendations .card img")
            page.wait_for_selector("#history .card")
            recommended = page.locator("#recommendations .card").count()
            shoppers = page.locator("#shopper-select option").count()
            page.screenshot(path=str(tmp_path / "shopper.png"), full_page=True)

            # A street photo is uploaded: the head box is drawn and similar products appear.
            page.set_input_files("#photo-input", str(ccp_photo(shared_data)))
            page.wait_for_selector("#look-section[data-kind] #look-items .card img")
            kind = page.get_attribute("#look-section", "data-kind")
            note = page.inner_text("#look-labels")
            # The pixel in the middle of the box's left edge has the stroke colour.
            edge_pixel = page.evaluate(
                """() => {
                    const canvas = document.getElementById("look-canvas");
                    const [x, y, , height] = JSON.parse(canvas.dataset.box);
                    const pixel = canvas.getContext("2d")
                        .getImageData(x, Math.round(y + height / 2), 1, 1).data;
                    return [pixel[0], pixel[1], pixel[2]];
                }"""
            )
            page.screenshot(path=str(tmp_path / "look.png"), full_page=True)

            # Switching to Chinese relabels the page and the products.
            page.click("#lang-zh")
            page.wait_for_function("document.querySelector('h1').textContent.includes('演示商店')")
            page.wait_for_function(
                "[...document.querySelectorAll('#look-items .meta')]"
                ".some(e => /[\\u4e00-\\u9fff]/.test(e.textContent))"
            )
            page.screenshot(path=str(tmp_path / "chinese.png"), full_page=True)
        finally:
            browser.close()

    assert shoppers > 0
    assert recommended == 12
    assert kind == "person"
    assert edge_pixel[0] > 150
    assert edge_pixel[1] < 80
    assert "milliner train classifier" in note
    assert errors == []
