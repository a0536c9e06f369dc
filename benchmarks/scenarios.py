"""The scenarios: each starts its own gateway, measures, stops it, and returns metrics."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from benchmarks.clients import (
    HttpRequest,
    KernelSocket,
    execute_request,
    expect_json_echo,
    expect_status_and_body,
    fixed_time_load,
    rest,
    sequential_latencies,
)
from benchmarks.floor import FloorKernel
from benchmarks.make_notebooks import FIB_BODY, FIB_PATH, HELLO_BODY, HELLO_CODE, HTTP_NOTEBOOK
from benchmarks.measures import Budget, Context, Metric
from benchmarks.procfs import cpu_seconds, kernel_pids, rss_bytes
from benchmarks.servers import Gateway, RunningServer, serving
from benchmarks.stats import percentile

MIB = 1024 * 1024
HELLO = HttpRequest("GET", "/hello")
ECHO_PAYLOAD = {"id": 7, "tags": ["a", "b"], "text": "x" * 983}  # 1024 bytes as JSON
ECHO = HttpRequest(
    "POST",
    "/echo",
    json.dumps(ECHO_PAYLOAD).encode(),
    {"Content-Type": "application/json"},
)
EXECUTE_CODE = "1+1"
FIB = HttpRequest("GET", FIB_PATH)


def _http_args(prespawn: int) -> list[str]:
    return [
        "--api=notebook-http",
        f"--seed_uri={HTTP_NOTEBOOK}",
        f"--KernelGatewayApp.prespawn_count={prespawn}",
    ]


def _http_server(
    gateway: Gateway, ctx: Context, name: str, prespawn: int
) -> AbstractContextManager[RunningServer]:
    return serving(
        gateway,
        _http_args(prespawn),
        ctx.log_dir / f"{gateway.side}-{name}.log",
        HELLO.path,
        HELLO_BODY.encode(),
    )


def _ms(seconds: float) -> float:
    return seconds * 1000.0


def _cpu_metric(scenario: str, what: str, cpu: float, count: int) -> list[Metric]:
    if count <= 0:
        return []
    return [Metric("6", f"gateway CPU per {what} (s{scenario})", "ms", "lower", _ms(cpu / count))]


@dataclass
class Paired:
    """Round trips through a gateway, each followed by one straight to a floor kernel."""

    gateway: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)


def _paired_floor(gateway: Gateway, ctx: Context, scenario: str) -> FloorKernel:
    """A no-gateway kernel whose executes alternate with the scenario's requests."""
    return FloorKernel(ctx.log_dir / f"{gateway.side}-s{scenario}-floor-kernel.log")


def _overhead(scenario: str, name: str, samples: list[float], floor: list[float]) -> Metric:
    """Row 7: the gateway's p50 minus the p50 of floor executes made in the same loop."""
    value = _ms(percentile(samples, 50) - percentile(floor, 50))
    return Metric("7", name, "ms", "lower", value)


def hello_latency(gateway: Gateway, ctx: Context) -> list[Metric]:
    """Scenario 1: one client, sequential GET /hello on a keep-alive connection, pool of 1;
    then as many again, each followed by the same code executed on a floor kernel (row 7)."""
    budget = ctx.budget
    check = expect_status_and_body(HELLO_BODY.encode())
    with (
        _http_server(gateway, ctx, "s1", prespawn=1) as server,
        _paired_floor(gateway, ctx, "1") as floor_kernel,
    ):
        sequential_latencies(server.port, HELLO, check, budget.warmup, 30.0)
        cpu_before, kernel_before = cpu_seconds(server.pid), _kernels_cpu(server)
        samples = sequential_latencies(server.port, HELLO, check, budget.latency_requests, 60.0)
        cpu = cpu_seconds(server.pid) - cpu_before
        kernel_cpu = _kernels_cpu(server) - kernel_before
        for _ in range(budget.warmup):
            floor_kernel.execute(HELLO_CODE)
        paired = Paired()
        paired.gateway = sequential_latencies(
            server.port,
            HELLO,
            check,
            budget.latency_requests,
            120.0,
            after_each=lambda: paired.floor.append(floor_kernel.execute(HELLO_CODE)),
        )
    return [
        Metric("1", "GET /hello p50", "ms", "lower", _ms(percentile(samples, 50))),
        Metric("1", "GET /hello p99", "ms", "lower", _ms(percentile(samples, 99))),
        *_cpu_metric("1", "request", cpu, len(samples)),
        Metric("6", "kernel CPU per request (s1)", "ms", "lower", _ms(kernel_cpu / len(samples))),
        _overhead("1", "GET /hello p50 minus floor", paired.gateway, paired.floor),
    ]


def _kernels_cpu(server: RunningServer) -> float:
    """CPU seconds used so far by the gateway's kernels."""
    return sum(cpu_seconds(pid) for pid in kernel_pids(server.pid))


def compute_latency(gateway: Gateway, ctx: Context) -> list[Metric]:
    """Scenario 9: one client, sequential GET /fib/<n> (a path parameter, a loop), pool of 1."""
    budget = ctx.budget
    check = expect_status_and_body(FIB_BODY.encode())
    with _http_server(gateway, ctx, "s9", prespawn=1) as server:
        sequential_latencies(server.port, FIB, check, budget.warmup, 30.0)
        cpu_before = cpu_seconds(server.pid)
        samples = sequential_latencies(server.port, FIB, check, budget.latency_requests, 60.0)
        cpu = cpu_seconds(server.pid) - cpu_before
    return [
        Metric("9", f"GET {FIB.path} p50", "ms", "lower", _ms(percentile(samples, 50))),
        Metric("9", f"GET {FIB.path} p99", "ms", "lower", _ms(percentile(samples, 99))),
        *_cpu_metric("9", "request", cpu, len(samples)),
    ]


def _kernel_rss_mib(server: RunningServer) -> float:
    sizes = sorted(rss_bytes(pid) for pid in kernel_pids(server.pid))
    if not sizes:
        raise RuntimeError("no ipykernel child process found under the gateway")
    return sizes[0] / MIB


def _load(
    gateway: Gateway, ctx: Context, scenario: str, request: HttpRequest, check_body: bytes | None
) -> list[Metric]:
    """Scenarios 2 and 3: fixed-time load from several keep-alive clients on a pool of 2."""
    budget = ctx.budget
    check = (
        expect_json_echo(ECHO_PAYLOAD) if check_body is None else expect_status_and_body(check_body)
    )
    label = f"{request.method} {request.path}"
    with _http_server(gateway, ctx, f"s{scenario}", prespawn=2) as server:
        kernel_idle = _kernel_rss_mib(server)
        sequential_latencies(server.port, request, check, budget.warmup, 30.0)
        cpu_before = cpu_seconds(server.pid)
        result = fixed_time_load(
            server.port, request, check, budget.load_clients, budget.load_seconds, 200_000
        )
        cpu = cpu_seconds(server.pid) - cpu_before
        gateway_rss = rss_bytes(server.pid) / MIB
        kernel_after = _kernel_rss_mib(server)
    if result.errors:
        print(f"    {gateway.side} s{scenario} errors: {list(result.error_samples)}", flush=True)
    metrics = [
        Metric(
            scenario,
            f"{label} req/s ({budget.load_clients} clients)",
            "req/s",
            "higher",
            result.rate,
        ),
        Metric(scenario, f"{label} errors", "count", "lower", float(result.errors)),
        *_cpu_metric(scenario, "request", cpu, result.ok + result.errors),
    ]
    if scenario == "2":
        metrics += [
            Metric("6", "gateway RSS after s2", "MiB", "lower", gateway_rss),
            Metric("6", "idle kernel RSS before s2", "MiB", "lower", kernel_idle),
            Metric("6", "kernel RSS after s2", "MiB", "lower", kernel_after),
        ]
    return metrics


def hello_throughput(gateway: Gateway, ctx: Context) -> list[Metric]:
    """Scenario 2: GET /hello requests per second, 8 clients, pool of 2."""
    return _load(gateway, ctx, "2", HELLO, HELLO_BODY.encode())


def echo_throughput(gateway: Gateway, ctx: Context) -> list[Metric]:
    """Scenario 3: POST /echo with a 1 KiB JSON body, answer checked, 8 clients, pool of 2."""
    return _load(gateway, ctx, "3", ECHO, None)


def echo_latency(gateway: Gateway, ctx: Context) -> list[Metric]:
    """Scenario 10: one client, sequential POST /echo with a 1 KiB JSON body and a
    ResponseInfo cell (status and headers), answer checked, pool of 1."""
    budget = ctx.budget
    check = expect_json_echo(ECHO_PAYLOAD)
    with _http_server(gateway, ctx, "s10", prespawn=1) as server:
        sequential_latencies(server.port, ECHO, check, budget.warmup, 30.0)
        started = time.perf_counter()
        samples = sequential_latencies(server.port, ECHO, check, budget.latency_requests, 60.0)
        elapsed = time.perf_counter() - started
    return [
        Metric("10", "POST /echo req/s (1 client)", "req/s", "higher", len(samples) / elapsed),
        Metric("10", "POST /echo p50", "ms", "lower", _ms(percentile(samples, 50))),
    ]


def _ws_server(
    gateway: Gateway, ctx: Context, name: str, extra: list[str]
) -> AbstractContextManager[RunningServer]:
    return serving(
        gateway,
        ["--api=jupyter-websocket", *extra],
        ctx.log_dir / f"{gateway.side}-{name}.log",
        "/api",
    )


async def _create_kernel(server: RunningServer) -> str:
    status, model = await rest(server.base_url, "POST", "/api/kernels", {"name": "python3"})
    if status != 201 or not isinstance(model, dict):
        raise RuntimeError(f"POST /api/kernels answered {status}: {model}")
    return str(model["id"])


def _ws_url(server: RunningServer, kernel_id: str) -> str:
    return f"ws://127.0.0.1:{server.port}/api/kernels/{kernel_id}/channels"


async def _one_kernel_start(server: RunningServer) -> tuple[float, float, float]:
    """Return seconds to the POST's answer, to the first kernel_info_reply, and for DELETE."""
    start = time.perf_counter()
    kernel_id = await _create_kernel(server)
    created = time.perf_counter() - start
    sock = await KernelSocket.open(_ws_url(server, kernel_id))
    try:
        await sock.kernel_info(timeout=60.0)
        ready = time.perf_counter() - start
    finally:
        sock.close()
    start = time.perf_counter()
    status, _ = await rest(server.base_url, "DELETE", f"/api/kernels/{kernel_id}")
    if status != 204:
        raise RuntimeError(f"DELETE /api/kernels/{kernel_id} answered {status}")
    return created, ready, time.perf_counter() - start


async def _kernel_starts(server: RunningServer, budget: Budget) -> list[tuple[float, float, float]]:
    await _one_kernel_start(server)  # warm-up: imports and first-time paths
    results = []
    for _ in range(budget.kernel_starts):
        await asyncio.sleep(budget.start_gap)
        results.append(await _one_kernel_start(server))
    return results


def kernel_start(gateway: Gateway, ctx: Context) -> list[Metric]:
    """Scenario 4: POST /api/kernels to the first kernel_info_reply on its websocket."""
    extra = ["--KernelGatewayApp.kernel_pool_size=2"] if gateway.is_ours else []
    with _ws_server(gateway, ctx, "s4", extra) as server:
        results = asyncio.run(_kernel_starts(server, ctx.budget))
    created, ready, deleted = zip(*results, strict=True)
    return [
        Metric(
            "4", "kernel start to kernel_info_reply p50", "ms", "lower", _ms(percentile(ready, 50))
        ),
        Metric("4", "POST /api/kernels answered p50", "ms", "lower", _ms(percentile(created, 50))),
        Metric("4", "DELETE /api/kernels/<id> p50", "ms", "lower", _ms(percentile(deleted, 50))),
    ]


async def _executes(
    server: RunningServer, budget: Budget, floor_kernel: FloorKernel, paired: Paired
) -> tuple[list[float], float, float, float]:
    """Return sequential round trips, their gateway CPU, and a pipelined burst's msgs and
    time; then fill `paired` with round trips each followed by one on the floor kernel."""
    kernel_id = await _create_kernel(server)
    sock = await KernelSocket.open(_ws_url(server, kernel_id))
    try:
        await sock.kernel_info(timeout=60.0)
        for _ in range(budget.warmup):
            await sock.execute(EXECUTE_CODE)
            floor_kernel.execute(EXECUTE_CODE)
        cpu_before = cpu_seconds(server.pid)
        deadline = time.monotonic() + 60.0
        samples = []
        while len(samples) < budget.executes and time.monotonic() < deadline:
            samples.append(await sock.execute(EXECUTE_CODE))
        cpu = cpu_seconds(server.pid) - cpu_before
        received_before = sock.received
        start = time.perf_counter()
        pending = {
            await sock.send(execute_request(EXECUTE_CODE, sock.session))
            for _ in range(budget.burst)
        }
        await sock.wait_done(pending, timeout=60.0)
        burst_seconds = time.perf_counter() - start
        burst_messages = sock.received - received_before
        deadline = time.monotonic() + 120.0
        while len(paired.gateway) < budget.executes and time.monotonic() < deadline:
            paired.gateway.append(await sock.execute(EXECUTE_CODE))
            paired.floor.append(floor_kernel.execute(EXECUTE_CODE))  # blocks: the socket idles
    finally:
        sock.close()
    await rest(server.base_url, "DELETE", f"/api/kernels/{kernel_id}")
    return samples, cpu, burst_messages, burst_seconds


def execute_round_trip(gateway: Gateway, ctx: Context) -> list[Metric]:
    """Scenario 5: execute 1+1 over one websocket; round trips, then a pipelined burst."""
    paired = Paired()
    with _ws_server(gateway, ctx, "s5", []) as server, _paired_floor(gateway, ctx, "5") as floor:
        samples, cpu, messages, seconds = asyncio.run(_executes(server, ctx.budget, floor, paired))
    return [
        Metric("5", "ws execute 1+1 p50", "ms", "lower", _ms(percentile(samples, 50))),
        Metric("5", "ws execute 1+1 p99", "ms", "lower", _ms(percentile(samples, 99))),
        Metric(
            "5",
            f"ws msgs/s ({ctx.budget.burst} executes pipelined)",
            "msg/s",
            "higher",
            messages / seconds,
        ),
        *_cpu_metric("5", "execute", cpu, len(samples)),
        _overhead("5", "ws execute p50 minus floor", paired.gateway, paired.floor),
    ]


def floor(ctx: Context) -> list[Metric]:
    """Scenario 7: the same round trips straight to a kernel through ZeroMQ, no gateway."""
    with FloorKernel(ctx.log_dir / "floor-kernel.log") as kernel:
        for _ in range(ctx.budget.warmup):
            kernel.execute(EXECUTE_CODE)
        execs = [kernel.execute(EXECUTE_CODE) for _ in range(ctx.budget.executes)]
        before = cpu_seconds(kernel.pid)
        hellos = [kernel.execute(HELLO_CODE) for _ in range(ctx.budget.latency_requests)]
        hello_cpu = cpu_seconds(kernel.pid) - before
        infos = [kernel.kernel_info() for _ in range(ctx.budget.latency_requests)]
        info_cpu = cpu_seconds(kernel.pid) - before - hello_cpu
    per_request = ctx.budget.latency_requests
    return [
        Metric(
            "7",
            "floor: kernel CPU per kernel_info (no gateway)",
            "ms",
            "lower",
            _ms(info_cpu / per_request),
        ),
        Metric(
            "7",
            "floor: kernel CPU per execute of /hello code (no gateway)",
            "ms",
            "lower",
            _ms(hello_cpu / per_request),
        ),
        Metric(
            "7",
            "floor: kernel_info p50 (zmq, no gateway)",
            "ms",
            "lower",
            _ms(percentile(infos, 50)),
        ),
        Metric(
            "7",
            "floor: execute 1+1 p50 (zmq, no gateway)",
            "ms",
            "lower",
            _ms(percentile(execs, 50)),
        ),
        Metric(
            "7",
            "floor: execute /hello code p50 (zmq, no gateway)",
            "ms",
            "lower",
            _ms(percentile(hellos, 50)),
        ),
    ]


Scenario = Callable[[Gateway, Context], list[Metric]]
SCENARIOS: dict[str, tuple[str, Scenario]] = {
    "1": ("notebook-http GET /hello, pool 1, 1 client", hello_latency),
    "2": ("notebook-http GET /hello, pool 2, 8 clients", hello_throughput),
    "3": ("notebook-http POST /echo 1 KiB JSON, pool 2, 8 clients", echo_throughput),
    "4": ("websocket kernel start (ours: kernel_pool_size=2)", kernel_start),
    "5": ("websocket execute 1+1 round trip", execute_round_trip),
    "9": ("notebook-http GET /fib/:n (path parameter, compute), pool 1, 1 client", compute_latency),
    "10": ("notebook-http POST /echo 1 KiB JSON with ResponseInfo, pool 1, 1 client", echo_latency),
}
TITLES = {
    **{key: title for key, (title, _) in SCENARIOS.items()},
    "6": "memory and CPU (measured inside 1, 2, 3, 5, 9)",
    "7": "floor: no gateway (kernel from .venv, raw ZeroMQ client)",
    "8": "encryption cost: ours encrypted and plain side by side, requests alternating",
}
