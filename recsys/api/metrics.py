"""Prometheus metrics: request counts and latencies per route, index size, model versions.

With `milliner serve --workers N` (N > 1), the workers share their counters
through prometheus_client's multiprocess mode: `PROMETHEUS_MULTIPROC_DIR`
names a directory where each worker writes its values, and a scrape of
`/metrics` on any worker adds up the files of all of them. The index size
and model versions are those of the worker that answers, the same in every
worker once they have loaded the same artifacts.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from recsys.api.state import StateHolder

__all__ = ["MULTIPROCESS_DIR_VARIABLE", "ApiMetrics", "MetricsMiddleware"]

# Set by `milliner serve` for more than one worker; read by prometheus_client
# when it is first imported in each worker.
MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

# Latency buckets in seconds, dense around the 25 ms goal of recommendations
# and the 200 ms goal of photo uploads.
_LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0)

# Paths that match no route share one label value, so scanners probing
# random paths cannot grow the number of series without bound.
_UNMATCHED_ROUTE = "unmatched"


class _ArtifactCollector(Collector):
    """Reads the artifact versions and index size of the current state at scrape time."""

    def __init__(self, holder: StateHolder) -> None:
        self._holder = holder

    def collect(self) -> Iterator[Metric]:
        state = self._holder.current
        if state is None:
            return
        size = GaugeMetricFamily(
            "milliner_index_items", "Items searchable in the similarity index, added ones included."
        )
        size.add_metric([], float(len(state.live)))
        yield size
        versions = GaugeMetricFamily(
            "milliner_model_info",
            "Loaded artifact versions; the value is always 1.",
            labels=["artifact", "version"],
        )
        versions.add_metric(["index", state.index_version], 1.0)
        versions.add_metric(["embedding_model", state.index.model_version], 1.0)
        versions.add_metric(["ranker", state.ranker_version], 1.0)
        if state.classifier_version is not None:
            versions.add_metric(["classifier", state.classifier_version], 1.0)
        yield versions


class ApiMetrics:
    """The metrics of one app, in a registry of its own (tests build several apps)."""

    def __init__(self, holder: StateHolder) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "milliner_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "milliner_http_request_duration_seconds",
            "Time from receiving a request to sending the end of its response, in seconds.",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._artifacts = _ArtifactCollector(holder)
        self.registry.register(self._artifacts)

    def render(self) -> bytes:
        """Return the metrics in the Prometheus text format, summed over workers if shared."""
        shared_dir = os.environ.get(MULTIPROCESS_DIR_VARIABLE)
        if not shared_dir:
            return generate_latest(self.registry)
        combined = CollectorRegistry()
        MultiProcessCollector(combined, path=shared_dir)
        combined.register(self._artifacts)
        return generate_latest(combined)


Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]


class MetricsMiddleware:
    """A pure ASGI middleware that counts and times every HTTP request by route template."""

    def __init__(self, app: Any, metrics: ApiMetrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self._app(scope, receive, send_and_record)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or _UNMATCHED_ROUTE
            method = scope.get("method", "")
            self._metrics.requests.labels(method, template, str(status)).inc()
            self._metrics.latency.labels(method, template).observe(time.perf_counter() - started)
