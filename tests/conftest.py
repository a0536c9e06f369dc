"""Shared fixtures: async test support and a factory that serves the real gateway.

`gateway_factory(*argv, env=...)` starts `python -m kernel_gateway` as a subprocess on a free
loopback port with real ipykernel kernels, waits until it answers, and stops it with SIGTERM
(its own shutdown path) at the end of the test. Async tests (`async def test_...`) run in a fresh
event loop each.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from haproxy_lb import HAProxyUnavailable, find_haproxy
from sshd_host import SshdUnavailable, SshHost, start_sshd

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "etc" / "api_examples"
START_TIMEOUT = 60.0


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run `async def` tests to completion in a fresh event loop."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}
    asyncio.run(pyfuncitem.obj(**kwargs))
    return True


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Gateway:
    """A running gateway subprocess and how to reach it."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    base_url: str = "/"
    token: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.base_url.rstrip('/')}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{self.base_url.rstrip('/')}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | dict | list | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 60.0,
    ) -> tuple[int, dict[str, str], bytes]:
        """Send one HTTP request; return (status, headers, body) whatever the status."""
        all_headers = dict(self.headers)
        if self.token:
            all_headers["Authorization"] = f"token {self.token}"
        all_headers.update(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            all_headers.setdefault("Content-Type", "application/json")
        data = body.encode() if isinstance(body, str) else body
        req = urllib.request.Request(
            self.http_url + path, data=data, method=method, headers=all_headers
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, dict(resp.headers.items()), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers.items()), err.read()

    def json(self, method: str, path: str, body: object = None, **kw: object) -> tuple[int, object]:
        """Send one request and decode its JSON answer."""
        status, _, raw = self.request(method, path, body, **kw)  # type: ignore[arg-type]
        return status, json.loads(raw) if raw else None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Stop the gateway through its own shutdown; return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


SERVING_AT = re.compile(r"Jupyter Kernel Gateway \S+ \(\S+ mode\) at https?://\S+?:(\d+)/")


def wait_until_serving(gateway: Gateway, path: str) -> None:
    """Poll until the gateway serves `path` (answers it, other than "starting"), or fail.

    The port our gateway says it serves on wins: the one asked for may have been taken
    meanwhile (by another test's kernel), and the gateway then moved to the next one.
    Other servers (jupyter_server in the interop tests) are polled on the port asked for.
    """
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if gateway.process.poll() is not None:
            raise RuntimeError(
                f"gateway exited with {gateway.process.returncode}:\n{gateway.log()}"
            )
        serving_at = SERVING_AT.search(gateway.log())
        if serving_at is not None:
            gateway.port = int(serving_at.group(1))
        try:
            with socket.create_connection(("127.0.0.1", gateway.port), timeout=0.5):
                pass
            status, _, body = gateway.request("GET", path, timeout=10)
            if status != 503 or b"starting" not in body:  # our gateway, still starting
                return
            time.sleep(0.1)
        except OSError:
            time.sleep(0.1)
    gateway.stop()
    raise RuntimeError(f"gateway did not start in {START_TIMEOUT}s:\n{gateway.log()}")


def gateway_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a test gateway runs in: ours less any KG_* variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KG_")}
    env.update(extra or {})
    return env


GatewayFactory = Callable[..., Gateway]


@contextmanager
def serving(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayFactory]:
    """Start gateways with the given CLI arguments; stop them all on exit."""
    started: list[Gateway] = []

    def start(
        *argv: str,
        env: dict[str, str] | None = None,
        ready_path: str = "/api",
        wait: bool = True,
        cwd: Path | None = None,
        port: int | None = None,
    ) -> Gateway:
        retries = 20 if port is None else 0  # a port asked for is that port or nothing
        port = port or free_port()
        log_path = tmp_path_factory.mktemp("gateway") / "gateway.log"
        args = [
            sys.executable,
            "-m",
            "kernel_gateway",
            f"--port={port}",
            f"--port_retries={retries}",
        ]
        args += list(argv)
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, env=gateway_env(env), cwd=cwd or ROOT
            )
        gateway = Gateway(process=process, port=port, log_path=log_path)
        for arg in argv:
            if arg.startswith("--base_url="):
                gateway.base_url = "/" + arg.split("=", 1)[1].strip("/")  # as the gateway does
            if arg.startswith("--auth_token="):
                gateway.token = arg.split("=", 1)[1]
        started.append(gateway)
        if wait:
            wait_until_serving(gateway, ready_path)
        return gateway

    try:
        yield start
    finally:
        for gateway in started:
            gateway.stop()


@pytest.fixture
def gateway_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayFactory]:
    """Gateways started in one test, stopped after it."""
    with serving(tmp_path_factory) as start:
        yield start


@pytest.fixture(scope="module")
def module_gateway_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayFactory]:
    """Gateways shared by the tests of one module, stopped after the last of them."""
    with serving(tmp_path_factory) as start:
        yield start


def run_cli(
    *argv: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60.0,
    command: tuple[str, ...] = (sys.executable, "-m", "kernel_gateway"),
) -> subprocess.CompletedProcess[str]:
    """Run the gateway's command line to completion; stdout and stderr together in `.stdout`."""
    return subprocess.run(
        [*command, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=gateway_env(env),
        cwd=cwd or ROOT,
        timeout=timeout,
        check=False,
    )


def child_pids(pid: int) -> list[int]:
    """The pids of a process's direct children (kernels of a gateway), from /proc."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return sorted(set(children))


def process_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def notebook_json(
    *sources: str, kernel: str = "python3", metadata: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An nbformat 4 notebook with one code cell per source, and `metadata` beside its
    kernelspec."""
    cells = [
        {
            "cell_type": "code",
            "id": f"cell{index}",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": source,
        }
        for index, source in enumerate(sources)
    ]
    spec = {"name": kernel, "display_name": kernel, "language": "python"}
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": spec, **(metadata or {})},
        "cells": cells,
    }


def write_notebook(path: Path, *sources: str, kernel: str = "python3") -> Path:
    """Write an nbformat 4 notebook with one code cell per source; return its path."""
    path.write_text(json.dumps(notebook_json(*sources, kernel=kernel)))
    return path


@pytest.fixture(scope="session")
def ssh_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshHost]:
    """A private sshd on 127.0.0.2 and the ssh_python kernelspec, shared by the whole session;
    the test skips (with the reason) where sshd is not installed."""
    try:
        host = start_sshd(tmp_path_factory.mktemp("sshd"))
    except SshdUnavailable as err:
        pytest.skip(f"no SSH host for remote kernels: {err}")
    yield host
    host.stop()


@pytest.fixture
def lb_dir(tmp_path: Path) -> Path:
    """A directory for haproxy's files; skips (saying why) where haproxy is not installed."""
    try:
        find_haproxy()
    except HAProxyUnavailable as err:
        pytest.skip(str(err))
    return tmp_path
