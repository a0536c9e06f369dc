"""Graceful shutdown from outside: SIGTERM and SIGINT finish requests in flight (within the
grace period), close websockets with a close frame, shut every kernel down and exit 0."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import (
    Gateway,
    GatewayFactory,
    child_pids,
    free_port,
    process_alive,
    run_cli,
    write_notebook,
)
from kernel_helpers import write_kernel_spec
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

EXIT_TIMEOUT = 30.0


def kernel_pids(gateway: Gateway, count: int) -> list[int]:
    """The pids of the gateway's kernel processes, once at least `count` of them run."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pids = [pid for pid in child_pids(gateway.process.pid) if is_kernel(pid)]
        if len(pids) >= count:
            return pids
        time.sleep(0.1)
    raise AssertionError(f"expected {count} kernels, found {child_pids(gateway.process.pid)}")


def is_kernel(pid: int) -> bool:
    try:
        return "ipykernel" in Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return False


def assert_all_gone(pids: list[int]) -> None:
    """Every pid is gone within a moment of the gateway's exit."""
    deadline = time.monotonic() + 5
    while any(process_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in pids if process_alive(pid)] == []


def test_a_kernel_shut_down_before_it_answers_is_killed_without_an_interrupt(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    """jupyter_client interrupts a kernel before shutting it down; one still importing would
    die of that SIGINT with a KeyboardInterrupt traceback in the gateway's log."""
    never_answers = "import time; time.sleep(120)  # slow_start"
    write_kernel_spec(
        tmp_path, "slow_start", [sys.executable, "-c", never_answers, "{connection_file}"]
    )
    gateway = gateway_factory(env={"JUPYTER_PATH": str(tmp_path)})
    status, model = gateway.json("POST", "/api/kernels", {"name": "slow_start"})
    assert status == 201, model
    deadline = time.monotonic() + 30
    while not (pids := [p for p in child_pids(gateway.process.pid) if is_slow_start(p)]):
        assert time.monotonic() < deadline, "the kernel's process never started"
        time.sleep(0.05)

    status, _ = gateway.json("DELETE", f"/api/kernels/{model['id']}")  # type: ignore[index]

    assert status == 204
    assert_all_gone(pids)
    assert "KeyboardInterrupt" not in gateway.log()


def is_slow_start(pid: int) -> bool:
    try:
        return "slow_start" in Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return False


def wait_exit(gateway: Gateway) -> int:
    return gateway.process.wait(EXIT_TIMEOUT)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_signal_closes_websockets_and_shuts_every_kernel_down(
    gateway_factory: GatewayFactory, signum: signal.Signals
) -> None:
    gateway = gateway_factory("--KernelGatewayApp.kernel_pool_size=1")
    ids = []
    for _ in range(2):
        status, model = gateway.json("POST", "/api/kernels", {"name": "python3"})
        assert status == 201, model
        ids.append(model["id"])  # type: ignore[index]
    pids = kernel_pids(gateway, 3)  # two handed out, one kept warm
    url = f"{gateway.ws_url}/api/kernels/{ids[0]}/channels"
    conn = await websocket_connect(HTTPRequest(url, request_timeout=30))

    try:
        gateway.process.send_signal(signum)
        message = await asyncio.wait_for(drain_websocket(conn), EXIT_TIMEOUT)
        code = await asyncio.get_running_loop().run_in_executor(None, wait_exit, gateway)
    finally:
        conn.close()

    assert (message, conn.close_code) == (None, 1001)
    assert code == 0, gateway.log()
    assert_all_gone(pids)
    assert "Gateway stopped; every kernel was shut down" in gateway.log()
    assert "Traceback" not in gateway.log()


async def drain_websocket(conn: object) -> None:
    """Read until the server closes the websocket; return the final None."""
    while (message := await conn.read_message()) is not None:  # type: ignore[attr-defined]
        del message


def get_in_thread(gateway: Gateway, path: str, results: dict[str, object]) -> threading.Thread:
    """Send GET `path` from a thread; its (status, body) or error lands in `results[path]`."""

    def run() -> None:
        try:
            status, _, body = gateway.request("GET", path, timeout=EXIT_TIMEOUT)
            results[path] = (status, body)
        except OSError as err:
            results[path] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def keep_alive_request(sock: socket.socket) -> bytes:
    """Send GET /api on an open keep-alive connection; return the raw answer's head."""
    sock.sendall(b"GET /api HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(65536)
        if not chunk:
            break
        answer += chunk
    return answer


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    """Poll `condition()` until true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout}s"
        time.sleep(0.05)


def port_refuses(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def test_requests_in_flight_finish_within_the_grace_period(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    started, release = tmp_path / "started", tmp_path / "release"
    notebook = write_notebook(
        tmp_path / "slow.ipynb",
        "import pathlib, time",
        f"# GET /slow\npathlib.Path({str(started)!r}).touch()\n"
        f"while not pathlib.Path({str(release)!r}).exists(): time.sleep(0.02)\n"
        'print("done")',
        "# GET /stuck\ntime.sleep(120)",
    )
    gateway = gateway_factory(
        "--api=notebook-http",
        f"--seed_uri={notebook}",
        "--prespawn_count=2",
        "--KernelGatewayApp.shutdown_grace_period=4",
    )
    pids = kernel_pids(gateway, 2)
    results: dict[str, object] = {}
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as idle:
        assert keep_alive_request(idle).startswith(b"HTTP/1.1 200")
        threads = [get_in_thread(gateway, path, results) for path in ("/slow", "/stuck")]
        wait_until(started.exists, "the /slow request's start")
        gateway.process.send_signal(signal.SIGTERM)
        wait_until(lambda: port_refuses(gateway.port), "the listener's close")
        refused = keep_alive_request(idle)
        assert refused.startswith(b"HTTP/1.1 503"), refused
        release.touch()  # /slow finishes during the grace period
        code = wait_exit(gateway)
    for thread in threads:
        thread.join(EXIT_TIMEOUT)

    assert results["/slow"] == (200, b"done\n")
    assert results["/stuck"] == (  # answered before the connections close
        503,
        b'{"reason": "Service Unavailable", '
        b'"message": "The gateway shut down before the request finished"}',
    )
    assert code == 0, gateway.log()
    assert_all_gone(pids)
    assert "1 request(s) still running after 4.0s; answering them 503" in gateway.log()


def test_sighup_is_ignored_and_the_gateway_keeps_serving(gateway_factory: GatewayFactory) -> None:
    gateway = gateway_factory("--prespawn_count=1")
    pids = kernel_pids(gateway, 1)
    gateway.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + EXIT_TIMEOUT
    while "SIGHUP ignored" not in gateway.log():
        assert gateway.process.poll() is None, gateway.log()
        assert time.monotonic() < deadline, gateway.log()
        time.sleep(0.05)
    status, model = gateway.json("POST", "/api/kernels", {"name": "python3"})
    assert (status, gateway.process.poll()) == (201, None), model
    assert all(process_alive(pid) for pid in pids)
    assert "SIGHUP ignored: still serving (SIGTERM or Ctrl-C stops the gateway)" in gateway.log()
    assert gateway.stop() == 0, gateway.log()  # SIGTERM still stops it, kernels and all
    assert_all_gone(pids)


def processes_marked(marker: str) -> list[int]:
    """Pids of the processes whose environment holds `marker`."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
        except OSError:
            continue
    return [pid for pid in found if process_alive(pid)]


def test_a_failed_start_leaves_no_kernel_behind(tmp_path: Path) -> None:
    notebook = write_notebook(
        tmp_path / "bad.ipynb", "import time\ntime.sleep(0.5)\nraise RuntimeError('seed failed')"
    )
    marker = f"GW_MARK=failed-start-{uuid.uuid4().hex}"
    name, value = marker.split("=")
    env = {name: value, "KG_ENV_PROCESS_WHITELIST": name}
    result = run_cli(
        f"--port={free_port()}", "--prespawn_count=2", f"--seed_uri={notebook}", env=env
    )
    assert result.returncode == 1
    assert "seed failed" in result.stdout
    wait_until(lambda: processes_marked(marker) == [], "the kernels' exit", timeout=5)
