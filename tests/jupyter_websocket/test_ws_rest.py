"""Kernel, kernel spec and API document endpoints of jupyter-websocket mode."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Gateway, GatewayFactory, child_pids
from ws_client import KernelSocket, stdout


@pytest.fixture(scope="module")
def gateway(module_gateway_factory: GatewayFactory) -> Gateway:
    return module_gateway_factory(env={"KG_ENV_WHITELIST": "WHITE", "BLACK": "process"})


def start(gateway: Gateway, body: object = None) -> dict[str, Any]:
    status, model = gateway.json("POST", "/api/kernels", body if body is not None else {})
    assert status == 201, model
    assert isinstance(model, dict)
    return model


def test_kernelspecs(gateway: Gateway) -> None:
    status, specs = gateway.json("GET", "/api/kernelspecs")
    assert status == 200
    assert isinstance(specs, dict)
    assert specs["default"] == "python3"
    python = specs["kernelspecs"]["python3"]
    assert python["name"] == "python3"
    assert python["spec"]["language"] == "python"
    assert python["resources"]["logo-64x64"] == "/kernelspecs/python3/logo-64x64.png"
    assert gateway.json("GET", "/api/kernelspecs/python3") == (200, python)


def test_unknown_kernelspec_is_404(gateway: Gateway) -> None:
    assert gateway.json("GET", "/api/kernelspecs/nope") == (
        404,
        {"reason": "Not Found", "message": "No such kernel: nope"},
    )


def test_kernelspec_files_and_no_traversal(gateway: Gateway) -> None:
    status, headers, body = gateway.request("GET", "/kernelspecs/python3/logo-64x64.png")
    assert status == 200
    assert headers["Content-Type"] == "image/png"
    assert body.startswith(b"\x89PNG")
    for path in ("kernel.json/x", "..%2F..%2F..%2Fetc%2Fpasswd", "%2E%2E/%2E%2E/etc/passwd"):
        assert gateway.request("GET", f"/kernelspecs/python3/{path}")[0] == 404


def test_kernel_lifecycle(gateway: Gateway) -> None:
    status, headers, raw = gateway.request("POST", "/api/kernels", {"name": "python3"})
    assert status == 201
    model = json.loads(raw)
    assert headers["Location"] == f"/api/kernels/{model['id']}"
    assert set(model) == {"id", "name", "last_activity", "execution_state", "connections"}
    # answered once launched, as Jupyter servers do; ready (idle) a moment later
    assert (model["name"], model["execution_state"]) == ("python3", "starting")
    deadline = time.monotonic() + 30
    while gateway.json("GET", f"/api/kernels/{model['id']}")[1]["execution_state"] != "idle":  # type: ignore[index]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    status, again = gateway.json("GET", f"/api/kernels/{model['id']}")
    assert status == 200
    assert isinstance(again, dict)
    assert again["id"] == model["id"]
    assert gateway.request("POST", f"/api/kernels/{model['id']}/interrupt")[0] == 204
    status, restarted = gateway.json("POST", f"/api/kernels/{model['id']}/restart")
    assert status == 200
    assert isinstance(restarted, dict)
    assert (restarted["id"], restarted["execution_state"]) == (model["id"], "idle")
    assert gateway.request("DELETE", f"/api/kernels/{model['id']}")[:1] == (204,)
    assert gateway.json("GET", f"/api/kernels/{model['id']}") == (
        404,
        {"reason": "Not Found", "message": f"Kernel does not exist: {model['id']}"},
    )
    assert gateway.request("DELETE", f"/api/kernels/{model['id']}")[0] == 404


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("[1]", 400),
        ("{not json", 400),
        ('{"env": 3}', 400),
        ('{"env": ["KERNEL_X"]}', 400),
        ('{"name": 7}', 400),
        ('{"name": "nope"}', 404),
        # variables no process environment can hold, values that are not text
        ('{"env": {"KERNEL_X": "a\\u0000b"}}', 400),
        ('{"env": {"KERNEL_X": "\\ud800"}}', 400),
        ('{"env": {"KERNEL_A=B": "x"}}', 400),
        ('{"env": {"KERNEL_X": null}}', 400),
        ('{"env": {"KERNEL_X": {"nested": 1}}}', 400),
        ('{"env": {"KERNEL_X": true}}', 400),
        ('{"env": {"KERNEL_X": 5}}', 400),
        ('{"env": {"NOT_PASSED_ON": {}}}', 400),
        pytest.param("[" * 100_000 + "]" * 100_000, 400, id="nested-past-recursion-limit"),
        pytest.param(json.dumps({"env": {"KERNEL_X": "a" * 200_000}}), 400, id="env-too-long"),
    ],
)
def test_bad_start_requests(gateway: Gateway, body: str, status: int) -> None:
    got, answer = gateway.json("POST", "/api/kernels", body)
    assert got == status
    assert isinstance(answer, dict)
    assert set(answer) == {"reason", "message"}


def test_listing_is_forbidden_by_default(gateway: Gateway) -> None:
    for path in ("/api/kernels", "/api/sessions"):
        status, answer = gateway.json("GET", path)
        assert status == 403
        assert isinstance(answer, dict)
        assert answer["reason"] == "Forbidden"


async def test_env_reaches_the_kernel_only_when_allowed(gateway: Gateway) -> None:
    env = {"KERNEL_FOO": "foo", "WHITE": "white", "BLACK": "client", "KG_AUTH_TOKEN": "x"}
    kernel = start(gateway, {"env": env})
    ws = await KernelSocket.open(gateway.ws_url, kernel["id"])
    code = (
        "import os; print([os.environ.get(k) for k in "
        "('KERNEL_FOO', 'WHITE', 'BLACK', 'KG_AUTH_TOKEN', 'KERNEL_GATEWAY')])"
    )
    assert stdout(await ws.execute(code)) == "['foo', 'white', None, None, '1']\n"
    await ws.close()
    gateway.request("DELETE", f"/api/kernels/{kernel['id']}")


def test_api_documents(gateway: Gateway) -> None:
    status, headers, body = gateway.request("GET", "/api/swagger.json")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    document = json.loads(body)
    assert document["swagger"] == "2.0"
    status, headers, body = gateway.request("GET", "/api/swagger.yaml")
    assert status == 200
    assert headers["Content-Type"] == "text/x-yaml"
    assert yaml.safe_load(body) == document
    assert "security" not in document  # this gateway has no token


def test_api_document_of_a_gateway_with_a_token(gateway_factory: GatewayFactory) -> None:
    gateway = gateway_factory("--auth_token=s3cret")
    status, document = gateway.json("GET", "/api/swagger.json")
    assert status == 200
    assert isinstance(document, dict)
    assert document["security"] == [{"tokenHeader": []}, {"tokenParam": []}]
    gateway.token = ""
    assert gateway.request("GET", "/api/swagger.json")[0] == 401


def test_channels_without_a_websocket_upgrade_is_a_json_400(gateway: Gateway) -> None:
    kernel = start(gateway)
    channels = f"/api/kernels/{kernel['id']}/channels"
    status, headers, body = gateway.request("GET", channels)
    assert (status, headers["Content-Type"]) == (400, "application/json")
    assert json.loads(body)["message"] == "This URL takes a websocket: GET with Upgrade: websocket"
    status, headers, body = gateway.request("DELETE", channels)
    assert (status, headers["Allow"]) == (405, "GET, OPTIONS")
    assert json.loads(body)["reason"] == "Method Not Allowed"
    gateway.request("DELETE", f"/api/kernels/{kernel['id']}")


def test_listing_and_base_url(gateway_factory: GatewayFactory) -> None:
    gateway = gateway_factory("--base_url=/gw", env={"KG_LIST_KERNELS": "True"})
    assert gateway.json("GET", "/api/kernels") == (200, [])
    kernel = start(gateway)
    status, listed = gateway.json("GET", "/api/kernels")
    assert status == 200
    assert isinstance(listed, list)
    assert [k["id"] for k in listed] == [kernel["id"]]
    status, headers, _ = gateway.request("POST", "/api/kernels", {})
    assert headers["Location"].startswith("/gw/api/kernels/")
    _, specs = gateway.json("GET", "/api/kernelspecs")
    assert isinstance(specs, dict)
    assert specs["kernelspecs"]["python3"]["resources"]["logo-64x64"].startswith("/gw/kernelspecs/")
    _, document = gateway.json("GET", "/api/swagger.json")
    assert isinstance(document, dict)
    assert document["basePath"] == "/gw"


async def test_prespawned_and_warm_kernels(gateway_factory: GatewayFactory) -> None:
    gateway = gateway_factory(
        "--prespawn_count=2",
        "--KernelGatewayApp.kernel_pool_size=1",
        env={"KG_LIST_KERNELS": "True"},
    )
    status, listed = gateway.json("GET", "/api/kernels")
    assert status == 200
    assert isinstance(listed, list)
    assert len(listed) == 2
    kernel = start(gateway, {"env": {"KERNEL_FOO": "warm"}})
    assert len(gateway.json("GET", "/api/kernels")[1]) == 3  # type: ignore[arg-type]
    ws = await KernelSocket.open(gateway.ws_url, kernel["id"])
    code = "import os; print(os.environ.get('KERNEL_FOO'))"
    assert stdout(await ws.execute(code)) == "warm\n"
    await ws.close()


def test_max_kernels_is_403(gateway_factory: GatewayFactory) -> None:
    gateway = gateway_factory("--KernelGatewayApp.max_kernels=1")
    start(gateway)
    for path, body in (("/api/kernels", {}), ("/api/sessions", {"path": "p", "type": "t"})):
        status, answer = gateway.json("POST", path, body)
        assert status == 403
        assert isinstance(answer, dict)
        assert answer["reason"] == "Forbidden"


def test_a_kernel_that_fails_to_launch_is_a_clear_500_and_leaves_nothing(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    spec_dir = tmp_path / "kernels" / "broken"
    spec_dir.mkdir(parents=True)
    spec = {"argv": ["/nonexistent/python", "{connection_file}"], "display_name": "Broken"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    gateway = gateway_factory(env={"JUPYTER_PATH": str(tmp_path), "KG_LIST_KERNELS": "True"})

    status, answer = gateway.json("POST", "/api/kernels", {"name": "broken"})

    assert status == 500
    assert isinstance(answer, dict)
    assert answer["reason"] == "Internal Server Error"
    assert answer["message"].startswith("Kernel 'broken' failed to start: ")
    assert "/nonexistent/python" in answer["message"]
    assert gateway.json("GET", "/api/kernels") == (200, [])
    working = start(gateway)
    assert gateway.request("DELETE", f"/api/kernels/{working['id']}")[0] == 204
    assert gateway.stop() == 0
    assert gateway.log().count("Kernel shutdown: ") == 1  # the working one: nothing left over


def test_a_kernel_name_with_control_characters_is_unknown_and_not_logged_raw(
    gateway: Gateway,
) -> None:
    forged = "x\n[I 2026 FORGED] admin logged in\u001b[31m"
    status, answer = gateway.json("POST", "/api/kernels", {"name": forged})
    assert (status, answer) == (
        404,
        {"reason": "Not Found", "message": f"No such kernel: {forged!r}"},
    )
    assert not [line for line in gateway.log().splitlines() if line.startswith("[I 2026 FORGED]")]


async def test_code_sent_the_moment_a_kernel_is_created_is_answered(gateway: Gateway) -> None:
    kernel = start(gateway)  # answered at launch: the kernel may not listen yet
    ws = await KernelSocket.open(gateway.ws_url, kernel["id"])
    assert stdout(await ws.execute("print('first')")) == "first\n"  # held until it listens
    await ws.close()
    gateway.request("DELETE", f"/api/kernels/{kernel['id']}")


def reapable(pid: int) -> bool:
    """Whether process `pid` has exited for good (a zombie whose threads are all gone), or
    was reaped already."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        threads = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return True
    return "State:\tZ" in status and len(threads) <= 1


async def test_a_warm_kernel_killed_while_idle_gives_a_fresh_working_kernel(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = gateway_factory("--KernelGatewayApp.kernel_pool_size=1")
    (warm_pid,) = child_pids(gateway.process.pid)
    os.kill(warm_pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while not reapable(warm_pid):  # dead for its parent too: every thread has exited
        assert time.monotonic() < deadline, "the killed kernel's threads never exited"
        await asyncio.sleep(0.01)

    kernel = start(gateway)

    ws = await KernelSocket.open(gateway.ws_url, kernel["id"])
    pid = int(stdout(await ws.execute("import os; print(os.getpid())")))  # no message lost
    assert pid != warm_pid
    await ws.close()
