"""`milliner serve --workers 2` as a real process: /metrics counts the requests of every worker."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from catalog.settings import Settings
from recsys.pipeline import QuickstartResult
from tests.recsys.api_support import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 120
REQUESTS = 30
HEALTH_COUNT = re.compile(
    r'^milliner_http_requests_total\{method="GET",route="/health",status="200"\} (\S+)$',
    re.MULTILINE,
)


@pytest.fixture(scope="module")
def two_workers(
    pipeline_settings: Settings,
    pipeline_run: QuickstartResult,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, Path]]:
    """Serve the pipeline's home with two workers; yield its URL and the server's TMPDIR."""
    temporary = tmp_path_factory.mktemp("serve-tmp")
    port = free_port()
    environment = dict(os.environ)
    environment["TMPDIR"] = str(temporary)
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "recsys.cli",
            "--home",
            str(pipeline_settings.home),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        cwd=REPO_ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"milliner serve exited with {process.returncode} before it was ready")
            try:
                if httpx.get(f"{url}/ready", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"milliner serve was not ready within {STARTUP_TIMEOUT_S} s")
            time.sleep(0.5)
        yield url, temporary
    finally:
        process.terminate()
        process.wait(timeout=60)


def _health_count(url: str) -> float:
    """Return the count of answered GET /health requests, 0 before the first one."""
    match = HEALTH_COUNT.search(httpx.get(f"{url}/metrics", timeout=10).text)
    return float(match.group(1)) if match is not None else 0.0


def test_metrics_add_up_every_worker(two_workers: tuple[str, Path]) -> None:
    url, _ = two_workers
    before = _health_count(url)
    # A new connection per request lets the kernel hand them to either worker.
    for _ in range(REQUESTS):
        assert httpx.get(f"{url}/health", timeout=10).status_code == 200

    counts = [_health_count(url) for _ in range(4)]

    assert counts == [before + REQUESTS] * 4


def test_shared_metrics_use_server_tmpdir(two_workers: tuple[str, Path]) -> None:
    _, temporary = two_workers

    shared = list(temporary.glob("milliner-metrics-*"))

    assert len(shared) == 1
    assert any(shared[0].glob("*.db"))
