"""jupyter_server's own gateway client, unchanged, in front of our jupyter-websocket gateway.

One gateway and one `jupyter server --gateway-url=...` (a subprocess from this venv, with its own
config, data and runtime dirs) are shared by the module. Every request here goes to jupyter_server's
REST API or websocket, as JupyterLab would send it; our gateway is only asked whether the kernels
jupyter_server manages through it exist. On failure, both servers' logs since the test started
are printed.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    Gateway,
    GatewayFactory,
    child_pids,
    free_port,
    gateway_env,
    process_alive,
    wait_until_serving,
)
from jupyter_server.services.kernels.connection.base import (
    deserialize_msg_from_ws_v1,
    serialize_msg_to_ws_v1,
)
from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

GATEWAY_TOKEN = "gateway-secret"
SERVER_TOKEN = "server-secret"
V1 = "v1.kernel.websocket.jupyter.org"
TIMEOUT = 30.0
KEYS = ("header", "parent_header", "metadata", "content")


@dataclass
class Stack:
    """Our gateway and the jupyter server that uses it (a `Gateway` serves for both)."""

    gateway: Gateway
    server: Gateway

    def logs(self) -> tuple[int, int]:
        """How long each log is now, to print only what a test adds."""
        return len(self.gateway.log()), len(self.server.log())


def start_jupyter_server(root: Path, gateway_url: str, *options: str) -> Gateway:
    """Start `jupyter server` on a free port with the gateway at `gateway_url` (and any more
    `options`); wait for it."""
    port = free_port()
    dirs = {name: root / name for name in ("config", "data", "runtime", "notebooks")}
    for path in dirs.values():
        path.mkdir()
    env = gateway_env(
        {
            "JUPYTER_CONFIG_DIR": str(dirs["config"]),
            "JUPYTER_DATA_DIR": str(dirs["data"]),
            "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
            "JUPYTER_PLATFORM_DIRS": "1",
        }
    )
    args = [
        sys.executable,
        "-m",
        "jupyter_server",
        f"--gateway-url={gateway_url}",
        f"--GatewayClient.auth_token={GATEWAY_TOKEN}",
        f"--IdentityProvider.token={SERVER_TOKEN}",
        f"--ServerApp.root_dir={dirs['notebooks']}",
        "--ServerApp.ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        "--no-browser",
        "--allow-root",
        *options,
    ]
    log_path = root / "jupyter_server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=log, env=env, cwd=dirs["notebooks"])
    server = Gateway(process=process, port=port, log_path=log_path, token=SERVER_TOKEN)
    wait_until_serving(server, "/api/status")
    return server


@pytest.fixture(scope="module")
def stack(
    module_gateway_factory: GatewayFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    gateway = module_gateway_factory(f"--auth_token={GATEWAY_TOKEN}")
    server = start_jupyter_server(tmp_path_factory.mktemp("jupyter"), gateway.http_url)
    yield Stack(gateway, server)
    server.stop()


@pytest.fixture(autouse=True)
def logs_on_failure(stack: Stack) -> Iterator[None]:
    """Print what both servers logged during the test (pytest shows it only on failure)."""
    gateway_start, server_start = stack.logs()
    yield
    print("---- our gateway ----\n" + stack.gateway.log()[gateway_start:])
    print("---- jupyter server ----\n" + stack.server.log()[server_start:])


@pytest.fixture
def kernel_id(stack: Stack) -> Iterator[str]:
    """The kernel of a new notebook session made through jupyter_server."""
    body = {"path": "a.ipynb", "type": "notebook", "name": "", "kernel": {"name": "python3"}}
    status, session = stack.server.json("POST", "/api/sessions", body)
    assert status == 201, session
    assert isinstance(session, dict)
    yield session["kernel"]["id"]
    stack.server.request("DELETE", f"/api/sessions/{session['id']}")


def message(msg_type: str, content: dict[str, Any], session: str) -> dict[str, Any]:
    """A client request, with the header fields JupyterLab sends."""
    header = {
        "msg_id": uuid.uuid4().hex,
        "msg_type": msg_type,
        "session": session,
        "username": "lab",
        "date": "2024-01-01T00:00:00.000000Z",
        "version": "5.3",
    }
    return {"header": header, "parent_header": {}, "metadata": {}, "content": content}


class ServerSocket:
    """A websocket to a kernel through jupyter_server, in the wire format the server selected.

    Offered v1.kernel.websocket.jupyter.org, jupyter_server 2 in front of a gateway selects no
    subprotocol (its GatewayWebSocketConnection relays JSON text), and JupyterLab then speaks
    JSON: both formats are handled, so the tests hold whichever it selects.
    """

    def __init__(self, conn: WebSocketClientConnection, session: str) -> None:
        self.conn = conn
        self.session = session
        self.v1 = conn.selected_subprotocol == V1

    async def send(self, channel: str, msg: dict[str, Any]) -> None:
        if self.v1:
            parts = [json.dumps(msg[key]).encode() for key in KEYS]
            await self.conn.write_message(serialize_msg_to_ws_v1(parts, channel), binary=True)
        else:
            await self.conn.write_message(json.dumps({**msg, "channel": channel}))

    async def receive(self) -> dict[str, Any]:
        frame = await self.next_frame()
        assert frame is not None, "websocket closed"
        if not self.v1:
            return dict(json.loads(frame))
        assert isinstance(frame, bytes)
        channel, parts = deserialize_msg_from_ws_v1(frame)
        fields = zip(KEYS, parts[:4], strict=True)
        return {"channel": channel, **{key: json.loads(part) for key, part in fields}}

    async def request(self, msg_type: str, content: dict[str, Any]) -> list[dict[str, Any]]:
        """Send a shell request; the messages answering it, through its reply and idle status."""
        request = message(msg_type, content, self.session)
        await self.send("shell", request)
        reply_type = msg_type.replace("_request", "_reply")
        got: list[dict[str, Any]] = []
        while not (of_type(got, reply_type) and idle_in(got)):
            msg = await self.receive()
            if msg["parent_header"].get("msg_id") == request["header"]["msg_id"]:
                got.append(msg)
        return got

    async def execute(self, code: str) -> list[dict[str, Any]]:
        """Run `code`; the messages answering it, through its execute_reply and idle status."""
        return await self.request("execute_request", {"code": code, "silent": False})

    async def close(self) -> None:
        """Close and wait for the server's close, so no socket is left to the garbage collector."""
        closed_by_server = self.conn.close_code is not None
        self.conn.close()
        while not closed_by_server and await self.next_frame() is not None:
            pass

    async def next_frame(self) -> str | bytes | None:
        """The next frame the server sends; None once it closed the websocket."""
        return await asyncio.wait_for(self.conn.read_message(), TIMEOUT)


@asynccontextmanager
async def opened(
    server: Gateway, kernel_id: str, session: str, offer_v1: bool = False
) -> AsyncIterator[ServerSocket]:
    """A websocket to a kernel through jupyter_server, closed (and waited for) on leaving."""
    url = f"{server.ws_url}/api/kernels/{kernel_id}/channels"
    request = HTTPRequest(f"{url}?session_id={session}&token={SERVER_TOKEN}")
    connecting = websocket_connect(request, subprotocols=[V1] if offer_v1 else None)
    ws = ServerSocket(await asyncio.wait_for(connecting, TIMEOUT), session)
    try:
        yield ws
    finally:
        await ws.close()


def of_type(messages: list[dict[str, Any]], msg_type: str) -> list[dict[str, Any]]:
    return [msg for msg in messages if msg["header"]["msg_type"] == msg_type]


def idle_in(messages: list[dict[str, Any]]) -> bool:
    return any(m["content"].get("execution_state") == "idle" for m in of_type(messages, "status"))


def stdout(messages: list[dict[str, Any]]) -> str:
    return "".join(m["content"]["text"] for m in of_type(messages, "stream"))


def test_kernelspecs_come_from_our_gateway(stack: Stack) -> None:
    status, specs = stack.server.json("GET", "/api/kernelspecs")
    assert status == 200
    _, ours = stack.gateway.json("GET", "/api/kernelspecs")
    assert isinstance(specs, dict)
    assert isinstance(ours, dict)
    assert "python3" in specs["kernelspecs"]
    assert set(specs["kernelspecs"]) == set(ours["kernelspecs"])
    assert specs["kernelspecs"]["python3"]["spec"]["language"] == "python"


def test_session_kernel_lives_on_our_gateway_until_deleted(stack: Stack) -> None:
    before = set(child_pids(stack.gateway.process.pid))
    body = {"path": "b.ipynb", "type": "notebook", "name": "", "kernel": {"name": "python3"}}
    status, session = stack.server.json("POST", "/api/sessions", body)
    assert status == 201, session
    assert isinstance(session, dict)
    kernel_id = session["kernel"]["id"]
    status, model = stack.gateway.json("GET", f"/api/kernels/{kernel_id}")
    assert status == 200
    assert isinstance(model, dict)
    assert (model["id"], model["name"]) == (kernel_id, "python3")
    status, proxied = stack.server.json("GET", f"/api/kernels/{kernel_id}")
    assert status == 200
    assert isinstance(proxied, dict)
    assert proxied["id"] == kernel_id
    (pid,) = set(child_pids(stack.gateway.process.pid)) - before

    status, _, _ = stack.server.request("DELETE", f"/api/sessions/{session['id']}")
    assert status == 204
    status, _ = stack.gateway.json("GET", f"/api/kernels/{kernel_id}")
    assert status == 404
    deadline = time.monotonic() + 10
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not process_alive(pid)


@pytest.mark.parametrize("offer_v1", [False, True], ids=["no-subprotocol", "v1-offered"])
async def test_execute_over_server_websocket(stack: Stack, kernel_id: str, offer_v1: bool) -> None:
    async with opened(stack.server, kernel_id, uuid.uuid4().hex, offer_v1) as ws:
        messages = await ws.execute("print(6*7)")
    assert stdout(messages) == "42\n"
    (reply,) = of_type(messages, "execute_reply")
    assert reply["content"]["status"] == "ok"
    assert reply["channel"] == "shell"


async def test_restart_through_server_resets_state(stack: Stack, kernel_id: str) -> None:
    async with opened(stack.server, kernel_id, uuid.uuid4().hex) as ws:
        assert of_type(await ws.execute("x = 1"), "execute_reply")[0]["content"]["status"] == "ok"
        status, model = stack.server.json("POST", f"/api/kernels/{kernel_id}/restart", b"")
        assert status == 200, model
        assert stdout(await ws.execute("print('x' in dir())")) == "False\n"


async def test_interrupt_through_server_stops_a_sleep(stack: Stack, kernel_id: str) -> None:
    async with opened(stack.server, kernel_id, uuid.uuid4().hex) as ws:
        running = asyncio.ensure_future(ws.execute("import time; time.sleep(30)"))
        await asyncio.sleep(1.5)  # the sleep has started
        started = time.monotonic()
        status, _, body = stack.server.request("POST", f"/api/kernels/{kernel_id}/interrupt", b"")
        assert status == 204, body
        messages = await asyncio.wait_for(running, TIMEOUT)
    assert time.monotonic() - started < 10
    (reply,) = of_type(messages, "execute_reply")
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"


async def test_notebook_open_with_two_sockets_of_one_session(stack: Stack, kernel_id: str) -> None:
    """JupyterLab opens a second websocket with the same session_id and keeps both open."""
    session = uuid.uuid4().hex
    async with opened(stack.server, kernel_id, session, offer_v1=True) as first:
        info = of_type(await first.request("kernel_info_request", {}), "kernel_info_reply")
        assert info[0]["content"]["status"] == "ok"
        async with opened(stack.server, kernel_id, session, offer_v1=True) as second:
            info = of_type(await second.request("kernel_info_request", {}), "kernel_info_reply")
            assert info[0]["content"]["language_info"]["name"] == "python"
            assert stdout(await second.execute("print(6*7)")) == "42\n"
            assert stdout(await first.execute("print('first')")) == "first\n"
