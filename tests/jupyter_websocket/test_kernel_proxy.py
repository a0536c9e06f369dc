"""The kernel proxy `/api/kernels/:id/proxy/:port/...`, against a web app run by a real kernel."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
from collections.abc import Awaitable, Callable

import pytest
from conftest import Gateway, GatewayFactory, free_port
from proxy_helpers import (
    DEADLINE,
    KernelApp,
    auth,
    error_of,
    launch_kernel_app,
    raw_request,
    start_kernel_app,
    wait_for_json,
    wait_for_log,
)
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

TOKEN = "proxy-secret"
PORTS = "1024-65535"
MB = 1024 * 1024


@pytest.fixture(scope="module")
def gateway(module_gateway_factory: GatewayFactory) -> Gateway:
    return module_gateway_factory(f"--auth_token={TOKEN}", env={"KG_KERNEL_PROXY_PORTS": PORTS})


@pytest.fixture(scope="module")
def app(gateway: Gateway) -> KernelApp:
    return start_kernel_app(gateway)


def headers_of(echo: dict) -> dict[str, str]:
    return {name.lower(): value for name, value in echo["headers"]}


def test_get_forwards_end_to_end_headers_and_sets_forwarded_ones(
    gateway: Gateway, app: KernelApp
) -> None:
    sent = {
        **auth(gateway),
        "Connection": "keep-alive, X-Hop",
        "X-Hop": "only to the gateway",
        "Keep-Alive": "timeout=5",
        "TE": "trailers",
        "Proxy-Authorization": "Basic c2VjcmV0",
        "X-End": "to the app",
        "X-Forwarded-For": "10.1.2.3",
    }
    status, headers, raw = raw_request(gateway, "GET", f"{app.prefix}/echo?x=1&y=%2F", sent)
    assert status == 200
    echo = json.loads(raw)
    assert (echo["method"], echo["path"], echo["query"]) == ("GET", "/echo", "x=1&y=%2F")
    received = headers_of(echo)
    assert not {"x-hop", "keep-alive", "te", "proxy-authorization", "authorization"} & set(received)
    assert received["x-end"] == "to the app"
    assert received["host"] == f"127.0.0.1:{gateway.port}"  # as the client sent it
    assert received["x-forwarded-host"] == f"127.0.0.1:{gateway.port}"
    assert received["x-forwarded-proto"] == "http"
    assert received["x-forwarded-prefix"] == app.prefix
    assert received["x-forwarded-for"] == "10.1.2.3, 127.0.0.1"
    assert headers["X-Upstream"] == "echo"
    assert headers["Content-Type"] == "application/json; charset=UTF-8"
    assert "Keep-Alive" not in headers


def test_a_query_token_stays_at_the_gateway_other_parameters_pass(
    gateway: Gateway, app: KernelApp
) -> None:
    path = f"{app.prefix}/echo?token={TOKEN}&a=1&token=theirs"
    status, _, raw = raw_request(gateway, "GET", path)
    assert status == 200
    assert json.loads(raw)["query"] == "a=1&token=theirs"


def test_the_token_in_the_referer_stays_at_the_gateway(gateway: Gateway, app: KernelApp) -> None:
    page = f"http://127.0.0.1:{gateway.port}{app.prefix}/page"
    for query, kept in ((f"token={TOKEN}", page), (f"a=1&token={TOKEN}", f"{page}?a=1")):
        sent = {"Referer": f"{page}?{query}"}  # a page opened with ?token= loads its assets
        status, _, raw = raw_request(gateway, "GET", f"{app.prefix}/echo?token={TOKEN}", sent)
        assert (status, headers_of(json.loads(raw))["referer"]) == (200, kept)


def test_a_declared_body_over_the_limit_is_a_413(gateway: Gateway, app: KernelApp) -> None:
    declared = 200 * MB  # over the gateway's 100 MiB; nothing of it is sent
    sent = {**auth(gateway), "Content-Length": str(declared), "Expect": "100-continue"}
    status, _, raw = raw_request(gateway, "PUT", f"{app.prefix}/echo", sent)
    assert (status, error_of(raw)) == (
        413,
        {
            "reason": "Request Entity Too Large",
            "message": f"The request body is {declared} bytes; the limit is {100 * MB}",
        },
    )
    assert raw_request(gateway, "GET", f"{app.prefix}/echo", auth(gateway))[0] == 200


def test_every_method_is_forwarded(gateway: Gateway, app: KernelApp) -> None:
    for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        status, _, raw = raw_request(gateway, method, f"{app.prefix}/echo", auth(gateway), b"x")
        assert (status, json.loads(raw)["method"]) == (200, method)
    status, headers, raw = raw_request(gateway, "HEAD", f"{app.prefix}/echo", auth(gateway))
    assert (status, raw, headers["X-Upstream"]) == (200, b"", "echo")
    assert int(headers["Content-Length"]) > 0


def test_the_apps_own_statuses_and_bodies_pass_as_they_are(
    gateway: Gateway, app: KernelApp
) -> None:
    for code in (201, 204, 304, 404, 500, 502):
        status, headers, raw = raw_request(
            gateway, "GET", f"{app.prefix}/status/{code}", auth(gateway)
        )
        body = b"" if code in (204, 304) else f"the app's own {code}\n".encode()
        assert (status, headers["X-Upstream"], raw) == (code, "status", body)
    sent = {**auth(gateway), "Connection": "Upgrade", "Upgrade": "websocket"}
    status, _, raw = raw_request(gateway, "POST", f"{app.prefix}/echo", sent, b"not an upgrade")
    assert (status, json.loads(raw)["size"]) == (200, len(b"not an upgrade"))


def test_a_cors_preflight_is_answered_by_the_gateway(gateway: Gateway, app: KernelApp) -> None:
    preflight = {"Origin": "http://elsewhere", "Access-Control-Request-Method": "PUT"}
    status, headers, raw = raw_request(gateway, "OPTIONS", f"{app.prefix}/echo", preflight)
    assert (status, raw) == (204, b"")
    assert "X-Upstream" not in headers


def test_the_prefix_alone_redirects_to_its_folder(gateway: Gateway, app: KernelApp) -> None:
    status, headers, _ = raw_request(gateway, "GET", f"{app.prefix}?a=1", auth(gateway))
    assert (status, headers["Location"]) == (301, f"{app.prefix}/?a=1")


async def test_a_5_mb_body_arrives_whole(gateway: Gateway, app: KernelApp) -> None:
    body = os.urandom(5 * MB)
    response = await AsyncHTTPClient().fetch(
        f"{gateway.http_url}{app.prefix}/echo",
        method="POST",
        body=body,
        headers=auth(gateway),
        request_timeout=DEADLINE,
    )
    echo = json.loads(response.body)
    assert (echo["size"], echo["sha256"]) == (len(body), hashlib.sha256(body).hexdigest())


async def test_a_chunked_body_streams_through_as_it_is_sent(
    gateway: Gateway, app: KernelApp
) -> None:
    first, rest = os.urandom(MB), os.urandom(4 * MB)
    url = f"{gateway.http_url}{app.prefix}"

    async def produce(write: Callable[[bytes], Awaitable[None]]) -> None:
        await write(first)
        # the app has the first part before the rest is even sent
        progress = await wait_for_json(
            f"{url}/progress?key=chunked",
            auth(gateway),
            lambda body: body["received"] >= len(first),
        )
        assert progress["received"] == len(first)
        await write(rest)

    request = HTTPRequest(
        f"{url}/echo?key=chunked",
        method="PUT",
        body_producer=produce,
        headers=auth(gateway),
        request_timeout=DEADLINE,
    )
    echo = json.loads((await AsyncHTTPClient().fetch(request)).body)
    whole = first + rest
    assert (echo["method"], echo["size"]) == ("PUT", len(whole))
    assert echo["sha256"] == hashlib.sha256(whole).hexdigest()
    assert "content-length" not in headers_of(echo)


async def test_an_answer_streams_before_the_app_finishes_it(
    gateway: Gateway, app: KernelApp
) -> None:
    url = f"{gateway.http_url}{app.prefix}"
    chunks: list[bytes] = []
    arrived = asyncio.Event()

    def on_chunk(chunk: bytes) -> None:
        chunks.append(chunk)
        arrived.set()

    client = AsyncHTTPClient()
    streaming = HTTPRequest(
        f"{url}/stream?key=a",
        headers=auth(gateway),
        streaming_callback=on_chunk,
        request_timeout=60,
    )
    fetching = asyncio.ensure_future(client.fetch(streaming))
    await asyncio.wait_for(arrived.wait(), DEADLINE)
    assert b"".join(chunks) == b"first\n"  # the app waits for /release before the rest
    await client.fetch(f"{url}/release?key=a", method="POST", body=b"", headers=auth(gateway))
    response = await fetching
    assert (response.code, b"".join(chunks)) == (200, b"first\nlast\n")


async def test_a_client_that_leaves_mid_answer_closes_the_upstream_connection(
    gateway: Gateway, app: KernelApp
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(
        f"GET {app.prefix}/stream?key=gone HTTP/1.1\r\nHost: gw\r\n"
        f"Authorization: token {TOKEN}\r\n\r\n".encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"first\n"), DEADLINE)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    writer.close()
    await writer.wait_closed()
    url = f"{gateway.http_url}{app.prefix}/progress"
    progress = await wait_for_json(url, auth(gateway), lambda body: body["streams_cut"] >= 1)
    assert progress["streams_cut"] == 1


async def test_a_websocket_echoes_with_its_subprotocol_and_close_codes(
    gateway: Gateway, app: KernelApp
) -> None:
    url = f"{gateway.ws_url}{app.prefix}/ws?token={TOKEN}&room=1"
    info_url = f"{gateway.http_url}{app.prefix}/wsinfo"
    ws = await websocket_connect(url, subprotocols=["chat.v2", "chat.v1"])
    assert ws.selected_subprotocol == "chat.v2"
    await ws.write_message("hello")
    assert await ws.read_message() == "hello"
    await ws.write_message(b"\x00\xffbinary", binary=True)
    assert await ws.read_message() == b"\x00\xffbinary"
    await ws.write_message("close please")
    assert await ws.read_message() is None
    assert (ws.close_code, ws.close_reason) == (4001, "bye")
    ws.close()  # closed already: this releases it

    # a browser's websocket: the app's own same-origin check (tornado's) compares Origin
    # with the Host it gets, which is the gateway's
    browser = HTTPRequest(url, headers={"Origin": f"http://127.0.0.1:{gateway.port}"})
    ws = await websocket_connect(browser)
    assert ws.selected_subprotocol is None
    ws.close(4002, "client bye")
    info = await wait_for_json(info_url, auth(gateway), lambda body: len(body["closes"]) == 2)
    # the app's own close comes back with its code (tornado echoes a close without the reason)
    assert info["closes"] == [[4001, None], [4002, "client bye"]]
    first = info["requests"][0]
    assert first["uri"] == "/ws?room=1"
    received = {name.lower(): value for name, value in first["headers"]}
    assert received["x-forwarded-prefix"] == app.prefix
    assert received["sec-websocket-protocol"] == "chat.v2,chat.v1"


def test_the_kernels_own_zeromq_ports_are_refused(gateway: Gateway, app: KernelApp) -> None:
    assert len(app.zmq_ports) == 5
    for port in app.zmq_ports:
        path = f"/api/kernels/{app.kernel_id}/proxy/{port}/"
        status, _, raw = raw_request(gateway, "GET", path, auth(gateway))
        assert (status, error_of(raw)["message"]) == (
            403,
            f"Port {port} is one of the kernel's own ZeroMQ ports",
        )


def test_ports_outside_the_range_other_hosts_and_unknown_kernels_are_refused(
    gateway: Gateway, app: KernelApp
) -> None:
    status, _, raw = raw_request(
        gateway, "GET", f"/api/kernels/{app.kernel_id}/proxy/80/", auth(gateway)
    )
    assert (status, error_of(raw)["message"]) == (
        403,
        f"Port 80 is not among the kernel proxy's ports ({PORTS})",
    )
    other_host = f"/api/kernels/{app.kernel_id}/proxy/example.com:{app.port}/echo"
    assert raw_request(gateway, "GET", other_host, auth(gateway))[0] == 404
    status, _, raw = raw_request(
        gateway, "GET", f"/api/kernels/nope/proxy/{app.port}/", auth(gateway)
    )
    assert (status, error_of(raw)["message"]) == (404, "Kernel does not exist: nope")


async def test_nothing_listening_is_a_502(gateway: Gateway, app: KernelApp) -> None:
    port = free_port()
    path = f"/api/kernels/{app.kernel_id}/proxy/{port}/"
    status, _, raw = raw_request(gateway, "POST", path, auth(gateway), b"lost")
    assert status == 502
    assert error_of(raw)["message"] == (f"Nothing answers at 127.0.0.1:{port}: Connection refused")
    with pytest.raises(HTTPClientError) as refused:
        await websocket_connect(f"{gateway.ws_url}{path}?token={TOKEN}")
    assert refused.value.code == 502


async def test_the_token_is_required(gateway: Gateway, app: KernelApp) -> None:
    for headers in ({}, {"Authorization": "token wrong"}):
        status, _, raw = raw_request(gateway, "GET", f"{app.prefix}/echo", headers)
        assert (status, error_of(raw)["reason"]) == (401, "Unauthorized")
    with pytest.raises(HTTPClientError) as refused:
        await websocket_connect(f"{gateway.ws_url}{app.prefix}/ws")
    assert refused.value.code == 401


def test_the_proxy_is_off_by_default(gateway_factory: GatewayFactory) -> None:
    gateway = gateway_factory()
    status, model = gateway.json("POST", "/api/kernels", {})
    assert status == 201
    assert isinstance(model, dict)
    status, _, raw = raw_request(gateway, "GET", f"/api/kernels/{model['id']}/proxy/8000/")
    assert (status, error_of(raw)["message"]) == (
        403,
        "The kernel proxy is off: set KG_KERNEL_PROXY_PORTS "
        "(--KernelGatewayApp.kernel_proxy_ports) to the ports it may reach, e.g. 8000-9999",
    )


def test_an_app_that_never_answers_is_a_504_under_a_base_url(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = gateway_factory(
        "--base_url=/gw/",
        f"--KernelGatewayApp.kernel_proxy_ports={PORTS}",
        "--KernelGatewayApp.kernel_proxy_timeout=0.5",
    )
    app = start_kernel_app(gateway)
    status, _, raw = raw_request(gateway, "GET", f"{app.prefix}/hang")
    assert (status, error_of(raw)["message"]) == (
        504,
        f"127.0.0.1:{app.port} did not answer within 0.5 s",
    )
    status, _, raw = raw_request(gateway, "GET", f"{app.prefix}/echo")  # still serving
    echo = json.loads(raw)
    assert (status, echo["path"]) == (200, "/echo")
    assert headers_of(echo)["x-forwarded-prefix"] == f"/gw{app.prefix}"


async def test_shutdown_lets_a_proxied_answer_finish_and_closes_proxied_websockets(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = gateway_factory(f"--KernelGatewayApp.kernel_proxy_ports={PORTS}")
    app = await launch_kernel_app(gateway)
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(f"GET {app.prefix}/stream?key=s HTTP/1.1\r\nHost: gw\r\n\r\n".encode())
    head = await asyncio.wait_for(reader.readuntil(b"first\n"), DEADLINE)
    assert b"Transfer-Encoding: chunked" in head
    ws = await websocket_connect(f"{gateway.ws_url}{app.prefix}/ws")
    gateway.process.send_signal(signal.SIGTERM)
    loop = asyncio.get_running_loop()
    assert await loop.run_in_executor(None, wait_for_log, gateway, "waiting for 1 request(s)")
    # the gateway accepts nothing new now: the test releases the stream at the app itself
    release = f"http://127.0.0.1:{app.port}/release?key=s"
    await AsyncHTTPClient().fetch(release, method="POST", body=b"")
    rest = await asyncio.wait_for(reader.read(), DEADLINE)
    assert rest == b"\r\n5\r\nlast\n\r\n0\r\n\r\n"  # whole, down to the last chunk
    writer.close()
    assert await asyncio.wait_for(ws.read_message(), DEADLINE) is None
    assert (ws.close_code, ws.close_reason) == (1001, "The gateway is shutting down")
    ws.close()
    assert await loop.run_in_executor(None, gateway.process.wait, DEADLINE) == 0
