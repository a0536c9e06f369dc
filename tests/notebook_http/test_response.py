"""Kernel outputs and ResponseInfo output -> HTTP response."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from kernel_gateway.errors import CellError, GatewayError
from kernel_gateway.notebook_http.response import EndpointResponse, map_response
from kernel_gateway.services.kernels.execution import ExecutionResult

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
TEXT = (("Content-Type", "text/plain; charset=utf-8"),)


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
