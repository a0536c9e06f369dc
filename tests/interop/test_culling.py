"""Idle culling end to end: real gateways with a 2 s idle timeout checked every second.

Three gateways start in parallel and serve the whole module: culling set on the command line,
set through KG_* variables, and set on the command line with `cull_connected=True`. Kernels are
made with POST /api/kernels and watched through the REST API and /proc.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from conftest import Gateway, GatewayFactory, child_pids, process_alive, wait_until_serving
from tornado.websocket import WebSocketClientConnection, websocket_connect

CULL_CLI = ("--MappingKernelManager.cull_idle_timeout=2", "--MappingKernelManager.cull_interval=1")
CULL_ENV = {"KG_CULL_IDLE_TIMEOUT": "2", "KG_CULL_INTERVAL": "1"}
CULLED_WITHIN = 6.0  # seconds: 2 s idle + a 1 s check + a kernel shutdown, with slack
TIMEOUT = 30.0


@pytest.fixture(scope="module")
def gateways(module_gateway_factory: GatewayFactory) -> dict[str, Gateway]:
    """The module's gateways by how culling was set, started at once."""
    started = {
        "cli": module_gateway_factory(*CULL_CLI, wait=False),
        "env": module_gateway_factory(env=CULL_ENV, wait=False),
        "connected": module_gateway_factory(
            *CULL_CLI, "--MappingKernelManager.cull_connected=True", wait=False
        ),
    }
    for gateway in started.values():
        wait_until_serving(gateway, "/api")
    return started


@pytest.fixture(autouse=True)
def logs_on_failure(gateways: dict[str, Gateway]) -> Iterator[None]:
    """Print what each gateway logged during the test (pytest shows it only on failure)."""
    starts = {name: len(gateway.log()) for name, gateway in gateways.items()}
    yield
    for name, gateway in gateways.items():
        print(f"---- gateway {name} ----\n" + gateway.log()[starts[name] :])


def start_kernel(gateway: Gateway) -> tuple[str, int]:
    """POST /api/kernels; return the kernel's id and process id."""
    before = set(child_pids(gateway.process.pid))
    status, model = gateway.json("POST", "/api/kernels", {})
    assert status == 201, model
    assert isinstance(model, dict)
    (pid,) = set(child_pids(gateway.process.pid)) - before
    return model["id"], pid


def kernel_exists(gateway: Gateway, kernel_id: str) -> bool:
    status, _ = gateway.json("GET", f"/api/kernels/{kernel_id}")
    assert status in (200, 404)
    return status == 200


async def eventually(condition: Callable[[], bool], within: float) -> float:
    """Wait until `condition()` holds; return the seconds it took, or fail after `within`."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < within, f"not so within {within} s"
        await asyncio.sleep(0.2)
    return time.monotonic() - started


def culled(gateway: Gateway, kernel_id: str, pid: int) -> Callable[[], bool]:
    return lambda: not kernel_exists(gateway, kernel_id) and not process_alive(pid)


@asynccontextmanager
async def connected(gateway: Gateway, kernel_id: str) -> AsyncIterator[WebSocketClientConnection]:
    """A websocket to a kernel, closed (and waited for) on leaving."""
    url = f"{gateway.ws_url}/api/kernels/{kernel_id}/channels?session_id={uuid.uuid4().hex}"
    ws = await asyncio.wait_for(websocket_connect(url), TIMEOUT)
    try:
        yield ws
    finally:
        closed_by_gateway = ws.close_code is not None
        ws.close()
        if not closed_by_gateway:
            await closed(ws)


async def send_execute(ws: WebSocketClientConnection, code: str) -> str:
    """Send an execute_request in the JSON wire format; return its msg_id."""
    msg_id = uuid.uuid4().hex
    header = {"msg_id": msg_id, "msg_type": "execute_request", "session": "s", "version": "5.3"}
    content = {"code": code, "silent": False}
    msg = {"header": header, "parent_header": {}, "metadata": {}, "content": content}
    await ws.write_message(json.dumps({**msg, "channel": "shell"}))
    return msg_id


async def wait_for(ws: WebSocketClientConnection, msg_id: str, msg_type: str) -> dict[str, Any]:
    """The next message of `msg_type` answering `msg_id`."""
    while True:
        frame = await asyncio.wait_for(ws.read_message(), TIMEOUT)
        assert frame is not None, "websocket closed"
        msg = json.loads(frame)
        if msg["parent_header"].get("msg_id") == msg_id and msg["header"]["msg_type"] == msg_type:
            return dict(msg)


async def closed(ws: WebSocketClientConnection) -> None:
    """Read until the server closes the websocket."""
    while await asyncio.wait_for(ws.read_message(), TIMEOUT) is not None:
        pass


async def test_idle_kernels_are_culled_when_set_by_cli_or_env(
    gateways: dict[str, Gateway],
) -> None:
    kernels = {name: start_kernel(gateways[name]) for name in ("cli", "env")}
    await asyncio.gather(
        *(
            eventually(culled(gateways[name], kernel_id, pid), CULLED_WITHIN)
            for name, (kernel_id, pid) in kernels.items()
        )
    )


async def test_connected_kernel_survives_until_its_websocket_closes(
    gateways: dict[str, Gateway],
) -> None:
    gateway = gateways["cli"]
    kernel_id, pid = start_kernel(gateway)
    async with connected(gateway, kernel_id) as ws:
        await asyncio.sleep(4)  # twice the idle timeout
        assert kernel_exists(gateway, kernel_id)
        await wait_for(ws, await send_execute(ws, "1"), "execute_reply")
    await eventually(culled(gateway, kernel_id, pid), CULLED_WITHIN)


async def test_connected_kernel_is_culled_with_cull_connected(
    gateways: dict[str, Gateway],
) -> None:
    gateway = gateways["connected"]
    kernel_id, pid = start_kernel(gateway)
    async with connected(gateway, kernel_id) as ws:
        await eventually(culled(gateway, kernel_id, pid), CULLED_WITHIN)
        await closed(ws)  # by the gateway


async def test_busy_kernel_is_not_culled_until_idle(gateways: dict[str, Gateway]) -> None:
    """With cull_connected on, only being busy keeps this kernel (cull_busy is off)."""
    gateway = gateways["connected"]
    kernel_id, pid = start_kernel(gateway)
    async with connected(gateway, kernel_id) as ws:
        msg_id = await send_execute(ws, "import time; time.sleep(6)")
        await wait_for(ws, msg_id, "status")  # busy
        await asyncio.sleep(4.5)  # over twice the idle timeout, still sleeping
        assert kernel_exists(gateway, kernel_id)
        reply = await wait_for(ws, msg_id, "execute_reply")
        assert reply["content"]["status"] == "ok"
        await eventually(culled(gateway, kernel_id, pid), CULLED_WITHIN)
        await closed(ws)  # by the gateway
