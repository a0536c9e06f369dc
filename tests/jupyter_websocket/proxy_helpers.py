"""Helpers of the kernel proxy tests: a kernel that runs `upstream_app.py`, raw HTTP requests."""

from __future__ import annotations

import asyncio
import http.client
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conftest import Gateway
from tornado.httpclient import AsyncHTTPClient
from ws_client import KernelSocket, of_type, stdout

UPSTREAM_APP = (Path(__file__).parent / "upstream_app.py").read_text()
START_UPSTREAM = f"""
import types
_upstream = types.ModuleType("upstream_app")
exec(compile({UPSTREAM_APP!r}, "upstream_app.py", "exec"), _upstream.__dict__)
print(_upstream.serve())
"""
ZMQ_PORTS = """
import json
from ipykernel.connect import get_connection_info
_info = json.loads(get_connection_info())
print(json.dumps(sorted(value for name, value in _info.items() if name.endswith("_port"))))
"""
DEADLINE = 30.0


@dataclass(frozen=True)
class KernelApp:
    """A kernel running the upstream app, and where the proxy reaches it."""

    kernel_id: str
    port: int
    zmq_ports: list[int]

    @property
    def prefix(self) -> str:
        return f"/api/kernels/{self.kernel_id}/proxy/{self.port}"


def auth(gateway: Gateway) -> dict[str, str]:
    return {"Authorization": f"token {gateway.token}"} if gateway.token else {}


async def run(gateway: Gateway, kernel_id: str, code: str) -> str:
    """Run `code` in the kernel; return its stdout (fails on an error)."""
    socket = await KernelSocket.open(gateway.ws_url, kernel_id, headers=auth(gateway))
    try:
        messages = await socket.execute(code)
    finally:
        await socket.close()
    assert not of_type(messages, "error"), of_type(messages, "error")
    return stdout(messages)


async def launch_kernel_app(gateway: Gateway) -> KernelApp:
    """Start a kernel and the upstream app in it."""
    status, model = gateway.json("POST", "/api/kernels", {})
    assert status == 201, model
    assert isinstance(model, dict)
    kernel_id = model["id"]
    port = int(await run(gateway, kernel_id, START_UPSTREAM))
    zmq_ports = json.loads(await run(gateway, kernel_id, ZMQ_PORTS))
    return KernelApp(kernel_id, port, zmq_ports)


def start_kernel_app(gateway: Gateway) -> KernelApp:
    """`launch_kernel_app` for tests that are not async."""
    return asyncio.run(launch_kernel_app(gateway))


def raw_request(
    gateway: Gateway,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request exactly as given (no redirects followed, headers as they are)."""
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=60)
    try:
        connection.request(method, gateway.base_url.rstrip("/") + path, body, headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def error_of(raw: bytes) -> dict[str, Any]:
    """A JSON error body, checked for its shape."""
    body = json.loads(raw)
    assert set(body) == {"reason", "message"}, body
    return dict(body)


async def wait_for_json(url: str, headers: dict[str, str], done: Any) -> dict[str, Any]:
    """GET `url` until `done(body)` holds (polled, up to a deadline); return that body."""
    client = AsyncHTTPClient()
    deadline = time.monotonic() + DEADLINE
    while True:
        body = json.loads((await client.fetch(url, headers=headers)).body)
        if done(body) or time.monotonic() > deadline:
            return dict(body)
        await asyncio.sleep(0.02)


def wait_for_log(gateway: Gateway, text: str) -> bool:
    """Poll the gateway's log until it shows `text` (up to a deadline); True if it did."""
    deadline = time.monotonic() + DEADLINE
    while text not in gateway.log():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
