"""Serving on a unix socket: mode 0600, the same API, removed at exit; stale vs live files."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import stat
import time
from pathlib import Path

from conftest import Gateway, GatewayFactory, run_cli

from kernel_gateway._version import __version__

DEADLINE = 60.0


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a unix socket."""

    def __init__(self, path: Path) -> None:
        super().__init__("localhost", timeout=30)
        self.path = str(path)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def get(path: Path, target: str, token: str = "") -> tuple[int, bytes]:
    conn = UnixHTTPConnection(path)
    try:
        headers = {"Authorization": f"token {token}"} if token else {}
        conn.request("GET", target, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_ready(gateway: Gateway, path: Path) -> None:
    """Poll /readyz over the socket until it answers 200, or fail with the gateway's log."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        assert gateway.process.poll() is None, gateway.log()
        try:
            if get(path, "/readyz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"not ready over {path}:\n{gateway.log()}")


def test_serves_on_a_unix_socket_and_removes_it_at_exit(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    path = tmp_path / "kg.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))  # a file a crashed run would leave: nobody accepts on it
    stale.close()
    gateway = gateway_factory(
        f"--KernelGatewayApp.unix_socket={path}", "--auth_token=t", wait=False
    )
    wait_ready(gateway, path)

    mode = stat.S_IMODE(os.stat(path).st_mode)
    version = get(path, "/api", token="t")
    refused = get(path, "/api")
    gateway.process.send_signal(signal.SIGTERM)
    code = gateway.process.wait(DEADLINE)

    assert mode == 0o600
    assert version == (200, json.dumps({"version": __version__}).encode())
    assert refused[0] == 401
    assert code == 0, gateway.log()
    assert not path.exists()
    assert f"at unix socket {path}" in gateway.log()


def test_a_live_socket_or_another_file_stops_start_up(tmp_path: Path) -> None:
    live_path, file_path = tmp_path / "live.sock", tmp_path / "file.sock"
    file_path.write_text("not a socket")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as live:
        live.bind(str(live_path))
        live.listen()
        busy = run_cli(f"--KernelGatewayApp.unix_socket={live_path}")
    other = run_cli(env={"KG_UNIX_SOCKET": str(file_path)})

    assert busy.returncode == 1
    assert f"Cannot listen on {live_path}: another server is listening on it" in busy.stdout
    assert other.returncode == 1
    assert f"Cannot listen on {file_path}: it exists and is not a socket" in other.stdout
    assert file_path.read_text() == "not a socket"
