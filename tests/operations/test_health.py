"""/healthz and /readyz from outside: through start-up, load, a dead pool kernel and a drain."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
from pathlib import Path

from conftest import Gateway, GatewayFactory, write_notebook
from probes import DEADLINE, blocking_endpoint, poll, waiting_cell

TOKEN = "probe-secret"


def probe(gateway: Gateway, path: str) -> tuple[int, object]:
    """GET a probe with no token at all; (status, decoded body)."""
    saved, gateway.token = gateway.token, ""
    try:
        status, _, body = gateway.request("GET", path, timeout=10)
    finally:
        gateway.token = saved
    return status, json.loads(body)


def raw_get(sock: socket.socket, path: str) -> tuple[int, bytes]:
    """GET `path` on an open keep-alive connection; (status, body)."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return int(head.split(b" ", 2)[1]), body


def test_probes_need_no_token_and_also_answer_at_the_root(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    notebook = write_notebook(tmp_path / "hello.ipynb", '# GET /hello\nprint("hi")')
    gateway = gateway_factory(
        "--api=notebook-http",
        f"--seed_uri={notebook}",
        f"--auth_token={TOKEN}",
        "--base_url=/base",
        ready_path="/hello",
    )
    root = Gateway(gateway.process, gateway.port, gateway.log_path, token=TOKEN)

    answers = {
        (where.base_url, path): probe(where, path)
        for where in (gateway, root)
        for path in ("/healthz", "/readyz")
    }

    assert answers == {
        ("/base", "/healthz"): (200, {"status": "ok"}),
        ("/base", "/readyz"): (200, {"status": "ready"}),
        ("/", "/healthz"): (200, {"status": "ok"}),
        ("/", "/readyz"): (200, {"status": "ready"}),
    }
    assert root.request("GET", "/hello")[0] == 404  # only the probes move to the root
    assert gateway.request("POST", "/healthz")[0] == 405


def test_readiness_through_start_up_and_under_load(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    go, release = tmp_path / "go", tmp_path / "release"
    notebook = write_notebook(
        tmp_path / "slow.ipynb",
        waiting_cell(go),
        blocking_endpoint(tmp_path),
    )
    gateway = gateway_factory(
        "--api=notebook-http", f"--seed_uri={notebook}", f"--auth_token={TOKEN}", wait=False
    )

    poll(lambda: probe(gateway, "/healthz"), lambda answer: answer[0] == 200, "liveness")
    starting = probe(gateway, "/readyz")
    refused = gateway.json("GET", "/block")
    go.touch()
    ready = poll(lambda: probe(gateway, "/readyz"), lambda a: a[0] == 200, "readiness")
    results: list[tuple[int, dict[str, str], bytes]] = []
    thread = threading.Thread(target=lambda: results.append(gateway.request("GET", "/block")))
    thread.start()
    poll((tmp_path / "running").exists, bool, "the only kernel to be busy")
    under_load = (probe(gateway, "/healthz"), probe(gateway, "/readyz"))
    release.touch()
    thread.join(DEADLINE)

    assert starting == (
        503,
        {
            "reason": "Service Unavailable",
            "message": "Not ready: starting",
            "missing": ["starting"],
        },
    )
    assert refused == (
        503,
        {"reason": "Service Unavailable", "message": "The gateway is starting"},
    )
    assert ready == (200, {"status": "ready"})
    assert under_load == ((200, {"status": "ok"}), (200, {"status": "ready"}))
    assert "GET /readyz" not in gateway.log()  # probes' access lines are DEBUG, 503s too
    assert [(status, body) for status, _, body in results] == [(200, b"released\n")]


def test_a_dead_pool_kernel_makes_the_gateway_unready_until_replaced(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    first, go = tmp_path / "first", tmp_path / "go"
    seed = (
        f"import os, time\nif os.path.exists({str(first)!r}):\n"
        f"    while not os.path.exists({str(go)!r}):\n        time.sleep(0.02)\n"
        f"open({str(first)!r}, 'w').close()"
    )
    notebook = write_notebook(
        tmp_path / "pid.ipynb", seed, "# GET /pid\nimport os\nprint(os.getpid())"
    )
    gateway = gateway_factory("--api=notebook-http", f"--seed_uri={notebook}", ready_path="/pid")
    status, _, body = gateway.request("GET", "/pid")
    assert status == 200

    os.kill(int(body), signal.SIGKILL)  # the replacement then waits for `go` in its seed cell
    empty = poll(lambda: probe(gateway, "/readyz"), lambda a: a[0] == 503, "an empty pool")
    go.touch()
    ready = poll(lambda: probe(gateway, "/readyz"), lambda a: a[0] == 200, "a replacement")

    assert empty == (
        503,
        {
            "reason": "Service Unavailable",
            "message": "Not ready: pool_empty",
            "missing": ["pool_empty"],
        },
    )
    assert ready == (200, {"status": "ready"})


def test_draining_answers_503_from_the_start_of_the_grace_period(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    notebook = write_notebook(tmp_path / "slow.ipynb", blocking_endpoint(tmp_path))
    gateway = gateway_factory(
        "--api=notebook-http",
        f"--seed_uri={notebook}",
        "--KernelGatewayApp.shutdown_grace_period=60",
        ready_path="/readyz",
    )
    results: list[tuple[int, dict[str, str], bytes]] = []
    thread = threading.Thread(target=lambda: results.append(gateway.request("GET", "/block")))
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=30) as conn:
        before = raw_get(conn, "/readyz")
        thread.start()
        poll((tmp_path / "running").exists, bool, "the request to run")
        gateway.process.send_signal(signal.SIGTERM)
        poll(gateway.log, lambda log: "Shutting down" in log, "the drain to begin")
        draining = (raw_get(conn, "/readyz"), raw_get(conn, "/healthz"))
        still_running = not results
        release.touch()
        thread.join(DEADLINE)
    code = gateway.process.wait(DEADLINE)

    assert before == (200, b'{"status": "ready"}')
    assert draining == (
        (
            503,
            b'{"reason": "Service Unavailable", "message": "Not ready: draining", '
            b'"missing": ["draining"]}',
        ),
        (200, b'{"status": "ok"}'),
    )
    assert still_running
    assert [(status, body) for status, _, body in results] == [(200, b"released\n")]
    assert code == 0, gateway.log()


def test_websocket_mode_with_a_warm_pool_is_unready_at_max_kernels(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = gateway_factory(
        "--KernelGatewayApp.kernel_pool_size=1", "--max_kernels=1", ready_path="/readyz"
    )

    ready = probe(gateway, "/readyz")
    status, model = gateway.json("POST", "/api/kernels", {"name": "python3"})
    full = probe(gateway, "/readyz")
    deleted = gateway.request("DELETE", f"/api/kernels/{model['id']}")[0]  # type: ignore[index]
    again = probe(gateway, "/readyz")

    assert (ready, status, deleted) == ((200, {"status": "ready"}), 201, 204)
    assert full == (
        503,
        {
            "reason": "Service Unavailable",
            "message": "Not ready: kernel_limit",
            "missing": ["kernel_limit"],
        },
    )
    assert again == (200, {"status": "ready"})
