"""Scenario 8: what CurveZMQ costs, measured in pairs.

Our gateway runs twice side by side, encrypted (the default) and plain
(`transport_encryption=disabled`), and requests alternate between the two (which one goes first
alternates too), so both see the same machine load at the same moment: on a shared machine the
load moves more between two scenarios a minute apart than encryption costs. The rows are each
side's p50 and its CPU per request: of the gateway alone, and of the gateway with its kernels
(Curve runs at both ends of every ZeroMQ connection); then each side's throughput under 8
clients, measured in short blocks of load that alternate between the two.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator

from benchmarks.clients import (
    Check,
    HttpClient,
    HttpRequest,
    KernelSocket,
    expect_json_echo,
    expect_status_and_body,
    fixed_time_load,
    sequential_latencies,
)
from benchmarks.make_notebooks import HELLO_BODY, HTTP_NOTEBOOK
from benchmarks.measures import Context, Metric
from benchmarks.procfs import cpu_seconds, tree_cpu_seconds
from benchmarks.scenarios import (
    ECHO,
    ECHO_PAYLOAD,
    EXECUTE_CODE,
    HELLO,
    _create_kernel,
    _ws_url,
)
from benchmarks.servers import OURS, OURS_PLAIN, RunningServer, serving
from benchmarks.stats import percentile

SIDES = (OURS, OURS_PLAIN)
TIME_LIMIT = 120.0
HTTP_ARGS = ["--api=notebook-http", f"--seed_uri={HTTP_NOTEBOOK}", "--prespawn_count=1"]
LOAD_BLOCKS = 20  # blocks of load in all, half of them per side
LOAD_ARGS = ["--api=notebook-http", f"--seed_uri={HTTP_NOTEBOOK}", "--prespawn_count=2"]
WS_ARGS = ["--api=jupyter-websocket"]


class Tally:
    """One side's round trips, and its CPU from the start of the paired loop."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.samples: list[float] = []
        self.cpu_start = (cpu_seconds(server.pid), tree_cpu_seconds(server.pid))

    def metrics(self, what: str, per: str) -> list[Metric]:
        """p50, and CPU per round trip (gateway; gateway and kernels) in ms."""
        count = max(len(self.samples), 1)
        gateway = cpu_seconds(self.server.pid) - self.cpu_start[0]
        tree = tree_cpu_seconds(self.server.pid) - self.cpu_start[1]
        return [
            Metric("8", f"paired {what} p50", "ms", "lower", 1000 * percentile(self.samples, 50)),
            Metric("8", f"paired gateway CPU per {per}", "ms", "lower", 1000 * gateway / count),
            Metric("8", f"paired gateway+kernel CPU per {per}", "ms", "lower", 1000 * tree / count),
        ]


@contextlib.contextmanager
def both_serving(
    ctx: Context, args: list[str], ready: str, name: str
) -> Iterator[list[RunningServer]]:
    """Our gateway encrypted and plain, both ready and quiet, stopped on exit."""
    expect = HELLO_BODY.encode() if ready == HELLO.path else None
    with contextlib.ExitStack() as stack:
        yield [
            stack.enter_context(
                serving(side, args, ctx.log_dir / f"{side.side}-{name}.log", ready, expect)
            )
            for side in SIDES
        ]


def alternate(tallies: list[Tally], count: int, one: Callable[[int], float]) -> None:
    """Run `one(side)` for each side in turn, `count` times, first side alternating."""
    deadline = time.monotonic() + TIME_LIMIT
    for index in range(count):
        if time.monotonic() > deadline:
            break
        order = (0, 1) if index % 2 == 0 else (1, 0)
        for side in order:
            tallies[side].samples.append(one(side))


def paired_http(ctx: Context) -> list[list[Metric]]:
    """GET /hello alternating between the two gateways; metrics per side."""
    check = expect_status_and_body(HELLO_BODY.encode())
    with both_serving(ctx, HTTP_ARGS, HELLO.path, "s8-http") as servers:
        clients = [HttpClient(server.port) for server in servers]
        try:

            def one(side: int) -> float:
                start = time.perf_counter()
                status, headers, body = clients[side].send(HELLO)
                elapsed = time.perf_counter() - start
                error = check(status, headers, body)
                if error is not None:
                    raise RuntimeError(f"{SIDES[side].side} GET /hello: {error}")
                return elapsed

            for _ in range(ctx.budget.warmup):
                one(0)
                one(1)
            tallies = [Tally(server) for server in servers]
            alternate(tallies, ctx.budget.latency_requests, one)
            return [tally.metrics("GET /hello", "request") for tally in tallies]
        finally:
            for client in clients:
                client.close()


async def _paired_executes(servers: list[RunningServer], ctx: Context) -> list[list[Metric]]:
    sockets = []
    try:
        for server in servers:
            sock = await KernelSocket.open(_ws_url(server, await _create_kernel(server)))
            sockets.append(sock)
            await sock.kernel_info(timeout=60.0)
        for _ in range(ctx.budget.warmup):
            for sock in sockets:
                await sock.execute(EXECUTE_CODE)
        tallies = [Tally(server) for server in servers]
        deadline = time.monotonic() + TIME_LIMIT
        for index in range(ctx.budget.executes):
            if time.monotonic() > deadline:
                break
            for side in (0, 1) if index % 2 == 0 else (1, 0):
                tallies[side].samples.append(await sockets[side].execute(EXECUTE_CODE))
        return [tally.metrics("ws execute 1+1", "execute") for tally in tallies]
    finally:
        for sock in sockets:
            sock.close()


def paired_ws(ctx: Context) -> list[list[Metric]]:
    """Websocket execute 1+1 alternating between the two gateways; metrics per side."""
    with both_serving(ctx, WS_ARGS, "/api", "s8-ws") as servers:
        return asyncio.run(_paired_executes(servers, ctx))


def paired_load(ctx: Context, request: HttpRequest, check: Check) -> list[list[Metric]]:
    """Both gateways (pools of 2) loaded in short blocks that alternate between them (which
    one goes first alternates too); correct answers per second over all of a side's blocks."""
    clients = ctx.budget.load_clients
    label = f"paired {request.method} {request.path} req/s ({clients} clients, alternating)"
    name = f"s8-load-{request.path.strip('/')}"
    block = ctx.budget.load_seconds / LOAD_BLOCKS * 2  # each side gets load_seconds in all
    totals = [[0, 0.0], [0, 0.0]]  # per side: correct answers, seconds
    with both_serving(ctx, LOAD_ARGS, HELLO.path, name) as servers:
        for server in servers:
            sequential_latencies(server.port, request, check, ctx.budget.warmup, 30.0)
        for index in range(LOAD_BLOCKS // 2):
            for side in (0, 1) if index % 2 == 0 else (1, 0):
                result = fixed_time_load(
                    servers[side].port, request, check, clients, block, 200_000
                )
                if result.errors:
                    raise RuntimeError(f"{SIDES[side].side} {label}: {result.error_samples}")
                totals[side][0] += result.ok
                totals[side][1] += result.elapsed
    return [[Metric("8", label, "req/s", "higher", ok / seconds)] for ok, seconds in totals]


def encryption_paired(ctx: Context) -> dict[str, list[Metric]]:
    """Scenario 8: side name ("ours", "plain") -> its paired metrics."""
    parts = [
        paired_http(ctx),
        paired_ws(ctx),
        paired_load(ctx, HELLO, expect_status_and_body(HELLO_BODY.encode())),
        paired_load(ctx, ECHO, expect_json_echo(ECHO_PAYLOAD)),
    ]
    return {
        side.side: [metric for part in parts for metric in part[index]]
        for index, side in enumerate(SIDES)
    }
