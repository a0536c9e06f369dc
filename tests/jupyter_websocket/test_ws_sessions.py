"""Sessions over HTTP with real kernels: create, read, list, change, delete."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from conftest import Gateway, GatewayFactory
from ws_client import KernelSocket


@pytest.fixture(scope="module")
def gateway(module_gateway_factory: GatewayFactory) -> Gateway:
    return module_gateway_factory(env={"KG_LIST_KERNELS": "True"})


def create(gateway: Gateway, body: dict[str, Any]) -> dict[str, Any]:
    status, headers, _ = gateway.request("POST", "/api/sessions", body)
    assert status == 201
    status, model = gateway.json("GET", headers["Location"])
    assert status == 200
    assert isinstance(model, dict)
    return model


def kernel_ids(gateway: Gateway) -> set[str]:
    status, kernels = gateway.json("GET", "/api/kernels")
    assert status == 200
    assert isinstance(kernels, list)
    return {kernel["id"] for kernel in kernels}


def test_session_crud(gateway: Gateway) -> None:
    model = create(
        gateway, {"path": "a.ipynb", "name": "a", "type": "notebook", "kernel": {"name": "python3"}}
    )
    assert set(model) == {"id", "path", "name", "type", "kernel", "notebook"}
    assert (model["path"], model["name"], model["type"]) == ("a.ipynb", "a", "notebook")
    assert model["notebook"] == {"path": "a.ipynb", "name": "a"}
    assert model["kernel"]["name"] == "python3"
    assert model["kernel"]["id"] in kernel_ids(gateway)

    status, same = gateway.json("POST", "/api/sessions", {"path": "a.ipynb", "type": "notebook"})
    assert status == 201
    assert isinstance(same, dict)
    assert same["id"] == model["id"]

    status, listed = gateway.json("GET", "/api/sessions")
    assert status == 200
    assert isinstance(listed, list)
    assert [s["id"] for s in listed] == [model["id"]]

    status, renamed = gateway.json("PATCH", f"/api/sessions/{model['id']}", {"path": "b.ipynb"})
    assert status == 200
    assert isinstance(renamed, dict)
    assert (renamed["path"], renamed["kernel"]["id"]) == ("b.ipynb", model["kernel"]["id"])

    assert gateway.request("DELETE", f"/api/sessions/{model['id']}")[0] == 204
    assert model["kernel"]["id"] not in kernel_ids(gateway)
    status, gone = gateway.json("GET", f"/api/sessions/{model['id']}")
    assert status == 404
    assert gone == {"reason": "Not Found", "message": f"Session not found: {model['id']}"}


def test_patch_kernel_name_starts_a_new_kernel(gateway: Gateway) -> None:
    model = create(gateway, {"path": "c.py", "type": "console"})
    old = model["kernel"]["id"]
    status, changed = gateway.json(
        "PATCH", f"/api/sessions/{model['id']}", {"kernel": {"name": "python3"}}
    )
    assert status == 200
    assert isinstance(changed, dict)
    assert changed["kernel"]["id"] != old
    assert kernel_ids(gateway) >= {changed["kernel"]["id"]}
    assert old not in kernel_ids(gateway)
    gateway.request("DELETE", f"/api/sessions/{model['id']}")


def test_session_on_an_existing_kernel(gateway: Gateway) -> None:
    _, kernel = gateway.json("POST", "/api/kernels", {})
    assert isinstance(kernel, dict)
    model = create(gateway, {"path": "d", "type": "file", "kernel": {"id": kernel["id"]}})
    assert model["kernel"]["id"] == kernel["id"]
    status, _ = gateway.json("PATCH", f"/api/sessions/{model['id']}", {"kernel": {"id": "nope"}})
    assert status == 400
    gateway.request("DELETE", f"/api/sessions/{model['id']}")
    assert kernel["id"] not in kernel_ids(gateway)


def test_deprecated_notebook_form(gateway: Gateway) -> None:
    model = create(gateway, {"notebook": {"path": "old.ipynb"}})
    assert (model["path"], model["type"]) == ("old.ipynb", "notebook")
    gateway.request("DELETE", f"/api/sessions/{model['id']}")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"type": "notebook"}, 400),
        ({"path": "x"}, 400),
        ({"path": "x", "type": "t", "kernel": "python3"}, 400),
        ({"path": "x", "type": "t", "kernel": {"name": "nope"}}, 404),
        ({"path": "x", "type": "t", "kernel": {"id": "nope"}}, 404),
        ({"path": "a\0b", "type": "t", "kernel": {"name": "python3"}}, 400),
    ],
)
def test_bad_session_requests(gateway: Gateway, body: dict[str, Any], status: int) -> None:
    got, answer = gateway.json("POST", "/api/sessions", body)
    assert got == status
    assert isinstance(answer, dict)
    assert set(answer) == {"reason", "message"}


def test_unknown_sessions(gateway: Gateway) -> None:
    assert gateway.json("GET", "/api/sessions/nope")[0] == 404
    assert gateway.json("PATCH", "/api/sessions/nope", {"path": "x"})[0] == 404
    assert gateway.request("DELETE", "/api/sessions/nope")[0] == 404


def test_concurrent_creates_for_one_path_share_a_session(gateway: Gateway) -> None:
    before = kernel_ids(gateway)
    body = {"path": "same.ipynb", "type": "notebook"}
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda _: gateway.json("POST", "/api/sessions", body), range(3)))
    ids = {model["id"] for _, model in answers}  # type: ignore[index]
    assert [status for status, _ in answers] == [201, 201, 201]
    assert len(ids) == 1
    assert len(kernel_ids(gateway) - before) == 1
    gateway.request("DELETE", f"/api/sessions/{ids.pop()}")


async def test_a_kernel_shut_down_takes_its_sessions_and_websockets_with_it(
    gateway: Gateway,
) -> None:
    session = create(gateway, {"path": "gone.ipynb", "type": "notebook"})
    kernel_id = session["kernel"]["id"]
    ws = await KernelSocket.open(gateway.ws_url, kernel_id)

    assert gateway.request("DELETE", f"/api/kernels/{kernel_id}")[0] == 204

    while await ws.receive() is not None:
        pass
    assert ws.conn.close_code == 1001
    assert gateway.request("GET", f"/api/sessions/{session['id']}")[0] == 404
    status, sessions = gateway.json("GET", "/api/sessions")
    assert status == 200
    assert isinstance(sessions, list)
    assert session["id"] not in [listed["id"] for listed in sessions]
    await ws.close()
