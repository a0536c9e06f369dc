"""REQUEST building and its assignment in each language."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kernel_gateway.errors import BadRequest
from kernel_gateway.notebook_http.request import (
    build_request,
    parse_body,
    request_assignment,
    with_request,
)

TRICKY = "quote \" backslash \\ newline \n tab \t emoji 😀 accent é NUL \x00 dollar $x #{y} ' end"


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
        (b"[" * 100_000 + b"]" * 100_000, "Request body is not valid JSON: nested too deeply"),
    ],
    ids=["syntax", "nan", "utf-8", "deep"],
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


def test_the_request_shares_the_annotation_line_so_cell_lines_keep_their_numbers() -> None:
    assert [
        with_request('REQUEST = "{}"', "  # GET /x\nprint(1)", "#"),
        with_request('REQUEST = "{}"', "# GET /x", "#"),
        with_request('var REQUEST = "{}";', "// GET /x\nx", "//"),
        with_request('REQUEST = "{}"', "print(1)", "#"),
    ] == [
        'REQUEST = "{}"  # GET /x\nprint(1)',
        'REQUEST = "{}"  # GET /x',
        'var REQUEST = "{}";  // GET /x\nx',
        'REQUEST = "{}"\nprint(1)',
    ]
