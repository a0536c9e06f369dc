"""REQUEST building, its assignment in each language, and response mapping."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from kernel_gateway.errors import BadRequest, CellError, GatewayError
from kernel_gateway.notebook_http.request_utils import (
    EndpointResponse,
    build_request,
    map_response,
    parse_body,
    request_assignment,
)
from kernel_gateway.services.kernels.execution import ExecutionResult

TRICKY = "quote \" backslash \\ newline \n tab \t emoji 😀 accent é NUL \x00 dollar $x #{y} ' end"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
TEXT = (("Content-Type", "text/plain; charset=utf-8"),)


def request(**kwargs: Any) -> Any:
    values: dict[str, Any] = {
        "body": b"",
        "content_type": None,
        "args": {},
        "path_args": {},
        "headers": [],
    }
    values.update(kwargs)
    text = build_request(**values)
    assert text.isascii()
    return json.loads(text)


def test_get_request_whole_value() -> None:
    assert request(
        args={"a": [b"1", b"2"], "b": [b"x"], "e": [b"\xc3\xa9"]},
        path_args={"id": "42"},
        headers=[("Host", "h"), ("X-Foo", "1"), ("Accept", "*/*"), ("X-Foo", "2")],
    ) == {
        "body": "",
        "args": {"a": ["1", "2"], "b": ["x"], "e": ["é"]},
        "path": {"id": "42"},
        "headers": {"Host": "h", "X-Foo": ["1", "2"], "Accept": "*/*"},
    }


def test_request_text_is_ascii_json() -> None:
    text = build_request(b'{"k": "\xc3\xa9"}', "application/json", {}, {}, [])
    assert text == '{"body": {"k": "\\u00e9"}, "args": {}, "path": {}, "headers": {}}'


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/vnd.api+json",
        "application/merge-patch+json; charset=UTF-8",
    ],
)
def test_json_bodies_are_parsed(content_type: str) -> None:
    assert parse_body(b'{"k": [1, 2.5, null, "\xf0\x9f\x98\x80"]}', content_type) == {
        "k": [1, 2.5, None, "😀"]
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b"{bad",
            "Request body is not valid JSON: Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1)",
        ),
        (b"[NaN]", "Request body is not valid JSON: NaN is not allowed in JSON"),
        (
            b'"\xff"',
            "Request body is not valid JSON: 'utf-8' codec can't decode byte 0xff in position 1: "
            "invalid start byte",
        ),
    ],
)
def test_invalid_json_is_a_bad_request(body: bytes, message: str) -> None:
    with pytest.raises(BadRequest) as info:
        parse_body(body, "application/json")
    assert info.value.message == message


def test_urlencoded_form_fields_are_lists() -> None:
    body = b"a=1&a=2&b=h%C3%A9&empty="
    assert parse_body(body, "application/x-www-form-urlencoded") == {
        "a": ["1", "2"],
        "b": ["hé"],
        "empty": [""],
    }


def test_multipart_fields_and_files() -> None:
    boundary = "XyZ"
    parts = [
        'Content-Disposition: form-data; name="a"\r\n\r\n1',
        'Content-Disposition: form-data; name="a"\r\n\r\n2',
        'Content-Disposition: form-data; name="f"; filename="x.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n\x00\x01",
    ]
    body = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts) + f"--{boundary}--\r\n"
    assert parse_body(body.encode(), f"multipart/form-data; boundary={boundary}") == {
        "a": ["1", "2"],
        "f": [{"filename": "x.bin", "content_type": "application/octet-stream", "content": "AAE="}],
    }


def test_malformed_multipart_is_a_bad_request() -> None:
    with pytest.raises(BadRequest) as info:
        parse_body(b"garbage", "multipart/form-data; boundary=XyZ")
    assert info.value.message.startswith("Request body is not a valid form: ")


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"", "application/json", ""),
        (b"", None, ""),
        (b'hello "x"', "text/plain", 'hello "x"'),
        (b"caf\xc3\xa9", None, "café"),
        (b"caf\xe9", "text/plain; charset=latin-1", "café"),
        (b"caf\xe9", "text/plain; charset=nonsense", "Y2Fm6Q=="),
        (b"caf\xe9", "text/plain; charset=base64", "Y2Fm6Q=="),
        (b"\xff\x00", "application/octet-stream", "/wA="),
        (b"<a/>", "application/xml", "<a/>"),
    ],
)
def test_other_bodies_are_text_or_base64(
    body: bytes, content_type: str | None, expected: str
) -> None:
    assert parse_body(body, content_type) == expected


def test_invalid_utf8_query_argument() -> None:
    with pytest.raises(BadRequest) as info:
        build_request(b"", None, {"q": [b"\xff"]}, {}, [])
    assert info.value.message == "Query argument 'q' is not valid UTF-8"


def test_python_assignment_round_trips_tricky_text() -> None:
    request_json = build_request(
        TRICKY.encode(), "text/plain", {"k": [TRICKY.encode()]}, {"p": TRICKY}, [("X", TRICKY)]
    )
    namespace: dict[str, Any] = {}
    exec(request_assignment(request_json, "python"), namespace)
    assert json.loads(namespace["REQUEST"]) == {
        "body": TRICKY,
        "args": {"k": [TRICKY]},
        "path": {"p": TRICKY},
        "headers": {"X": TRICKY},
    }


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("python", r'REQUEST = "{\"a\": \"q\\\" b\\\\ $ # \\u00e9 \\n\"}"'),
        ("unknown", r'REQUEST = "{\"a\": \"q\\\" b\\\\ $ # \\u00e9 \\n\"}"'),
        ("R", r'REQUEST <- "{\"a\": \"q\\\" b\\\\ $ # \\u00e9 \\n\"}"'),
        ("julia", r'REQUEST = "{\"a\": \"q\\\" b\\\\ \$ # \\u00e9 \\n\"}"'),
        ("ruby", r'REQUEST = "{\"a\": \"q\\\" b\\\\ $ \# \\u00e9 \\n\"}"'),
        ("scala", r'val REQUEST = "{\"a\": \"q\\\" b\\\\ $ # \\u00e9 \\n\"}"'),
        ("java", r'String REQUEST = "{\"a\": \"q\\\" b\\\\ $ # \\u00e9 \\n\"}";'),
        ("javascript", r'var REQUEST = "{\"a\": \"q\\\" b\\\\ $ # \\u00e9 \\n\"}";'),
        ("go", r'REQUEST := "{\"a\": \"q\\\" b\\\\ $ # \\u00e9 \\n\"}"'),
        ("bash", r"""REQUEST='{"a": "q\" b\\ $ # \u00e9 \n"}'"""),
    ],
)
def test_assignment_per_language(language: str, expected: str) -> None:
    request_json = json.dumps({"a": 'q" b\\ $ # é \n'})
    assert request_assignment(request_json, language) == expected


def test_assignment_escapes_single_quotes_in_bash_and_normalizes_non_ascii() -> None:
    assert request_assignment('{"a": "it\'s"}', "bash") == """REQUEST='{"a": "it'\\''s"}'"""
    assert request_assignment('{"a":\n"é"}', "python") == 'REQUEST = "{\\"a\\": \\"\\\\u00e9\\"}"'


def ok(**kwargs: Any) -> ExecutionResult:
    return ExecutionResult(status="ok", **kwargs)


def info(payload: object) -> ExecutionResult:
    return ok(stdout=json.dumps(payload) + "\n")


BUNDLE = {
    "text/plain": "<Image>",
    "image/png": base64.b64encode(PNG).decode(),
    "application/json": {"a": 1},
}


@pytest.mark.parametrize(
    ("result", "response_info", "expected"),
    [
        (
            ok(stdout="hello\n", execute_result={"text/plain": "1"}),
            None,
            EndpointResponse(200, TEXT, b"hello\n"),
        ),
        (ok(), None, EndpointResponse(200, TEXT, b"")),
        (ok(stdout="", stderr="warn"), ok(), EndpointResponse(200, TEXT, b"")),
        (
            ok(execute_result={"text/plain": "42"}),
            None,
            EndpointResponse(200, (("Content-Type", "application/json"),), b'{"text/plain": "42"}'),
        ),
        (
            ok(execute_result=BUNDLE),
            info({"headers": {"Content-Type": "image/png"}}),
            EndpointResponse(200, (("Content-Type", "image/png"),), PNG),
        ),
        (
            ok(execute_result=BUNDLE),
            info({"headers": {"content-type": "application/json; charset=utf-8"}}),
            EndpointResponse(
                200, (("content-type", "application/json; charset=utf-8"),), b'{"a": 1}'
            ),
        ),
        (
            ok(execute_result=BUNDLE),
            info({"headers": {"Content-Type": "text/html"}}),
            EndpointResponse(200, (("Content-Type", "text/html"),), json.dumps(BUNDLE).encode()),
        ),
        (
            ok(
                display_data=(
                    {"text/html": "<b>1</b>"},
                    {"text/html": "<b>2</b>", "text/plain": "2"},
                )
            ),
            info({"headers": {"Content-Type": "text/html"}}),
            EndpointResponse(200, (("Content-Type", "text/html"),), b"<b>2</b>"),
        ),
        (
            ok(execute_result={"image/svg+xml": ["<svg>", "</svg>"]}),
            info({"headers": {"Content-Type": "image/svg+xml"}}),
            EndpointResponse(200, (("Content-Type", "image/svg+xml"),), b"<svg></svg>"),
        ),
        (
            ok(stdout="é"),
            info(
                {
                    "status": 201,
                    "headers": {"Location": "/x/1", "Set-Cookie": ["a=1", "b=2"], "X-N": 3},
                }
            ),
            EndpointResponse(
                201,
                (
                    ("Location", "/x/1"),
                    ("Set-Cookie", "a=1"),
                    ("Set-Cookie", "b=2"),
                    ("X-N", "3"),
                    *TEXT,
                ),
                "é".encode(),
            ),
        ),
        (
            ok(stdout="gone"),
            info({"status": "204", "headers": {"Content-Type": "text/plain", "X": "1"}}),
            EndpointResponse(204, (("X", "1"),), b""),
        ),
        (ok(stdout="x"), ok(stdout="\n"), EndpointResponse(200, TEXT, b"x")),
    ],
)
def test_map_response(
    result: ExecutionResult, response_info: ExecutionResult | None, expected: EndpointResponse
) -> None:
    assert map_response(result, response_info) == expected


def test_endpoint_error_raises_cell_error() -> None:
    result = ExecutionResult(
        status="error", stdout="partial", error=("ValueError", "bad", ("tb1", "tb2"))
    )
    with pytest.raises(CellError) as caught:
        map_response(result, ok(stdout="{}"))
    assert (caught.value.message, caught.value.traceback) == ("ValueError: bad", ["tb1", "tb2"])


def test_aborted_cells_raise_cell_error() -> None:
    with pytest.raises(CellError) as caught:
        map_response(ok(stdout="x"), ExecutionResult(status="aborted"))
    assert (
        caught.value.message == "ExecutionError: the ResponseInfo cell ended with status 'aborted'"
    )


@pytest.mark.parametrize(
    ("stdout", "reason"),
    [
        ("not json", "Expecting value: line 1 column 1 (char 0) in 'not json'"),
        ("[1]", "got list, not an object"),
        ('{"status": 99}', "status 99 is not an integer from 200 to 599"),
        ('{"status": true}', "status True is not an integer from 200 to 599"),
        ('{"status": "abc"}', "status 'abc' is not an integer from 200 to 599"),
        ('{"headers": []}', "headers is not an object"),
        ('{"headers": {"Bad Name": "x"}}', "'Bad Name' is not a header name"),
        ('{"headers": {"X": {"a": 1}}}', "header X has a value that is not a string"),
        ('{"headers": {"X": "a\\r\\nY: b"}}', "header X has a line break in its value"),
    ],
)
def test_invalid_response_info_is_a_500(stdout: str, reason: str) -> None:
    with pytest.raises(GatewayError) as caught:
        map_response(ok(stdout="x"), ok(stdout=stdout))
    assert (type(caught.value), caught.value.status_code) == (GatewayError, 500)
    assert (
        caught.value.message
        == f'ResponseInfo output must be JSON {{"status", "headers"}}: {reason}'
    )
