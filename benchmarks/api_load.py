"""Load-test the HTTP API on loopback: recommendations under concurrency, looks one at a time.

Run from the repository root, on a data directory that contains a catalog, an
index and a ranker:

    .venv/bin/python benchmarks/api_load.py --home /path/to/home \\
        --photo ../shared/data/ccp/photos/0004.jpg

The script starts `milliner serve` on a free 127.0.0.1 port in a child
process, waits for `/ready`, and then, from this process:

1. sends `GET /v1/customers/{id}/recommendations?k=12` over `--connections`
   concurrent keep-alive connections for `--duration` seconds, cycling
   through up to 100 shoppers from `GET /v1/customers`. The load generator
   is `wrk` (Debian package `wrk`) with `--generator wrk`, else an asyncio
   loop over httpx in this process;
2. sends `POST /v1/looks` with `--photo` `--looks` times, one at a time.

It prints p50, p99, throughput and the error count of each, and stops the
server. All traffic goes to 127.0.0.1, and every loop ends after a fixed
time or request count. The server and this load generator share the
machine's cores, so the figures include the generator's own CPU use.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

_HOST = "127.0.0.1"
_READY_TIMEOUT_S = 180.0
_SERVER_LOG = "api_load-server.log"


@dataclass
class Run:
    """Latencies (seconds) and failures of one scenario, and the server's CPU time for it."""

    name: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    server_cpu_s: float = 0.0

    def row(self) -> str:
        values = np.array(self.latencies) * 1000.0
        p50 = float(np.percentile(values, 50)) if len(values) else float("nan")
        p99 = float(np.percentile(values, 99)) if len(values) else float("nan")
        throughput = len(self.latencies) / self.seconds if self.seconds else 0.0
        return _row(
            self.name, len(self.latencies), p50, p99, throughput, self.errors, self.cpu_per_request
        )

    @property
    def cpu_per_request(self) -> float:
        """Server CPU milliseconds per successful request."""
        return 1000.0 * self.server_cpu_s / max(1, len(self.latencies))


def _row(
    name: str, requests: float, p50: float, p99: float, rate: float, errors: float, cpu: float
) -> str:
    return (
        f"| {name} | {requests:.0f} | {p50:.1f} | {p99:.1f} | {rate:.0f} | {errors:.0f} | "
        f"{cpu:.1f} |"
    )


def _server_cpu_seconds(root_pid: int) -> float:
    """Return the user + system CPU seconds of the server and its worker processes.

    Worker processes are the direct children of `root_pid`, read from /proc
    (Linux only). CPU time is less sensitive than wall time to other jobs on
    a loaded machine, though not immune to them.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        pid = int(stat.parent.name)
        # After the command name: state, ppid, ..., utime is field 14, stime 15.
        if pid == root_pid or int(fields[1]) == root_pid:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((_HOST, 0))
        return int(probe.getsockname()[1])


def _start_server(home: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "recsys.cli",
        "--home",
        str(home),
        "--no-progress",
        "serve",
        "--host",
        _HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    log = (home / _SERVER_LOG).open("wb")
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)


def _wait_ready(base: str, server: subprocess.Popen[bytes], log: Path) -> dict[str, object]:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with code {server.returncode}: see {log}")
        try:
            response = httpx.get(base + "/ready", timeout=2.0)
            if response.status_code == 200:
                ready: dict[str, object] = response.json()
                return ready
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the server was not ready within {_READY_TIMEOUT_S:.0f} s: see {log}")


async def _recommendations(
    base: str, customers: list[str], *, connections: int, duration_s: float, name: str
) -> Run:
    run = Run(name)
    ids = itertools.cycle(customers)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10.0) as client:

        async def worker(deadline: float) -> None:
            while time.perf_counter() < deadline:
                path = f"/v1/customers/{next(ids)}/recommendations?k=12"
                started = time.perf_counter()
                try:
                    response = await client.get(path)
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    run.latencies.append(time.perf_counter() - started)
                else:
                    run.errors += 1

        started = time.perf_counter()
        deadline = started + duration_s
        await asyncio.gather(*(worker(deadline) for _ in range(connections)))
        run.seconds = time.perf_counter() - started
    return run


# wrk runs this Lua script in each of its threads: every request takes the
# next shopper id, and the summary prints the figures this script parses.
# With a target rate, each connection waits a think time drawn uniformly from
# [0, 2 x MEAN_DELAY_MS] after every response, so requests arrive spread out
# instead of in bursts of one per connection.
_WRK_SCRIPT = r"""
local ids = {%s}
local position = 0
local mean_delay_ms = %f
init = function(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end
if mean_delay_ms > 0 then
  delay = function()
    return math.floor(2 * mean_delay_ms * math.random())
  end
end
request = function()
  position = position + 1
  local id = ids[(position %% #ids) + 1]
  return wrk.format("GET", "/v1/customers/" .. id .. "/recommendations?k=12")
end
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format("P50_US %%d\nP99_US %%d\nREQUESTS %%d\nDURATION_US %%d\n",
    latency:percentile(50), latency:percentile(99), summary.requests, summary.duration))
  io.write(string.format("ERRORS %%d\n", errors.status + errors.connect + errors.read
    + errors.write + errors.timeout))
end
"""


def _recommendations_wrk(
    base: str,
    customers: list[str],
    *,
    connections: int,
    duration_s: float,
    name: str,
    rate: float | None = None,
) -> tuple[Run, dict[str, float]]:
    """Run wrk and return its figures: p50_ms, p99_ms, requests, requests_per_s, errors.

    With `rate`, every connection pauses between requests, so that all of them
    together send about `rate` requests a second. The mean pause is 5% shorter
    than connections / rate because each response takes time too.
    """
    ids = ", ".join(f'"{customer}"' for customer in customers)
    mean_delay_ms = 0.95 * 1000.0 * connections / rate if rate else 0.0
    with tempfile.TemporaryDirectory() as directory:
        script = Path(directory) / "recommendations.lua"
        script.write_text(_WRK_SCRIPT % (ids, mean_delay_ms), encoding="utf-8")
        completed = subprocess.run(
            [
                "wrk",
                "--threads",
                "2",
                "--connections",
                str(connections),
                "--duration",
                f"{duration_s:.0f}s",
                "--timeout",
                "10s",
                "--script",
                str(script),
                base + "/",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    output = completed.stdout
    keys = {"P50_US", "P99_US", "REQUESTS", "DURATION_US", "ERRORS"}
    values: dict[str, float] = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in keys:
            values[parts[0]] = float(parts[1])
    if keys - values.keys():
        raise SystemExit(f"wrk printed no summary:\n{output}{completed.stderr}")
    figures = {
        "p50_ms": values["P50_US"] / 1000.0,
        "p99_ms": values["P99_US"] / 1000.0,
        "requests": values["REQUESTS"],
        "requests_per_s": values["REQUESTS"] / (values["DURATION_US"] / 1e6),
        "errors": values["ERRORS"],
    }
    return Run(name), figures


def _looks(base: str, photo: bytes, *, count: int) -> Run:
    run = Run("POST /v1/looks (1 stream)")
    with httpx.Client(base_url=base, timeout=30.0) as client:
        started = time.perf_counter()
        for _ in range(count):
            request_started = time.perf_counter()
            response = client.post("/v1/looks", files={"photo": ("look.jpg", photo, "image/jpeg")})
            if response.status_code == 200:
                run.latencies.append(time.perf_counter() - request_started)
            else:
                run.errors += 1
        run.seconds = time.perf_counter() - started
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="data directory to serve")
    parser.add_argument("--photo", type=Path, required=True, help="JPEG photo for /v1/looks")
    parser.add_argument("--workers", type=int, default=2, help="server processes (default: 2)")
    parser.add_argument(
        "--connections", type=int, default=32, help="concurrent connections (default: 32)"
    )
    parser.add_argument(
        "--duration", type=float, default=20.0, help="seconds of recommendation load (default: 20)"
    )
    parser.add_argument("--looks", type=int, default=50, help="look requests (default: 50)")
    parser.add_argument(
        "--rate",
        type=float,
        help="with --generator wrk: pace the connections to about this many requests/s in "
        "all (default: as fast as the server answers)",
    )
    parser.add_argument(
        "--generator",
        choices=["httpx", "wrk"],
        default="httpx",
        help="load generator for recommendations (default: httpx)",
    )
    args = parser.parse_args()
    if args.rate is not None and (args.rate <= 0 or args.generator != "wrk"):
        parser.error("--rate must be positive and needs --generator wrk")

    photo = args.photo.read_bytes()
    port = _free_port()
    base = f"http://{_HOST}:{port}"
    server = _start_server(args.home.resolve(), port, args.workers)
    try:
        ready = _wait_ready(base, server, args.home.resolve() / _SERVER_LOG)
        customers = [
            customer["customer_id"]
            for customer in httpx.get(base + "/v1/customers?limit=100").json()["customers"]
        ]
        # Warm-up: every worker process loads lazily built state on first use.
        asyncio.run(
            _recommendations(
                base, customers, connections=args.connections, duration_s=3.0, name="warm-up"
            )
        )
        _looks(base, photo, count=5)

        paced = f", paced to {args.rate:g}/s" if args.rate and args.generator == "wrk" else ""
        name = f"GET recommendations ({args.connections} connections, {args.generator}{paced})"
        wrk_figures: dict[str, float] | None = None
        cpu_before = _server_cpu_seconds(server.pid)
        if args.generator == "wrk":
            recommendations, wrk_figures = _recommendations_wrk(
                base,
                customers,
                connections=args.connections,
                duration_s=args.duration,
                name=name,
                rate=args.rate,
            )
        else:
            recommendations = asyncio.run(
                _recommendations(
                    base,
                    customers,
                    connections=args.connections,
                    duration_s=args.duration,
                    name=name,
                )
            )
        recommendations.server_cpu_s = _server_cpu_seconds(server.pid) - cpu_before
        cpu_before = _server_cpu_seconds(server.pid)
        looks = _looks(base, photo, count=args.looks)
        looks.server_cpu_s = _server_cpu_seconds(server.pid) - cpu_before
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()

    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"{args.workers} server workers; index of {ready['index_size']} items; "
        f"{len(customers)} shoppers cycled"
    )
    print("| scenario | requests | p50 ms | p99 ms | requests/s | errors | server CPU ms/request |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    if wrk_figures is not None:
        cpu = 1000.0 * recommendations.server_cpu_s / max(1.0, wrk_figures["requests"])
        print(
            _row(
                recommendations.name,
                wrk_figures["requests"],
                wrk_figures["p50_ms"],
                wrk_figures["p99_ms"],
                wrk_figures["requests_per_s"],
                wrk_figures["errors"],
                cpu,
            )
        )
    else:
        print(recommendations.row())
    print(looks.row())


if __name__ == "__main__":
    main()
