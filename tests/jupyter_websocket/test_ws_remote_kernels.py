"""Remote kernels in websocket mode: kernels launched over real SSH by gateway_provisioners'
DistributedProvisioner (a private sshd on 127.0.0.2), used exactly like local ones."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from conftest import Gateway, GatewayFactory, free_port
from proxy_helpers import auth, raw_request, run, wait_for_log
from sshd_host import (
    MESSAGE_SPEC,
    NO_SSH_IP,
    NOWHERE_SPEC,
    PLAIN_SPEC,
    SILENT_LAUNCHER,
    SILENT_SPEC,
    SPEC_NAME,
    SSH_IP,
    SshHost,
    came_through,
    descendants,
    wait_gone,
)
from ws_client import KernelSocket, of_type, stdout

FACTS = "import json, os; print(json.dumps({'pid': os.getpid()}))"
SPIN = "import time\nwhile True: time.sleep(0.1)"
SERVE_ON_HOST = f"""
import http.server, threading
class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("hello from " + self.server.server_address[0]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
_server = http.server.HTTPServer(("{SSH_IP}", 0), _Hello)
threading.Thread(target=_server.serve_forever, daemon=True).start()
print(_server.server_address[1])
"""

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gateway(module_gateway_factory: GatewayFactory, ssh_host: SshHost) -> Gateway:
    """One gateway for the module, launching ssh_python kernels on the SSH host."""
    return module_gateway_factory(
        f"--default_kernel_name={SPEC_NAME}",
        "--KernelGatewayApp.kernel_proxy_ports=1024-65535",
        env=ssh_host.gateway_env(free_port()),
    )


def create_kernel(gateway: Gateway, **body: Any) -> str:
    status, model = gateway.json("POST", "/api/kernels", {"name": SPEC_NAME} | body)
    assert status == 201, model
    assert isinstance(model, dict)
    return str(model["id"])


async def kernel_pid(gateway: Gateway, kernel_id: str) -> int:
    return int(json.loads(await run(gateway, kernel_id, FACTS))["pid"])


async def test_a_remote_kernel_is_started_through_sshd_and_runs_code(
    gateway: Gateway, ssh_host: SshHost
) -> None:
    kernel_id = create_kernel(gateway)
    socket = await KernelSocket.open(gateway.ws_url, kernel_id, headers=auth(gateway))
    try:
        messages = await socket.execute(FACTS + "\nprint(6 * 7)")
    finally:
        await socket.close()
    pid = int(json.loads(stdout(messages).splitlines()[0])["pid"])
    assert stdout(messages).splitlines()[1] == "42"
    assert came_through(ssh_host, pid), ssh_host.log()
    assert pid not in descendants(gateway.process.pid)
    info = gateway.json("GET", f"/api/kernels/{kernel_id}")
    assert info[0] == 200
    assert gateway.request("DELETE", f"/api/kernels/{kernel_id}")[0] == 204
    wait_gone(pid)


@pytest.mark.parametrize("spec", [SPEC_NAME, MESSAGE_SPEC], ids=["signal", "message"])
async def test_a_remote_kernel_is_interrupted_and_asks_for_input(
    gateway: Gateway, spec: str
) -> None:
    kernel_id = create_kernel(gateway, name=spec)
    socket = await KernelSocket.open(gateway.ws_url, kernel_id, headers=auth(gateway))
    try:
        code = "print('you said', input('say: '))"
        asked = await socket.send("shell", "execute_request", {"code": code, "allow_stdin": True})
        request = await socket.wait_for("input_request", asked)
        assert request["content"]["prompt"] == "say: "
        await socket.send("stdin", "input_reply", {"value": "hi"})
        assert stdout(await socket.replies_to(asked, "execute_reply")) == "you said hi\n"
        sleeping = await socket.send("shell", "execute_request", {"code": SPIN})
        await socket.wait_for("status", sleeping)  # busy: the loop runs
        assert gateway.request("POST", f"/api/kernels/{kernel_id}/interrupt")[0] == 204
        errors = of_type(await socket.replies_to(sleeping, "execute_reply"), "error")
        assert [error["content"]["ename"] for error in errors] == ["KeyboardInterrupt"]
    finally:
        await socket.close()
    assert gateway.request("DELETE", f"/api/kernels/{kernel_id}")[0] == 204


async def test_a_restarted_remote_kernel_is_a_new_process_and_the_old_one_is_gone(
    gateway: Gateway, ssh_host: SshHost
) -> None:
    kernel_id = create_kernel(gateway)
    before = await kernel_pid(gateway, kernel_id)
    status, model = gateway.json("POST", f"/api/kernels/{kernel_id}/restart")
    assert status == 200, model
    wait_gone(before)
    after = await kernel_pid(gateway, kernel_id)
    assert after != before
    assert came_through(ssh_host, after)
    assert gateway.request("DELETE", f"/api/kernels/{kernel_id}")[0] == 204
    wait_gone(after)


async def test_a_remote_kernel_killed_on_its_host_is_restarted_and_named_with_its_host(
    gateway: Gateway, ssh_host: SshHost
) -> None:
    kernel_id = create_kernel(gateway)
    before = await kernel_pid(gateway, kernel_id)
    os.kill(before, signal.SIGKILL)
    line = f"Kernel {kernel_id} on {SSH_IP} died; restarting it"
    assert wait_for_log(gateway, line), gateway.log()
    after = await kernel_pid(gateway, kernel_id)  # the same kernel id, a new process
    assert after != before
    assert came_through(ssh_host, after)
    assert gateway.request("DELETE", f"/api/kernels/{kernel_id}")[0] == 204
    wait_gone(after)


async def test_the_kernel_proxy_reaches_a_server_on_the_kernels_own_host(
    gateway: Gateway,
) -> None:
    """The server listens on 127.0.0.2 only: reached there, not on the gateway's 127.0.0.1."""
    kernel_id = create_kernel(gateway)
    port = int(await run(gateway, kernel_id, SERVE_ON_HOST))
    status, _, body = raw_request(
        gateway, "GET", f"/api/kernels/{kernel_id}/proxy/{port}/", auth(gateway)
    )
    assert (status, body) == (200, f"hello from {SSH_IP}".encode())
    assert gateway.request("DELETE", f"/api/kernels/{kernel_id}")[0] == 204


async def test_sigterm_leaves_no_remote_kernel_running(
    gateway_factory: GatewayFactory, ssh_host: SshHost
) -> None:
    gateway = gateway_factory(
        f"--default_kernel_name={SPEC_NAME}", env=ssh_host.gateway_env(free_port())
    )
    pids = [await kernel_pid(gateway, create_kernel(gateway)) for _ in range(2)]
    assert all(came_through(ssh_host, pid) for pid in pids)
    assert gateway.stop(signal.SIGTERM) == 0
    for pid in pids:
        wait_gone(pid)


def test_a_host_that_refuses_ssh_ends_in_a_json_error_naming_it(gateway: Gateway) -> None:
    status, body = gateway.json("POST", "/api/kernels", {"name": NOWHERE_SPEC})
    assert status == 500, body
    assert isinstance(body, dict)
    assert set(body) == {"reason", "message"}
    assert NO_SSH_IP in body["message"]
    assert NO_SSH_IP in gateway.log()
    kernel_id = create_kernel(gateway)  # the gateway goes on serving
    assert gateway.request("DELETE", f"/api/kernels/{kernel_id}")[0] == 204


def test_a_launch_timeout_that_is_no_number_is_a_400(gateway: Gateway) -> None:
    env = {"KERNEL_LAUNCH_TIMEOUT": "soon"}
    status, body = gateway.json("POST", "/api/kernels", {"name": SPEC_NAME, "env": env})
    assert (status, body) == (
        400,
        {
            "reason": "Bad Request",
            "message": "KERNEL_LAUNCH_TIMEOUT must be a positive number of seconds, not 'soon'",
        },
    )


def silent_launchers() -> list[psutil.Process]:
    return [
        process
        for process in psutil.process_iter(["cmdline"])
        if any(SILENT_LAUNCHER in arg for arg in process.info["cmdline"] or [])
    ]


def test_the_launch_timeout_in_the_create_requests_env_is_honoured(
    gateway: Gateway, ssh_host: SshHost
) -> None:
    """KERNEL_LAUNCH_TIMEOUT (as a Jupyter server's gateway client sends it) beats the spec's."""
    env = {"KERNEL_LAUNCH_TIMEOUT": "2"}
    try:
        status, body = gateway.json("POST", "/api/kernels", {"name": SILENT_SPEC, "env": env})
        assert status == 500, body
        assert isinstance(body, dict)
        assert set(body) == {"reason", "message"}
        assert "(2s)" in body["message"] or "2.0s" in body["message"], body
        assert SSH_IP in body["message"], body
        assert [came_through(ssh_host, p.pid) for p in silent_launchers()] == [True]
    finally:
        for process in silent_launchers():  # it never reported back: nothing can signal it
            process.kill()


async def test_an_idle_remote_kernel_is_culled_and_its_process_ends(
    gateway_factory: GatewayFactory, ssh_host: SshHost
) -> None:
    gateway = gateway_factory(
        f"--default_kernel_name={SPEC_NAME}",
        "--MappingKernelManager.cull_idle_timeout=1",
        "--MappingKernelManager.cull_interval=1",
        env=ssh_host.gateway_env(free_port()),
    )
    kernel_id = create_kernel(gateway)
    pid = await kernel_pid(gateway, kernel_id)
    deadline = time.monotonic() + 30
    while gateway.request("GET", f"/api/kernels/{kernel_id}")[0] != 404:
        assert time.monotonic() < deadline, gateway.log()
        await asyncio.sleep(0.1)
    wait_gone(pid)


def encryption_of(pid: int, kernel_id: str) -> tuple[str, object]:
    """The transport-encryption policy a launcher was given, and the CurveZMQ public key in
    the connection file it wrote on its host (None without one)."""
    argv = psutil.Process(pid).cmdline()
    policy = argv[argv.index("--transport-encryption") + 1]
    (connection_file,) = Path(tempfile.gettempdir()).glob(f"kernel-{kernel_id}_*.json")
    return policy, json.loads(connection_file.read_text()).get("curve_publickey")


@pytest.mark.parametrize(
    ("spec", "encrypted"), [(SPEC_NAME, True), (PLAIN_SPEC, False)], ids=["curve", "plain"]
)
async def test_a_remote_kernel_is_encrypted_when_its_spec_supports_curve(
    gateway: Gateway, spec: str, encrypted: bool
) -> None:
    """Under transport_encryption=auto (the default), a spec advertising curve gets CurveZMQ
    keys from its launcher and the gateway's sockets use them; another one stays plain."""
    kernel_id = create_kernel(gateway, name=spec)
    pid = await kernel_pid(gateway, kernel_id)  # the gateway talks to it either way
    policy, key = encryption_of(pid, kernel_id)
    assert (policy == "auto", isinstance(key, str) and len(key) == 40) == (encrypted, encrypted)
    assert gateway.request("DELETE", f"/api/kernels/{kernel_id}")[0] == 204
