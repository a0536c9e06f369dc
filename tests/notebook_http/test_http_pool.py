"""notebook-http mode's kernel pool over HTTP: timeouts, queueing, round robin, dead kernels.

notebooks/pool.ipynb answers with the kernel's pid, sleeps, or kills its own kernel.
"""

from __future__ import annotations

import os
import signal
import socket
import time
import uuid
from collections.abc import Callable
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


def meet(gateway: Gateway, folder: Path) -> list[tuple[int, bytes]]:
    """Two GET /meet requests at once, each waiting in its kernel for the other to start: both
    answer with their kernel's pid only if they ran side by side (else one says "alone")."""
    first, second = folder / f"meet-{uuid.uuid4().hex}", folder / f"meet-{uuid.uuid4().hex}"
    paths = [f"/meet?mine={first}&other={second}", f"/meet?mine={second}&other={first}"]
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda path: gateway.request("GET", path), paths))
    return [(status, body) for status, _, body in answers]


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    """Poll `condition()` until true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout}s"
        time.sleep(0.05)


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


def test_busy_kernel_gives_503_then_504_then_serves_again(single: Gateway, tmp_path: Path) -> None:
    [pid] = pids(single, 1)
    flag = tmp_path / "holding"
    with ThreadPoolExecutor(1) as pool:
        holder = pool.submit(single.request, "GET", f"/hold?flag={flag}")
        wait_until(flag.exists, "the /hold request's start")  # it holds the only kernel
        status, headers, body = single.request("GET", "/pid")
        assert (status, headers["Retry-After"]) == (503, "1"), body
        assert b"within 0.5 seconds" in body
        status, _, body = holder.result()
        assert status == 504, body
        assert b"1.0 seconds" in body
    assert pids(single, 1) == [pid]  # the same process: interrupted, not restarted


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


def test_two_requests_run_in_parallel(pair: Gateway, tmp_path: Path) -> None:
    answers = meet(pair, tmp_path)
    assert [status for status, _ in answers] == [200, 200], answers
    assert len({int(body) for _, body in answers}) == 2


def test_killed_kernel_is_503_and_the_pool_refills(pair: Gateway, tmp_path: Path) -> None:
    before = set(pids(pair, 2))
    status, body = pair.json("GET", "/die", timeout=30)
    assert status == 503
    assert "kernel" in body["message"].lower()
    wait_until(lambda: len(set(pids(pair, 2)) - before) == 1, "the pool's new kernel")
    assert len(set(pids(pair, 2)) & before) == 1
    answers = meet(pair, tmp_path)
    assert [status for status, _ in answers] == [200, 200], answers


def test_killed_kernel_is_told_before_the_request_timeout(gateway_factory: GatewayFactory) -> None:
    """The gateway checks its kernels' processes twice a second, not every 3 s: the death is
    a 503 before the 2.5 s request timeout would make it a 504."""
    gateway = gateway_factory(
        "--api=notebook-http",
        f"--seed_uri={POOL}",
        "--NotebookHTTPPersonality.request_timeout=2.5",
        "--KernelGatewayApp.shutdown_grace_period=0.5",
        ready_path="/pid",
    )
    assert gateway.request("GET", "/die", timeout=30)[0] == 503


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
    assert gateway.stop(signal.SIGTERM, timeout=10) == 0, gateway.log()
    assert [pid for pid in kernels if not wait_gone(pid, 5)] == []
