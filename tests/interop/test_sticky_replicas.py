"""websocket-mode replicas behind Debian's haproxy, used by jupyter_server's own gateway client.

A kernel lives on the replica that started it, so every request for it must land there: haproxy
inserts a cookie naming the replica, and jupyter_server's gateway client keeps it and sends it
back (`--GatewayClient.accept_cookies=True`). When that replica stops, its kernels are lost:
websockets straight to them are closed with 1001 (going away), and the kernel is a 404 from
then on. (jupyter_server holds its client's websocket open while its gateway client tries to
reconnect, five times over about 35 s, before closing it: not waited for here.)
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from conftest import Gateway, GatewayFactory
from haproxy_lb import STICKY_COOKIE, start_haproxy
from test_jupyter_server_gateway import GATEWAY_TOKEN, opened, start_jupyter_server, stdout
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

TOKEN_HEADER = {"Authorization": f"token {GATEWAY_TOKEN}"}

ARGS = (f"--auth_token={GATEWAY_TOKEN}",)
LISTING = {"KG_LIST_KERNELS": "True"}  # JupyterLab's jupyter_server lists kernels

pytestmark = pytest.mark.slow


def new_session_kernel(server: Gateway, path: str) -> str:
    body = {"path": path, "type": "notebook", "name": "", "kernel": {"name": "python3"}}
    status, session = server.json("POST", "/api/sessions", body)
    assert status == 201, session
    assert isinstance(session, dict)
    return str(session["kernel"]["id"])


def homes(replicas: dict[str, Gateway], kernel_id: str) -> list[str]:
    """The replicas that know `kernel_id` (asked directly, not through haproxy)."""
    return [
        name
        for name, replica in replicas.items()
        if replica.request("GET", f"/api/kernels/{kernel_id}")[0] == 200
    ]


async def test_a_jupyter_server_sticks_to_the_replica_of_its_kernels(
    gateway_factory: GatewayFactory, lb_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    replicas = {name: gateway_factory(*ARGS, env=LISTING) for name in ("a", "b")}
    proxy = start_haproxy(lb_dir, {name: gw.port for name, gw in replicas.items()}, sticky=True)
    try:
        proxy.wait_for_states({"a": "UP", "b": "UP"})
        server = start_jupyter_server(
            tmp_path_factory.mktemp("jupyter"), proxy.url, "--GatewayClient.accept_cookies=True"
        )
        print(f"jupyter server log: {server.log_path}")
        kernel_ids = [new_session_kernel(server, f"{name}.ipynb") for name in ("x", "y")]
        (home,) = {name for kernel_id in kernel_ids for name in homes(replicas, kernel_id)}
        for kernel_id in kernel_ids:
            for session in ("first", "reconnected"):  # a websocket, then a new one
                async with opened(server, kernel_id, session) as ws:
                    assert stdout(await ws.execute("print(6 * 7)")) == "42\n"
        doomed = await websocket_connect(
            HTTPRequest(
                f"ws://127.0.0.1:{proxy.port}/api/kernels/{kernel_ids[0]}/channels",
                headers={"Cookie": f"{STICKY_COOKIE}={home}", **TOKEN_HEADER},
            )
        )
        replicas[home].process.send_signal(signal.SIGTERM)
        while await asyncio.wait_for(doomed.read_message(), 30) is not None:
            pass
        doomed.close()
        assert doomed.close_code == 1001  # going away: a clean close
        assert replicas[home].process.wait(60) == 0
        proxy.wait_for_states({home: "DOWN"})
        lost = f"/api/kernels/{kernel_ids[0]}"
        answer = await AsyncHTTPClient().fetch(
            proxy.url + lost,
            headers={"Cookie": f"{STICKY_COOKIE}={home}", **TOKEN_HEADER},
            raise_error=False,
        )
        assert answer.code == 404
        # jupyter_server notices when it lists kernels (JupyterLab polls the list)
        status, listed = server.json("GET", "/api/kernels")
        assert status == 200
        assert isinstance(listed, list)
        assert [kernel["id"] for kernel in listed] == []
        assert server.request("GET", lost)[0] == 404
        server.stop()
    finally:
        proxy.stop()
        for name, replica in replicas.items():  # pytest shows these on failure only
            print(f"---- replica {name} ----\n{replica.log()}")
