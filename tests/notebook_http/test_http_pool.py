"""notebook-http mode's kernel pool over HTTP: timeouts, queueing, round robin, dead kernels.

notebooks/pool.ipynb answers with the kernel's pid, sleeps, or kills its own kernel.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import Gateway, GatewayFactory

POOL = Path(__file__).parent / "notebooks" / "pool.ipynb"


def pids(gateway: Gateway, count: int) -> list[int]:
    """The kernel pids of `count` sequential GET /pid requests."""
    answers = [gateway.request("GET", "/pid") for _ in range(count)]
    assert [status for status, _, _ in answers] == [200] * count
    return [int(body) for _, _, body in answers]


def concurrently(gateway: Gateway, path: str, count: int = 2) -> tuple[float, list]:
    """Send `count` GET requests at once; the seconds until all answered, and the answers."""
    started = time.monotonic()
    with ThreadPoolExecutor(count) as pool:
        answers = list(pool.map(lambda _: gateway.request("GET", path), range(count)))
    return time.monotonic() - started, answers


def wait_gone(pid: int, timeout: float) -> bool:
    """Whether process `pid` no longer exists within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


# -- one kernel, with a request timeout and a queue limit ---------------------------------


@pytest.fixture(scope="module")
def single(module_gateway_factory: GatewayFactory) -> Gateway:
    return module_gateway_factory(
        "--api=notebook-http",
        f"--seed_uri={POOL}",
        "--NotebookHTTPPersonality.request_timeout=1",
        "--NotebookHTTPPersonality.max_queue_wait=0.5",
        ready_path="/pid",
    )


def test_busy_kernel_gives_503_then_504_then_serves_again(single: Gateway) -> None:
    [pid] = pids(single, 1)
    with ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        sleeper = pool.submit(single.request, "GET", "/sleep30")
        time.sleep(0.2)
        queued = time.monotonic()
        status, headers, body = single.request("GET", "/pid")
        assert (status, headers["Retry-After"]) == (503, "1"), body
        assert 0.4 < time.monotonic() - queued < 0.9
        status, _, body = sleeper.result()
        assert status == 504, body
        assert b"1.0 seconds" in body
        assert time.monotonic() - started < 1.8
    recovered = time.monotonic()
    assert pids(single, 1) == [pid]  # the same process: interrupted, not restarted
    assert time.monotonic() - recovered < 5


# -- two kernels --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pair(module_gateway_factory: GatewayFactory) -> Gateway:
    return module_gateway_factory(
        "--api=notebook-http", f"--seed_uri={POOL}", "--prespawn_count=2", ready_path="/pid"
    )


def test_sequential_requests_alternate_kernels(pair: Gateway) -> None:
    first, second, third, fourth = pids(pair, 4)
    assert first != second
    assert [third, fourth] == [first, second]


def test_two_requests_run_in_parallel(pair: Gateway) -> None:
    elapsed, answers = concurrently(pair, "/sleep1")
    assert [status for status, _, _ in answers] == [200, 200]
    assert len({body for _, _, body in answers}) == 2
    assert elapsed < 1.8


def test_killed_kernel_is_503_and_the_pool_refills(pair: Gateway) -> None:
    before = set(pids(pair, 2))
    status, body = pair.json("GET", "/die", timeout=30)
    assert status == 503
    assert "kernel" in body["message"].lower()
    deadline = time.monotonic() + 20
    while (after := set(pids(pair, 2))) == before or len(after) < 2:
        assert time.monotonic() < deadline, "the pool did not get its second kernel back"
        time.sleep(0.2)
    assert len(after & before) == 1
    elapsed, answers = concurrently(pair, "/sleep1")
    assert [status for status, _, _ in answers] == [200, 200]
    assert elapsed < 1.8


def test_killed_kernel_is_told_within_a_second(gateway_factory: GatewayFactory) -> None:
    """The gateway checks its kernels' processes twice a second, not every 3 s."""
    gateway = gateway_factory(
        "--api=notebook-http",
        f"--seed_uri={POOL}",
        "--NotebookHTTPPersonality.request_timeout=2",
        "--KernelGatewayApp.shutdown_grace_period=0.5",
        ready_path="/pid",
    )
    started = time.monotonic()
    assert gateway.request("GET", "/die", timeout=3)[0] == 503
    assert time.monotonic() - started < 1.5


# -- shutdown -----------------------------------------------------------------------------


def abandon_upload(gateway: Gateway) -> None:
    """Start a request whose body declares 1000 bytes, send 10 of them, and hang up."""
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(b"GET /pid HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789")
        time.sleep(0.2)


def test_sigterm_stops_promptly_and_shuts_the_kernels_down(gateway_factory: GatewayFactory) -> None:
    gateway = gateway_factory(
        "--KernelGatewayApp.api=kernel_gateway.notebook_http",
        f"--seed_uri={POOL}",
        "--prespawn_count=2",
        ready_path="/pid",
    )
    kernels = set(pids(gateway, 2))
    assert len(kernels) == 2
    abandon_upload(gateway)  # no request in flight is left behind for shutdown to wait on
    started = time.monotonic()
    assert gateway.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 5, gateway.log()
    assert [pid for pid in kernels if not wait_gone(pid, 5)] == []
