"""Soak-test the recommendations endpoint at a fixed request rate on loopback.

Run from the repository root, on a data directory that contains a catalog, an
index and a ranker (for example one made by `milliner quickstart --no-serve`):

    .venv/bin/python benchmarks/api_soak.py --home /path/to/home

The script starts `milliner serve` on a free 127.0.0.1 port in a child
process and waits for `/ready`. It then sends
`GET /v1/customers/{id}/recommendations?k=12` on a fixed schedule,
`--rate` requests a second for `--duration` seconds, over `--connections`
paced workers (a worker that falls behind sends its next request at once,
so the achieved rate shows a server that cannot keep up). Shoppers cycle through those of
`GET /v1/customers`. It prints the number of requests, errors (any status
other than 200, or a transport error), the latency percentiles (counted
from when each request was due) and the achieved rate, stops the server,
and exits 1 when there was any error.

All traffic goes to 127.0.0.1, and the schedule ends after
rate x duration requests. The server and this load generator share the
machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

_HOST = "127.0.0.1"
_READY_TIMEOUT_S = 180.0
_REQUEST_TIMEOUT_S = 10.0


@dataclass
class SoakResult:
    """Latencies in seconds, status counts and transport errors of one soak run."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def errors(self) -> int:
        failed_statuses = sum(count for status, count in self.statuses.items() if status != 200)
        return failed_statuses + sum(self.transport_errors.values())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        return int(sock.getsockname()[1])


def _start_server(home: Path, port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    environment = dict(os.environ, MILLINER_HOME=str(home))
    environment.pop("MILLINER_DATABASE_URL", None)
    with log.open("wb") as handle:
        return subprocess.Popen(
            [
                *(sys.executable, "-m", "recsys.cli", "serve"),
                *("--host", _HOST, "--port", str(port), "--workers", str(workers)),
            ],
            env=environment,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_ready(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with code {server.returncode}; see its log")
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the server was not ready after {_READY_TIMEOUT_S:.0f} s")


def _customer_ids(base: str) -> list[str]:
    response = httpx.get(f"{base}/v1/customers", params={"limit": 100}, timeout=10)
    response.raise_for_status()
    ids = [customer["customer_id"] for customer in response.json()["customers"]]
    if not ids:
        raise SystemExit("the catalog has no shoppers: import a transactions.csv first")
    return ids


async def _soak(
    base: str, customers: list[str], *, rate: float, duration: float, connections: int
) -> SoakResult:
    """Send rate x duration requests on a fixed schedule over `connections` paced workers.

    Request n is due at `n / rate` seconds. Worker w sends requests
    w, w + connections, ... and sleeps until each is due. A worker that falls
    behind sends at once, so the achieved rate shows when the server (or
    this client) cannot keep up, and in-flight requests never exceed
    `connections`.
    """
    result = SoakResult()
    total = int(rate * duration)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(
        base_url=base, limits=limits, timeout=_REQUEST_TIMEOUT_S
    ) as client:
        started = time.perf_counter()

        async def worker(first: int) -> None:
            for number in range(first, total, connections):
                due = started + number / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                customer_id = customers[number % len(customers)]
                # Latency counts from when the request was due, not from when a
                # late worker got to send it, so a server that falls behind
                # shows its queueing delay instead of hiding it.
                sent = min(due, time.perf_counter())
                try:
                    response = await client.get(
                        f"/v1/customers/{customer_id}/recommendations", params={"k": 12}
                    )
                except httpx.TransportError as error:
                    result.transport_errors[type(error).__name__] += 1
                    continue
                result.latencies.append(time.perf_counter() - sent)
                result.statuses[response.status_code] += 1

        await asyncio.gather(*(worker(first) for first in range(connections)))
        result.seconds = time.perf_counter() - started
    return result


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=20)


def _report(result: SoakResult, *, rate: float, duration: float) -> None:
    milliseconds = np.array(result.latencies) * 1000.0
    percentiles = (
        {p: float(np.percentile(milliseconds, p)) for p in (50, 95, 99, 100)}
        if len(milliseconds)
        else {}
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"schedule: {rate:g} requests/s for {duration:g} s = {int(rate * duration)} requests")
    print(
        f"answered: {len(result.latencies)} in {result.seconds:.1f} s "
        f"({len(result.latencies) / result.seconds:.1f} requests/s)"
    )
    print(f"statuses: {dict(sorted(result.statuses.items()))}")
    print(f"transport errors: {dict(result.transport_errors) or 0}")
    print(f"errors: {result.errors}")
    if percentiles:
        print(
            "latency ms: "
            + ", ".join(f"p{p} {value:.1f}" for p, value in percentiles.items() if p != 100)
            + f", max {percentiles[100]:.1f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="data directory to serve")
    parser.add_argument(
        "--rate", type=float, default=200.0, help="requests per second (default: 200)"
    )
    parser.add_argument(
        "--duration", type=float, default=60.0, help="seconds of load (default: 60)"
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=32,
        help="concurrent keep-alive connections, the max in-flight requests (default: 32)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="server worker processes (default: 1)"
    )
    args = parser.parse_args()
    if args.rate <= 0 or args.duration <= 0 or args.connections < 1 or args.workers < 1:
        parser.error("--rate, --duration, --connections and --workers must be positive")
    # `timeout` and Ctrl-C stop the run through SystemExit, so the server is stopped too.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))

    port = _free_port()
    base = f"http://{_HOST}:{port}"
    log = args.home / "api_soak_server.log"
    server = _start_server(args.home, port, args.workers, log)
    try:
        _wait_ready(base, server)
        customers = _customer_ids(base)
        # A few warm-up requests per worker, so no first-request cost is timed.
        for customer_id in customers[: 4 * args.workers]:
            httpx.get(f"{base}/v1/customers/{customer_id}/recommendations", timeout=60)
        result = asyncio.run(
            _soak(
                base,
                customers,
                rate=args.rate,
                duration=args.duration,
                connections=args.connections,
            )
        )
    finally:
        _stop(server)
    _report(result, rate=args.rate, duration=args.duration)
    print(f"server log: {log}")
    return 0 if result.errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
