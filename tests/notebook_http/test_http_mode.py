"""notebook-http mode over HTTP with a real kernel: routing, REQUEST, responses, documents.

One gateway serves notebooks/api.ipynb (a pool of one kernel) for the whole module.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import Gateway, GatewayFactory, write_notebook
from openapi_spec_validator import OpenAPIV2SpecValidator, OpenAPIV31SpecValidator

from kernel_gateway.notebook_http.swagger.gateway_responses import GATEWAY_ERRORS

API = Path(__file__).parent / "notebooks" / "api.ipynb"
MAX_BODY = 2048
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
TEXT_PLAIN = "text/plain; charset=utf-8"

Headers = list[tuple[str, str]]


@pytest.fixture(scope="module")
def api(
    module_gateway_factory: GatewayFactory, tmp_path_factory: pytest.TempPathFactory
) -> Gateway:
    static = tmp_path_factory.mktemp("static")
    (static / "hello.txt").write_text("static hello")
    return module_gateway_factory(
        "--api=notebook-http",
        f"--seed_uri={API}",
        f"--NotebookHTTPPersonality.max_body_size={MAX_BODY}",
        "--NotebookHTTPPersonality.allow_notebook_download=True",
        f"--NotebookHTTPPersonality.static_path={static}",
        ready_path="/seeded",
    )


def raw(
    gateway: Gateway,
    method: str,
    path: str,
    body: bytes = b"",
    headers: Sequence[tuple[str, str]] = (),
) -> tuple[int, Headers, bytes]:
    """One request with repeatable headers; the response headers as sent, duplicates kept."""
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=30)
    try:
        connection.putrequest(method, path)
        for name, value in headers:
            connection.putheader(name, value)
        if body or method in ("POST", "PUT", "PATCH"):
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


def values(headers: Headers, name: str) -> list[str]:
    return [value for key, value in headers if key.lower() == name.lower()]


def echo(gateway: Gateway, body: bytes, content_type: str) -> dict:
    """The REQUEST that POST /echo received."""
    status, _, answer = raw(gateway, "POST", "/echo", body, [("Content-Type", content_type)])
    assert status == 200, answer
    return json.loads(answer)


def error_of(body: bytes) -> dict:
    """A JSON error answer, checked for its shape."""
    error = json.loads(body)
    assert set(error) == {"reason", "message"}
    return error


# -- routing -------------------------------------------------------------------------------


def test_seed_cells_ran_before_serving(api: Gateway) -> None:
    assert api.json("GET", "/seeded") == (200, {"seeded": True})


def test_literal_segment_beats_parameter(api: Gateway) -> None:
    assert api.request("GET", "/users/me")[::2] == (200, b"me\n")
    assert api.json("GET", "/users/42") == (200, {"id": "42"})


def test_path_parameter_is_percent_decoded(api: Gateway) -> None:
    assert api.json("GET", "/users/a%20b%C3%A9") == (200, {"id": "a bé"})


def test_trailing_slash_matches(api: Gateway) -> None:
    assert api.request("GET", "/users/me/")[::2] == (200, b"me\n")
    assert api.json("GET", "/users/42/") == (200, {"id": "42"})


def test_cells_of_one_endpoint_are_joined_in_order(api: Gateway) -> None:
    assert api.request("GET", "/joined")[::2] == (200, b"first\nsecond\n")


@pytest.mark.parametrize("path", ["/nope", "/users/1/extra", "/users", "/joined/x"])
def test_unknown_path_is_json_404(api: Gateway, path: str) -> None:
    status, headers, body = api.request("GET", path)
    assert status == 404
    assert headers["Content-Type"] == "application/json"
    assert error_of(body)["reason"] == "Not Found"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/echo", "GET, POST, PUT, OPTIONS"),
        ("PATCH", "/echo/", "GET, POST, PUT, OPTIONS"),
        ("POST", "/users/7", "GET, OPTIONS"),
        ("HEAD", "/users/7", "GET, OPTIONS"),  # HEAD would run the GET cell for nothing
        ("TRACE", "/users/7", "GET, OPTIONS"),
    ],
)
def test_undeclared_method_is_405_with_allow(
    api: Gateway, method: str, path: str, allow: str
) -> None:
    status, headers, body = raw(api, method, path)
    assert status == 405
    assert values(headers, "Allow") == [allow]
    if method != "HEAD":  # a HEAD answer has no body
        assert error_of(body)["reason"] == "Method Not Allowed"


def test_405_and_404_do_not_wait_for_the_busy_kernel(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    started, release = tmp_path / "started", tmp_path / "release"
    notebook = write_notebook(
        tmp_path / "busy.ipynb",
        "import pathlib, time",
        f"# GET /busy\npathlib.Path({str(started)!r}).touch()\n"
        f"while not pathlib.Path({str(release)!r}).exists(): time.sleep(0.02)\n"
        "print('released')",
        "# POST /echo\nprint('echo')",
    )
    gateway = gateway_factory("--api=notebook-http", f"--seed_uri={notebook}")
    with ThreadPoolExecutor(1) as pool:
        busy = pool.submit(gateway.request, "GET", "/busy")
        deadline = time.monotonic() + 30
        while not started.exists():  # /busy now holds the only kernel until released
            assert time.monotonic() < deadline, "/busy never started"
            time.sleep(0.05)
        assert gateway.request("DELETE", "/echo")[0] == 405
        assert gateway.request("GET", "/nope")[0] == 404
        assert not busy.done()  # answered while the only kernel was still busy
        release.touch()
        assert busy.result()[::2] == (200, b"released\n")


def test_cors_preflight_on_an_endpoint_is_204(api: Gateway) -> None:
    assert raw(api, "OPTIONS", "/echo", headers=[("Origin", "http://elsewhere")])[::2] == (204, b"")


def test_head_runs_no_code(api: Gateway) -> None:
    assert raw(api, "HEAD", "/fail")[0] == 405  # the GET cell would have raised: 500


# -- REQUEST -------------------------------------------------------------------------------


def test_json_body_is_parsed(api: Gateway) -> None:
    sent = {"a": [1, 2.5, None], "b": "é ✓", "c": {"d": True}}
    assert echo(api, json.dumps(sent).encode(), "application/json")["body"] == sent


def test_json_suffix_type_with_charset_is_parsed(api: Gateway) -> None:
    request = echo(api, b'{"x": [1]}', "application/vnd.x+json; charset=utf-8")
    assert request["body"] == {"x": [1]}
    assert request["headers"]["Content-Type"] == "application/vnd.x+json; charset=utf-8"


def test_invalid_json_is_400_and_the_cell_does_not_run(api: Gateway) -> None:
    before = int(api.request("GET", "/count")[2])
    json_type = [("Content-Type", "application/json")]
    status, _, body = raw(api, "POST", "/count", b'{"a": ', json_type)
    assert status == 400
    assert "not valid JSON" in error_of(body)["message"]
    assert int(api.request("GET", "/count")[2]) == before
    assert api.request("POST", "/count", {})[2] == f"{before + 1}\n".encode()


def test_form_fields_are_lists(api: Gateway) -> None:
    request = echo(api, b"a=1&a=2&b=%C3%A9+x", "application/x-www-form-urlencoded")
    assert request["body"] == {"a": ["1", "2"], "b": ["é x"]}


def test_multipart_file_is_base64(api: Gateway) -> None:
    content = bytes(range(256))
    body = (
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="note"\r\n\r\n'
        b"hi\r\n"
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="upload"; filename="a.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n"
        b"--XyZ--\r\n"
    )
    request = echo(api, body, "multipart/form-data; boundary=XyZ")
    assert request["body"] == {
        "note": ["hi"],
        "upload": [
            {
                "filename": "a.bin",
                "content_type": "application/octet-stream",
                "content": base64.b64encode(content).decode(),
            }
        ],
    }


def test_text_body_is_decoded_with_its_charset(api: Gateway) -> None:
    assert echo(api, "line 1\ncafé".encode(), "text/plain")["body"] == "line 1\ncafé"
    assert echo(api, "café".encode("latin-1"), "text/plain; charset=iso-8859-1")["body"] == "café"


def test_binary_body_is_base64(api: Gateway) -> None:
    content = b"\xff\xfe\x00\x01binary"
    request = echo(api, content, "application/octet-stream")
    assert request["body"] == base64.b64encode(content).decode()


def test_query_args_are_lists_and_path_is_empty(api: Gateway) -> None:
    status, _, body = api.request("GET", "/echo?a=1&a=2&b=%C3%A9&empty=")
    request = json.loads(body)
    assert status == 200
    assert request["args"] == {"a": ["1", "2"], "b": ["é"], "empty": [""]}
    assert (request["path"], request["body"]) == ({}, "")


def test_repeated_header_is_a_list(api: Gateway) -> None:
    headers = [("X-Tag", "one"), ("X-Tag", "two"), ("X-Single", "only")]
    status, _, body = raw(api, "GET", "/echo", headers=headers)
    received = json.loads(body)["headers"]
    assert status == 200
    assert received["X-Tag"] == ["one", "two"]
    assert received["X-Single"] == "only"


def test_body_over_max_body_size_is_413(api: Gateway) -> None:
    status, _, body = raw(api, "POST", "/echo", b"x" * (MAX_BODY + 1))
    assert status == 413
    assert str(MAX_BODY) in error_of(body)["message"]
    assert raw(api, "POST", "/echo", b"x" * MAX_BODY, [("Content-Type", "text/plain")])[0] == 200


def test_chunked_body_over_max_body_size_is_413(api: Gateway) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    try:
        chunks = iter([b"x" * MAX_BODY, b"y"])
        connection.request("POST", "/echo", chunks, {"Content-Type": "text/plain"})
        response = connection.getresponse()
        assert response.status == 413
        assert f"over {MAX_BODY} bytes" in error_of(response.read())["message"]
    finally:
        connection.close()


def test_chunked_body_is_refused_as_soon_as_it_passes_the_limit(api: Gateway) -> None:
    with socket.create_connection(("127.0.0.1", api.port), timeout=10) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
            + b"%x\r\n" % (MAX_BODY + 1)
            + b"x" * (MAX_BODY + 1)
            + b"\r\n"
        )  # and then nothing: the body has no end yet
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 "), answer
    assert f"the limit is {MAX_BODY}" in error_of(body)["message"]
    assert api.request("POST", "/echo", b"fine", {"Content-Type": "text/plain"})[0] == 200


def test_one_huge_chunk_is_our_json_413_not_a_bare_400(api: Gateway) -> None:
    huge = 4 * 1024 * 1024  # past the server's own limit too (max_body_size + 1 MiB)
    with socket.create_connection(("127.0.0.1", api.port), timeout=10) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % huge + b"x" * (MAX_BODY + 1)
        )  # the rest of the chunk never comes
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 "), answer
    assert error_of(body) == {
        "reason": "Request Entity Too Large",
        "message": f"The request body is over {MAX_BODY} bytes; the limit is {MAX_BODY}",
    }
    assert api.request("POST", "/echo", b"fine", {"Content-Type": "text/plain"})[0] == 200


def test_huge_declared_body_is_413_before_it_is_sent(api: Gateway) -> None:
    with socket.create_connection(("127.0.0.1", api.port), timeout=10) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
            b"Content-Length: 10000000000\r\nExpect: 100-continue\r\n\r\n"
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 "), answer
    assert b"100 (Continue)" not in head
    assert str(MAX_BODY) in error_of(body)["message"]


# -- responses -----------------------------------------------------------------------------


def test_stdout_is_the_body_verbatim_with_one_default_content_type(api: Gateway) -> None:
    status, headers, body = raw(api, "GET", "/verbatim")
    assert (status, body) == (200, "tab\there\n  two  \nünï ✓".encode())
    assert values(headers, "Content-Type") == [TEXT_PLAIN]
    assert values(headers, "Etag") == []


def test_response_info_sets_status_and_headers(api: Gateway) -> None:
    status, headers, body = raw(api, "GET", "/created")
    assert (status, body) == (201, b"made\n")
    assert values(headers, "X-Tag") == ["a", "b"]
    assert values(headers, "Location") == ["/created/1"]
    assert values(headers, "Content-Type") == [TEXT_PLAIN]


def test_bundle_gives_the_representation_of_the_content_type(api: Gateway) -> None:
    status, headers, body = raw(api, "GET", "/html")
    assert (status, body) == (200, b"<b>hi</b>")
    assert values(headers, "Content-Type") == ["text/html"]


def test_png_representation_is_decoded(api: Gateway) -> None:
    status, headers, body = raw(api, "GET", "/png")
    assert (status, body) == (200, PNG)
    assert body.startswith(b"\x89PNG\r\n\x1a\n")
    assert values(headers, "Content-Type") == ["image/png"]


def test_bundle_without_content_type_is_the_whole_bundle_as_json(api: Gateway) -> None:
    status, headers, body = raw(api, "GET", "/bundle")
    assert (status, json.loads(body)) == (200, {"text/plain": "{'a': 1}"})
    assert values(headers, "Content-Type") == ["application/json"]


def test_raising_cell_is_500_and_the_kernel_keeps_serving(api: Gateway) -> None:
    status, headers, body = api.request("GET", "/fail")
    assert status == 500
    assert headers["Content-Type"] == "application/json"
    error = error_of(body)
    message = 'cell 22 "# GET /fail": ValueError: boom (line 2 of the cell)'
    assert error == {"reason": "Internal Server Error", "message": message}
    assert api.json("GET", "/seeded") == (200, {"seeded": True})
    assert "ValueError: boom" in api.log()


# -- documents, source and static files ----------------------------------------------------


def test_swagger_document_is_valid_and_describes_the_endpoints(api: Gateway) -> None:
    status, spec = api.json("GET", "/_api/spec/swagger.json")
    assert status == 200
    OpenAPIV2SpecValidator(spec).validate()
    assert spec["info"]["title"] == "api"
    assert set(spec["paths"]) >= {"/users/me", "/users/{id}", "/echo", "/created", "/png"}
    assert set(spec["paths"]["/echo"]) == {"get", "post", "put"}
    me = spec["paths"]["/users/me"]["get"]
    assert me["summary"] == "The current user"
    assert "Answers `me`." in me["description"]
    assert spec["paths"]["/users/{id}"]["get"]["parameters"][0]["name"] == "id"
    assert set(spec["paths"]["/created"]["get"]["responses"]) == {"201", *GATEWAY_ERRORS}
    produces = ["image/png", "text/event-stream", "application/json"]  # its events, errors
    assert spec["paths"]["/png"]["get"]["produces"] == produces


def test_openapi_document_is_valid_3_1(api: Gateway) -> None:
    status, spec = api.json("GET", "/_api/spec/openapi.json")
    assert status == 200
    OpenAPIV31SpecValidator(spec).validate()
    assert spec["openapi"].startswith("3.1")
    assert spec["paths"]["/users/me"]["get"]["summary"] == "The current user"


def test_notebook_download_is_the_file_byte_for_byte(api: Gateway) -> None:
    status, headers, body = raw(api, "GET", "/_api/source")
    assert (status, body) == (200, API.read_bytes())
    assert values(headers, "Content-Type") == ["application/json"]


def test_static_path_is_served_under_public(api: Gateway) -> None:
    assert api.request("GET", "/public/hello.txt")[::2] == (200, b"static hello")
    status, _, body = api.request("GET", "/public/missing.txt")
    assert status == 404
    error_of(body)


def test_a_notebook_endpoint_at_api_wins_over_the_version_route(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    notebook = write_notebook(tmp_path / "api.ipynb", "# GET /api\nprint('my api')")
    gateway = gateway_factory("--api=notebook-http", f"--seed_uri={notebook}")
    assert gateway.request("GET", "/api")[::2] == (200, b"my api\n")
