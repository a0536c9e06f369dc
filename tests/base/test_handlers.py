"""GatewayHandler over HTTP: token auth, CORS, OPTIONS, origin checks, HEAD, JSON errors and
hostile input, on real gateways."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Gateway, GatewayFactory, serving, wait_until_serving, write_notebook
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

TOKEN = "handler-token-5e2b8d"
ORIGIN = "https://app.example"
CORS = {
    "Access-Control-Allow-Origin": ORIGIN,
    "Access-Control-Allow-Credentials": "true",
    "Access-Control-Allow-Headers": "X-Custom",
    "Access-Control-Allow-Methods": "GET, POST",
    "Access-Control-Expose-Headers": "X-Exposed",
    "Access-Control-Max-Age": "600",
}
CORS_ARGS = (
    f"--KernelGatewayApp.allow_origin={ORIGIN}",
    "--KernelGatewayApp.allow_credentials=true",
    "--KernelGatewayApp.allow_headers=X-Custom",
    "--KernelGatewayApp.allow_methods=GET, POST",
    "--KernelGatewayApp.expose_headers=X-Exposed",
    "--KernelGatewayApp.max_age=600",
)


@pytest.fixture(scope="module")
def gateways(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Gateway]]:
    """A guarded jupyter-websocket gateway (token, CORS, debug log), one with no token, and a
    guarded notebook-http gateway, started together."""
    notebook = write_notebook(
        tmp_path_factory.mktemp("notebook") / "echo.ipynb",
        '# POST /echo\nimport json\nprint(json.loads(REQUEST)["body"])',
        '# GET /hello/:name\nimport json\nprint("hello", json.loads(REQUEST)["path"]["name"])',
    )
    with serving(tmp_path_factory) as start:
        started = {
            "guarded": start(
                f"--auth_token={TOKEN}",
                *CORS_ARGS,
                "--JupyterWebsocketPersonality.list_kernels=True",
                "--log-level=DEBUG",
                wait=False,
            ),
            "open": start(wait=False),
            "notebook": start(
                "--api=notebook-http",
                f"--seed_uri={notebook}",
                f"--auth_token={TOKEN}",
                *CORS_ARGS,
                wait=False,
            ),
        }
        for gateway in started.values():
            wait_until_serving(gateway, "/api")
        yield started


@pytest.fixture(scope="module")
def guarded(gateways: dict[str, Gateway]) -> Gateway:
    return gateways["guarded"]


@pytest.fixture(scope="module")
def kernel_id(guarded: Gateway) -> str:
    status, model = guarded.json("POST", "/api/kernels", {"name": "python3"})
    assert status == 201, model
    return str(model["id"])  # type: ignore[index]


def endpoints(kernel_id: str) -> list[str]:
    """A GET-able path of every route of the jupyter-websocket mode, and an unknown one."""
    return [
        "/api",
        "/api/kernelspecs",
        "/api/kernelspecs/python3",
        "/kernelspecs/python3/logo-64x64.png",
        "/api/kernels",
        f"/api/kernels/{kernel_id}",
        "/api/sessions",
        "/api/swagger.json",
        "/api/swagger.yaml",
        "/no/such/path",
    ]


def without_token(gateway: Gateway) -> Gateway:
    """The same gateway, reached without the token by default."""
    return Gateway(gateway.process, gateway.port, gateway.log_path, gateway.base_url)


def assert_json_error(status: int, headers: dict[str, str], body: bytes, expected: int) -> None:
    assert status == expected, body
    assert headers["Content-Type"] == "application/json"
    error = json.loads(body)
    assert sorted(error) == ["message", "reason"]
    assert "Traceback" not in error["message"]


def test_every_endpoint_refuses_a_missing_or_wrong_token(guarded: Gateway, kernel_id: str) -> None:
    client = without_token(guarded)
    for path in endpoints(kernel_id):
        for headers in (
            {},
            {"Authorization": "token wrong"},
            {"Authorization": f"token {TOKEN}x"},
            {"Authorization": "Basic dXNlcjpwYXNz"},
            {"Authorization": "token "},
        ):
            status, got, body = client.request("GET", path, headers=headers)
            assert_json_error(status, got, body, 401)
            assert {name: got.get(name) for name in CORS} == CORS
        status, got, body = client.request("GET", f"{path}?token=wrong")
        assert_json_error(status, got, body, 401)


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"Authorization": f"token {TOKEN}"}, ""),
        ({"Authorization": f"Bearer {TOKEN}"}, ""),
        ({"Authorization": f"bearer {TOKEN}"}, ""),
        ({}, f"?token={TOKEN}"),
    ],
    ids=["token-header", "bearer-header", "bearer-lowercase", "query"],
)
def test_every_endpoint_accepts_the_token_each_way(
    guarded: Gateway, kernel_id: str, headers: dict[str, str], query: str
) -> None:
    client = without_token(guarded)
    for path in endpoints(kernel_id):
        status, got, _ = client.request("GET", path + query, headers=headers)
        assert status == (404 if path == "/no/such/path" else 200), path
        assert {name: got.get(name) for name in CORS} == CORS


def test_without_a_configured_token_an_empty_token_header_is_accepted(
    gateways: dict[str, Gateway],
) -> None:
    gateway = gateways["open"]
    assert gateway.request("GET", "/api", headers={"Authorization": "token "})[0] == 200
    assert gateway.request("GET", "/api/kernelspecs", headers={"Authorization": "x"})[0] == 200


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api", 200),
        ("HEAD", "/api", 200),
        ("POST", "/api/kernels", 400),
        ("GET", "/no/such/path", 404),
        ("PUT", "/api/kernels", 405),
        ("DELETE", "/api", 405),
        ("PATCH", "/api/kernelspecs", 405),
    ],
)
def test_cors_headers_are_on_every_answer_including_errors(
    guarded: Gateway, method: str, path: str, status: int
) -> None:
    got, headers, _ = guarded.request(method, path, body=b"{" if method == "POST" else None)
    assert got == status
    assert {name: headers.get(name) for name in CORS} == CORS


def test_preflight_is_answered_everywhere_without_a_token(guarded: Gateway, kernel_id: str) -> None:
    client = without_token(guarded)
    preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    paths = [*endpoints(kernel_id)[:-1], f"/api/kernels/{kernel_id}/interrupt", "/api/sessions/x"]
    for path in paths:
        status, headers, body = client.request("OPTIONS", path, headers=preflight)
        assert (status, body) == (204, b""), path
        assert {name: headers.get(name) for name in CORS} == CORS


def test_channels_route_has_cors_and_preflight(guarded: Gateway, kernel_id: str) -> None:
    client = without_token(guarded)
    path = f"/api/kernels/{kernel_id}/channels"
    status, headers, body = client.request("GET", path)
    assert_json_error(status, headers, body, 401)
    assert {name: headers.get(name) for name in CORS} == CORS
    status, headers, body = client.request("OPTIONS", path, headers={"Origin": ORIGIN})
    assert (status, body) == (204, b"")
    assert {name: headers.get(name) for name in CORS} == CORS


def test_notebook_endpoints_answer_preflight_and_cors(gateways: dict[str, Gateway]) -> None:
    client = without_token(gateways["notebook"])
    status, headers, _ = client.request("OPTIONS", "/echo", headers={"Origin": ORIGIN})
    assert status == 204
    assert {name: headers.get(name) for name in CORS} == CORS
    status, headers, body = client.request("POST", "/echo", body="hi")
    assert_json_error(status, headers, body, 401)
    assert headers["Access-Control-Allow-Origin"] == ORIGIN


def test_notebook_endpoints_need_the_token(gateways: dict[str, Gateway]) -> None:
    client = without_token(gateways["notebook"])
    for path in ("/hello/you", "/_api/spec/swagger.json", "/api"):
        assert client.request("GET", path)[0] == 401
        assert client.request("GET", f"{path}?token={TOKEN}")[0] == 200
    assert client.request("GET", f"/hello/you?token={TOKEN}")[2] == b"hello you\n"


def origin_request(gateway: Gateway, origin: str) -> int:
    return gateway.request("GET", "/api/kernelspecs", headers={"Origin": origin})[0]


def test_foreign_origins_are_refused(guarded: Gateway) -> None:
    own = f"http://127.0.0.1:{guarded.port}"
    assert origin_request(guarded, own) == 200
    assert origin_request(guarded, ORIGIN) == 200
    for foreign in ("https://evil.example", "null", f"http://127.0.0.1:{guarded.port + 1}"):
        status, headers, body = guarded.request(
            "GET", "/api/kernelspecs", headers={"Origin": foreign}
        )
        assert_json_error(status, headers, body, 403)


def test_any_origin_is_allowed_with_a_star(gateway_factory: GatewayFactory) -> None:
    gateway = gateway_factory("--allow_origin=*")
    assert origin_request(gateway, "https://evil.example") == 200


async def connect(gateway: Gateway, kernel_id: str, headers: dict[str, str]) -> int:
    """Open the kernel's channels websocket; 101 when it opens, else the refusal's status."""
    url = f"{gateway.ws_url}/api/kernels/{kernel_id}/channels"
    try:
        conn = await websocket_connect(HTTPRequest(url, headers=headers, request_timeout=30))
    except HTTPClientError as err:
        return err.code
    conn.close()
    return 101


async def test_websocket_upgrade_checks_token_and_origin(guarded: Gateway, kernel_id: str) -> None:
    auth = {"Authorization": f"token {TOKEN}"}
    own = f"http://127.0.0.1:{guarded.port}"
    assert await connect(guarded, kernel_id, {**auth, "Origin": own}) == 101
    assert await connect(guarded, kernel_id, {**auth, "Origin": ORIGIN}) == 101
    assert await connect(guarded, kernel_id, {**auth, "Origin": "https://evil.example"}) == 403
    assert await connect(guarded, kernel_id, {"Origin": own}) == 401
    assert await connect(guarded, kernel_id, {"Authorization": "token nope"}) == 401
    assert await connect(guarded, "no-such-kernel", auth) == 404


@pytest.mark.parametrize(
    "path",
    ["/api", "/api/kernelspecs", "/api/kernelspecs/python3", "/api/kernels", "/api/sessions"],
)
def test_head_is_answered_wherever_get_is(guarded: Gateway, path: str) -> None:
    get_status, get_headers, _ = guarded.request("GET", path)
    status, headers, body = guarded.request("HEAD", path)
    assert (status, body) == (get_status, b"")
    assert headers["Content-Type"] == get_headers["Content-Type"]


def test_head_where_there_is_no_get_is_405(guarded: Gateway, kernel_id: str) -> None:
    status, headers, _ = guarded.request("HEAD", f"/api/kernels/{kernel_id}/interrupt")
    assert status == 405
    assert headers["Allow"] == "POST, OPTIONS"


def raw_request(port: int, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """Send bytes urllib won't send; return the status and the body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head + b"\r\n\r\n" + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def raw_head(method: str, target: bytes, token: str, *extra: bytes) -> bytes:
    lines = [
        method.encode() + b" " + target + b" HTTP/1.1",
        b"Host: 127.0.0.1",
        b"Connection: close",
        f"Authorization: token {token}".encode(),
        *extra,
    ]
    return b"\r\n".join(lines)


HOSTILE = [
    ("GET", b"/api/kernels/%00", b""),
    ("GET", b"/api/%00", b""),
    ("GET", b"/api/kernels/%ff", b""),
    ("GET", b"/api/kernelspecs/%c3%28", b""),
    ("DELETE", b"/api/kernels/%00", b""),
    ("OPTIONS", b"/api/kernels/%00", b""),
    ("OPTIONS", b"/api?%ff", b""),
    ("GET", b"/api?x=%00", b""),
    ("GET", b"/api?x=%ff", b""),
    ("GET", b"/api/kernelspecs?%ff=1", b""),
    ("GET", b"/api/kernels/\xff", b""),
    ("GET", b"/api/kernels/\xc3\xa9", b""),
    ("GET", b"/api?x=\xff", b""),
    ("POST", b"/api/kernels", b'{"name": "\xff"}'),
    ("POST", b"/api/kernels", b'{"name": "python3"\x00}'),
    ("POST", b"/api/kernels", b"{not json"),
    ("POST", b"/api/kernels", b"[1, 2"),
    ("POST", b"/api/sessions", b"\xff\xfe"),
]


@pytest.mark.parametrize(
    ("method", "target", "body"), HOSTILE, ids=[f"{m} {t!r} {b!r}" for m, t, b in HOSTILE]
)
def test_hostile_input_is_a_json_400(
    guarded: Gateway, method: str, target: bytes, body: bytes
) -> None:
    head = raw_head(method, target, TOKEN, b"Content-Length: %d" % len(body))
    status, answer = raw_request(guarded.port, head, body)
    assert status == 400, answer
    assert sorted(json.loads(answer)) == ["message", "reason"]
    assert guarded.request("GET", "/api")[0] == 200


@pytest.mark.parametrize(
    "head",
    [
        b"GET /api/\x00 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close",
        b"GET /api HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Bad: a\x00b\r\nConnection: close",
        b"NONSENSE",
        b"GET /api HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\nConnection: close",
    ],
    ids=["nul-in-request-line", "nul-in-header", "garbage", "negative-length"],
)
def test_unparseable_requests_get_400_and_the_server_goes_on(guarded: Gateway, head: bytes) -> None:
    status, _ = raw_request(guarded.port, head)
    assert status == 400
    assert guarded.request("GET", "/api")[0] == 200


def test_notebook_paths_and_queries_are_checked_too(gateways: dict[str, Gateway]) -> None:
    port = gateways["notebook"].port
    for target in (b"/hello/%ff", b"/hello/%00", b"/hello/x?y=%ff", b"/hello/\xc3\xa9"):
        status, answer = raw_request(port, raw_head("GET", target, TOKEN))
        assert status == 400, (target, answer)
    status, answer = raw_request(port, raw_head("GET", b"/hello/%c3%a9", TOKEN))
    assert (status, answer) == (200, "hello é\n".encode())


def test_notebook_body_with_bad_bytes_is_no_server_error(gateways: dict[str, Gateway]) -> None:
    port = gateways["notebook"].port
    for body, kind in ((b"\xff\xfe\x00", b"text/plain"), (b'{"a": "\xff"}', b"application/json")):
        head = raw_head(
            "POST", b"/echo", TOKEN, b"Content-Length: %d" % len(body), b"Content-Type: " + kind
        )
        status, answer = raw_request(port, head, body)
        assert status < 500, answer


def test_unknown_paths_are_json_404(guarded: Gateway) -> None:
    for path in ("/nope", "/api/nope", "/api/kernels/x/y/z", "/api/kernelspecs/nope"):
        status, headers, body = guarded.request("GET", path)
        assert_json_error(status, headers, body, 404)


def test_no_traceback_and_no_token_in_the_debug_log(guarded: Gateway) -> None:
    without_token(guarded).request("GET", f"/api/kernels?token={TOKEN}")
    log = guarded.log()
    assert "Connecting to" in log or "DEBUG" in log
    assert TOKEN not in log
    assert "Traceback" not in log


def test_the_api_answers_its_version(gateways: dict[str, Gateway]) -> None:
    from kernel_gateway import __version__

    assert gateways["open"].json("GET", "/api") == (200, {"version": __version__})
    assert Path(__file__).parent.name == "base"
