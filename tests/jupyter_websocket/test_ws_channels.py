"""The websocket bridge, against a real gateway and real ipykernel kernels."""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Gateway, GatewayFactory, write_notebook
from tornado.httpclient import HTTPClientError
from ws_client import KernelSocket, of_type, stdout

BOTH = pytest.mark.parametrize("v1", [False, True], ids=["json", "v1"])


@pytest.fixture(scope="module")
def gateway(module_gateway_factory: GatewayFactory) -> Gateway:
    return module_gateway_factory()


@pytest.fixture
def kernel_id(gateway: Gateway) -> Iterator[str]:
    status, model = gateway.json("POST", "/api/kernels", {})
    assert status == 201
    assert isinstance(model, dict)
    yield model["id"]
    gateway.request("DELETE", f"/api/kernels/{model['id']}")


@BOTH
async def test_execute_streams_results_errors_and_status(
    gateway: Gateway, kernel_id: str, v1: bool
) -> None:
    ws = await KernelSocket.open(gateway.ws_url, kernel_id, v1=v1)
    messages = await ws.execute("print('hello'); 6 * 7")
    assert stdout(messages) == "hello\n"
    assert [m["content"]["data"] for m in of_type(messages, "execute_result")] == [
        {"text/plain": "42"}
    ]
    states = [m["content"]["execution_state"] for m in of_type(messages, "status")]
    assert states == ["busy", "idle"]
    (reply,) = of_type(messages, "execute_reply")
    assert reply["channel"] == "shell"
    assert reply["content"]["status"] == "ok"
    assert {m["channel"] for m in messages} == {"iopub", "shell"}

    failed = await ws.execute("1 / 0")
    (error,) = of_type(failed, "error")
    assert error["content"]["ename"] == "ZeroDivisionError"
    assert of_type(failed, "execute_reply")[0]["content"]["status"] == "error"
    await ws.close()


@BOTH
async def test_stdin_input_request_and_reply(gateway: Gateway, kernel_id: str, v1: bool) -> None:
    ws = await KernelSocket.open(gateway.ws_url, kernel_id, v1=v1)
    msg_id = await ws.send(
        "shell", "execute_request", {"code": "x = input('name? ')", "allow_stdin": True}
    )
    request = await ws.wait_for("input_request", msg_id)
    assert request["channel"] == "stdin"
    assert request["content"]["prompt"] == "name? "
    await ws.send("stdin", "input_reply", {"value": "Ada"})
    await ws.replies_to(msg_id, "execute_reply")
    assert stdout(await ws.execute("print(x)")) == "Ada\n"
    await ws.close()


async def test_two_clients_share_iopub_but_not_replies(gateway: Gateway, kernel_id: str) -> None:
    first = await KernelSocket.open(gateway.ws_url, kernel_id)
    second = await KernelSocket.open(gateway.ws_url, kernel_id, v1=True)
    messages = await first.execute("print('both')")
    assert stdout(messages) == "both\n"
    msg_id = messages[0]["parent_header"]["msg_id"]
    received = await second.replies_to(msg_id, None)
    assert stdout(received) == "both\n"
    assert of_type(received, "execute_reply") == []
    await first.close()
    await second.close()


async def test_same_session_id_gets_each_its_own_replies(gateway: Gateway, kernel_id: str) -> None:
    first = await KernelSocket.open(gateway.ws_url, kernel_id, session_id="shared")
    second = await KernelSocket.open(gateway.ws_url, kernel_id, session_id="shared")
    one = await first.send("shell", "kernel_info_request", {})
    two = await second.send("shell", "kernel_info_request", {})
    assert of_type(await first.replies_to(one, "kernel_info_reply"), "kernel_info_reply")
    assert of_type(await second.replies_to(two, "kernel_info_reply"), "kernel_info_reply")
    assert all(
        m["parent_header"].get("msg_id") != two for m in first.backlog if m["channel"] == "shell"
    )
    await first.close()
    await second.close()


async def test_interrupt_stops_a_running_cell(gateway: Gateway, kernel_id: str) -> None:
    ws = await KernelSocket.open(gateway.ws_url, kernel_id)
    code = "import time; print('sleeping', flush=True); time.sleep(60)"
    msg_id = await ws.send("shell", "execute_request", {"code": code})
    await ws.wait_for("stream", msg_id)  # the cell is in its sleep
    status, _, _ = gateway.request("POST", f"/api/kernels/{kernel_id}/interrupt")
    assert status == 204
    messages = await ws.replies_to(msg_id, "execute_reply")
    assert of_type(messages, "error")[0]["content"]["ename"] == "KeyboardInterrupt"
    await ws.close()


async def test_restart_keeps_the_id_and_resets_state(gateway: Gateway, kernel_id: str) -> None:
    ws = await KernelSocket.open(gateway.ws_url, kernel_id)
    await ws.execute("secret = 1")
    status, model = gateway.json("POST", f"/api/kernels/{kernel_id}/restart")
    assert status == 200
    assert isinstance(model, dict)
    assert model["id"] == kernel_id
    messages = await ws.execute("print('secret' in globals())")
    assert stdout(messages) == "False\n"
    states = [m["content"]["execution_state"] for m in of_type(ws.backlog, "status")]
    assert "restarting" not in states  # Jupyter servers send it only when a kernel died
    assert of_type(ws.backlog, "shutdown_reply") != []  # the old kernel's goodbye came first
    await ws.close()


@pytest.mark.parametrize(
    ("v1", "frame", "code"),
    [
        (False, "not json", 1007),
        (False, json.dumps({"header": {}, "content": {}}), 1007),
        (False, struct.pack(">I", 99), 1007),
        (True, b"\x01", 1007),
        (True, "text frame", 1003),
    ],
    ids=["json-garbage", "json-no-msg-id", "json-bad-binary", "v1-truncated", "v1-text"],
)
async def test_malformed_frames_close_only_that_socket(
    gateway: Gateway, kernel_id: str, v1: bool, frame: str | bytes, code: int
) -> None:
    bad = await KernelSocket.open(gateway.ws_url, kernel_id, v1=v1)
    good = await KernelSocket.open(gateway.ws_url, kernel_id)
    await bad.conn.write_message(frame, binary=isinstance(frame, bytes))
    while await bad.receive() is not None:
        pass  # broadcasts sent before the close
    assert bad.conn.close_code == code
    await bad.close()
    assert stdout(await good.execute("print('still here')")) == "still here\n"
    await good.close()


async def test_reconnecting_session_gets_missed_messages(gateway: Gateway, kernel_id: str) -> None:
    watcher = await KernelSocket.open(gateway.ws_url, kernel_id)
    leaving = await KernelSocket.open(gateway.ws_url, kernel_id, session_id="returning")
    msg_id = await leaving.send(
        "shell", "execute_request", {"code": "import time; time.sleep(1); print('missed')"}
    )
    await leaving.close()
    await watcher.replies_to(msg_id, None)
    back = await KernelSocket.open(gateway.ws_url, kernel_id, session_id="returning")
    replayed = await back.replies_to(msg_id, "execute_reply")
    assert stdout(replayed) == "missed\n"
    await watcher.close()
    await back.close()


async def test_unknown_kernel_is_404_and_token_is_required(gateway_factory: GatewayFactory) -> None:
    gateway = gateway_factory("--auth_token=s3cret")
    with pytest.raises(HTTPClientError) as missing:
        await KernelSocket.open(gateway.ws_url, "nope")
    assert missing.value.code == 401
    with pytest.raises(HTTPClientError) as unknown:
        await KernelSocket.open(gateway.ws_url, "nope", headers={"Authorization": "token s3cret"})
    assert unknown.value.code == 404


async def test_kernel_death_is_announced_and_restarted(gateway: Gateway, kernel_id: str) -> None:
    ws = await KernelSocket.open(gateway.ws_url, kernel_id)
    await ws.send("shell", "execute_request", {"code": "import os; os._exit(1)"})
    states: list[str] = []
    while "restarting" not in states:
        msg = await ws.receive()
        assert msg is not None
        states.append(msg["content"].get("execution_state", ""))
    back = await ws.execute("print('back')")
    assert stdout(back) == "back\n"
    # the new kernel greets the gateway's iopub subscription; clients don't see that greeting
    seen = [m["header"]["msg_type"] for m in [*ws.backlog, *back]]
    assert "iopub_welcome" not in seen
    await ws.close()


SLOW_SEED = "import time\ntime.sleep(0.5)\nseeded = 'yes'"


async def test_code_sent_during_a_restart_runs_after_the_seed_cells(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    gateway = gateway_factory(f"--seed_uri={write_notebook(tmp_path / 'seed.ipynb', SLOW_SEED)}")
    _, model = gateway.json("POST", "/api/kernels", {})
    assert isinstance(model, dict)
    ws = await KernelSocket.open(gateway.ws_url, model["id"], session_id="")  # leaves no buffer
    assert stdout(await ws.execute("print(seeded)")) == "yes\n"

    await ws.send("shell", "execute_request", {"code": "del seeded; import os; os._exit(1)"})
    while (await ws.wait_for("status"))["content"]["execution_state"] != "restarting":
        pass
    assert stdout(await ws.execute("print(seeded)")) == "yes\n"  # held until seeded again

    restart = asyncio.create_task(
        asyncio.to_thread(gateway.request, "POST", f"/api/kernels/{model['id']}/restart")
    )
    await ws.wait_for("shutdown_reply")  # the old kernel leaves: what is sent now is held
    states = [m["content"]["execution_state"] for m in of_type(ws.backlog, "status")]
    await ws.close()  # the kernel has no websocket left
    late = await KernelSocket.open(gateway.ws_url, model["id"], v1=True)  # held for it too
    assert stdout(await late.execute("print(seeded)")) == "yes\n"
    assert (await restart)[0] == 200
    assert "restarting" not in states  # only the automatic restart's, waited for above
    await late.close()


async def test_deleting_the_kernel_closes_its_websockets(gateway: Gateway) -> None:
    _, model = gateway.json("POST", "/api/kernels", {})
    assert isinstance(model, dict)
    ws = await KernelSocket.open(gateway.ws_url, model["id"])
    assert gateway.request("DELETE", f"/api/kernels/{model['id']}")[0] == 204
    while await ws.receive() is not None:
        pass
    assert ws.conn.close_code == 1001
    await ws.close()


async def test_many_websockets_on_one_kernel(gateway: Gateway, kernel_id: str) -> None:
    sockets = [
        await KernelSocket.open(gateway.ws_url, kernel_id, v1=bool(i % 2)) for i in range(100)
    ]
    messages = await sockets[0].execute("print('to all')")
    msg_id = messages[0]["parent_header"]["msg_id"]
    for ws in sockets[1:]:
        assert stdout(await ws.replies_to(msg_id, None)) == "to all\n"
    _, model = gateway.json("GET", f"/api/kernels/{kernel_id}")
    assert isinstance(model, dict)
    assert model["connections"] == 100
    await asyncio.gather(*(ws.close() for ws in sockets))


async def test_keepalive_pings(gateway_factory: GatewayFactory) -> None:
    gateway = gateway_factory("--KernelGatewayApp.ws_ping_interval=1")
    _, model = gateway.json("POST", "/api/kernels", {})
    assert isinstance(model, dict)
    ws = await KernelSocket.open(gateway.ws_url, model["id"])
    pinged = asyncio.Event()
    ws.conn.on_ping = lambda data: pinged.set()  # type: ignore[method-assign]

    async def read_all() -> None:  # the kernel's start-up statuses: unread, they stall the client
        while await ws.receive(timeout=15) is not None:
            pass

    reading = asyncio.ensure_future(read_all())
    await asyncio.wait_for(pinged.wait(), 15)
    reading.cancel()
    await ws.close()
