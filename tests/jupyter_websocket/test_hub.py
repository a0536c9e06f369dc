"""Websockets that misbehave toward a shared kernel, against a real gateway and real kernels."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from conftest import Gateway, GatewayFactory
from tornado.websocket import WebSocketClosedError
from ws_client import KernelSocket, make_message, of_type, stdout

FLOOD_MESSAGES = 20_000
FLOOD_FILLER = "x" * 2000


def start_kernel(gateway: Gateway) -> str:
    status, model = gateway.json("POST", "/api/kernels", {})
    assert status == 201
    assert isinstance(model, dict)
    return str(model["id"])


async def drain(ws: KernelSocket) -> list[dict[str, Any]]:
    """Every message until the gateway closes the websocket."""
    received = []
    while (msg := await ws.receive()) is not None:
        received.append(msg)
    return received


async def flood(ws: KernelSocket) -> int:
    """Send 2 KB execute_requests until the gateway closes the websocket; return how many."""
    for sent in range(FLOOD_MESSAGES):
        try:
            await ws.send("shell", "execute_request", {"code": f"# {FLOOD_FILLER}"})
        except WebSocketClosedError:
            return sent
    return FLOOD_MESSAGES


async def test_a_client_flooding_a_busy_kernel_is_closed_and_the_gateway_keeps_serving(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = gateway_factory()
    busy_id, other_id = start_kernel(gateway), start_kernel(gateway)
    flooder = await KernelSocket.open(gateway.ws_url, busy_id)
    sleeping = await flooder.send(
        "shell", "execute_request", {"code": "import time; time.sleep(25)"}
    )
    await flooder.wait_for("execute_input", sleeping)

    await asyncio.wait_for(flood(flooder), 60)
    await asyncio.wait_for(drain(flooder), 30)

    assert flooder.conn.close_code == 1008
    assert flooder.conn.close_reason == "the kernel is not reading messages this fast"
    assert gateway.request("GET", f"/api/kernels/{busy_id}", timeout=5)[0] == 200
    other = await KernelSocket.open(gateway.ws_url, other_id)
    assert stdout(await other.execute("print('still served')")) == "still served\n"
    await other.close()
    await flooder.close()
    started = time.monotonic()
    assert gateway.stop(timeout=20) == 0
    assert time.monotonic() - started < 20


async def test_a_client_cannot_take_over_another_clients_pending_request(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = gateway_factory()
    kernel_id = start_kernel(gateway)
    owner = await KernelSocket.open(gateway.ws_url, kernel_id)
    thief = await KernelSocket.open(gateway.ws_url, kernel_id, v1=True)
    msg_id = await owner.send(
        "shell", "execute_request", {"code": "import time; time.sleep(1); print('mine')"}
    )
    seen = await thief.wait_for("execute_input", msg_id)  # iopub shows it the msg_id

    stolen = make_message("execute_request", {"code": "print('stolen')"}, thief.session)
    stolen["header"]["msg_id"] = seen["parent_header"]["msg_id"]
    await thief.send_raw("shell", stolen)
    await asyncio.wait_for(drain(thief), 30)

    assert (thief.conn.close_code, thief.conn.close_reason) == (
        1008,
        "msg_id in use by another client",
    )
    replies = await owner.replies_to(msg_id, "execute_reply")
    assert stdout(replies) == "mine\n"
    assert len(of_type(replies, "execute_reply")) == 1
    await owner.close()
    await thief.close()


async def test_a_client_may_reuse_its_own_pending_msg_id(gateway_factory: GatewayFactory) -> None:
    gateway = gateway_factory()
    kernel_id = start_kernel(gateway)
    ws = await KernelSocket.open(gateway.ws_url, kernel_id)
    first = make_message("execute_request", {"code": "print('one')"}, ws.session)
    second = make_message("execute_request", {"code": "print('two')"}, ws.session)
    second["header"]["msg_id"] = first["header"]["msg_id"]
    await ws.send_raw("shell", first)
    await ws.send_raw("shell", second)

    messages: list[dict[str, Any]] = []
    while len([m for m in messages if m["content"].get("execution_state") == "idle"]) < 2:
        msg = await ws.receive()
        assert msg is not None, "websocket closed"
        if msg["parent_header"].get("msg_id") == first["header"]["msg_id"]:
            messages.append(msg)

    assert stdout(messages) == "one\ntwo\n"
    assert ws.conn.close_code is None
    await ws.close()


async def test_requests_missing_header_fields_are_answered(gateway_factory: GatewayFactory) -> None:
    gateway = gateway_factory()
    kernel_id = start_kernel(gateway)
    for v1 in (False, True):
        ws = await KernelSocket.open(gateway.ws_url, kernel_id, v1=v1)
        bare = make_message("execute_request", {"code": "print('bare')"}, ws.session)
        bare["header"] = {key: bare["header"][key] for key in ("msg_id", "msg_type")}
        await ws.send_raw("shell", bare)

        messages = await asyncio.wait_for(
            ws.replies_to(bare["header"]["msg_id"], "execute_reply"), 10
        )

        assert stdout(messages) == "bare\n"
        (execute_input,) = of_type(messages, "execute_input")
        parent = execute_input["parent_header"]
        assert (parent["version"], parent["session"], parent["username"]) == ("5.3", ws.session, "")
        assert parent["date"].endswith(("Z", "+00:00"))
        await ws.close()


async def test_a_websocket_dropped_with_frames_queued_leaves_no_task_errors(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = gateway_factory()
    kernel_id = start_kernel(gateway)
    ws = await KernelSocket.open(gateway.ws_url, kernel_id)
    code = "for _ in range(3000): display('x' * 5000)"  # one message each
    await ws.send("shell", "execute_request", {"code": code})
    await ws.wait_for("display_data")
    await asyncio.sleep(2)  # not reading: the gateway's frames pile up unsent
    ws.conn.stream.close()  # gone without a closing handshake, frames still on their way
    ws.conn.close()  # (only forgets the connection now)

    watcher = await KernelSocket.open(gateway.ws_url, kernel_id)
    assert stdout(await watcher.execute("print('after')")) == "after\n"
    await watcher.close()
    assert gateway.stop() == 0
    assert "exception was never retrieved" not in gateway.log()
