"""Kernel outputs and a ResponseInfo cell's output -> the endpoint's HTTP response.

Pure functions: `map_response` turns the endpoint cell's `ExecutionResult` (and its
ResponseInfo cell's, if any) into the `EndpointResponse` the handler writes.
docs/notebook-http.md has the full rules.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import CellError, GatewayError
from ..services.kernels.execution import ExecutionResult
from .request import is_json_type, media_type

DEFAULT_CONTENT_TYPE = "text/plain; charset=utf-8"
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TEXT_TYPES = ("application/javascript", "application/xml", "image/svg+xml")


@dataclass(frozen=True)
class EndpointResponse:
    """What the endpoint handler writes: status, headers (repeatable) and body (one bytes,
    or the pieces of stdout as they came, sent without joining them)."""

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | tuple[bytes, ...] = b""

    @property
    def parts(self) -> tuple[bytes, ...]:
        """The body's non-empty pieces, in order."""
        pieces = (self.body,) if isinstance(self.body, bytes) else self.body
        return tuple(piece for piece in pieces if piece)


def _raise_if_failed(result: ExecutionResult, what: str) -> None:
    if result.error:
        ename, evalue, traceback = result.error
        raise CellError(ename, evalue, list(traceback))
    if result.status != "ok":
        raise CellError("ExecutionError", f"the {what} cell ended with status {result.status!r}")


def _info_error(reason: str) -> GatewayError:
    return GatewayError(f'ResponseInfo output must be JSON {{"status", "headers"}}: {reason}')


def _status(value: Any) -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 200 <= value <= 599:
        raise _info_error(f"status {value!r} is not an integer from 200 to 599")
    return value


def _header_pairs(headers: Any) -> list[tuple[str, str]]:
    if not isinstance(headers, dict):
        raise _info_error("headers is not an object")
    pairs = []
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name):
            raise _info_error(f"{name!r} is not a header name")
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                raise _info_error(f"header {name} has a value that is not a string")
            text = str(item)
            if "\r" in text or "\n" in text:
                raise _info_error(f"header {name} has a line break in its value")
            pairs.append((name, text))
    return pairs


def response_info(result: ExecutionResult | None) -> tuple[int, list[tuple[str, str]]]:
    """Status and headers set by a ResponseInfo cell's result (None: no such cell).

    Raises CellError when the cell failed, GatewayError (500) when its output is invalid.
    """
    if result is None:
        return 200, []
    _raise_if_failed(result, "ResponseInfo")
    text = result.stdout.strip()
    if not text:
        return 200, []
    try:
        info = json.loads(text)
    except ValueError as err:
        raise _info_error(f"{err} in {text[:80]!r}") from err
    if not isinstance(info, dict):
        raise _info_error(f"got {type(info).__name__}, not an object")
    return _status(info.get("status", 200)), _header_pairs(info.get("headers", {}))


def _is_text(mimetype: str) -> bool:
    return mimetype.startswith("text/") or is_json_type(mimetype) or mimetype in _TEXT_TYPES


def _representation(mimetype: str, value: Any) -> bytes:
    if is_json_type(mimetype):
        return json.dumps(value).encode()
    text = "".join(value) if isinstance(value, list) else str(value)
    if _is_text(mimetype):
        return text.encode()
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        return text.encode()


def _body(
    result: ExecutionResult, content_type: str | None, stdout: Sequence[bytes] | None
) -> tuple[bytes | tuple[bytes, ...], str]:
    """The body and the Content-Type to use when ResponseInfo set none."""
    if stdout:
        return tuple(stdout), DEFAULT_CONTENT_TYPE
    if result.stdout:
        return result.stdout.encode(), DEFAULT_CONTENT_TYPE
    bundle = result.execute_result or (result.display_data[-1] if result.display_data else None)
    if not bundle:
        return b"", DEFAULT_CONTENT_TYPE
    mimetype = media_type(content_type)
    if mimetype in bundle:
        return _representation(mimetype, bundle[mimetype]), DEFAULT_CONTENT_TYPE
    return json.dumps(bundle).encode(), "application/json"


def map_response(
    result: ExecutionResult,
    response_info_result: ExecutionResult | None = None,
    stdout: Sequence[bytes] | None = None,
) -> EndpointResponse:
    """The HTTP response of an endpoint's result and its ResponseInfo cell's result.

    The body is the stdout, verbatim (`stdout`: its encoded pieces, when they were
    collected apart from `result`, which then has none); without stdout, the
    execute_result bundle (else the last display_data one): its representation of the
    response's Content-Type if it has it (binary types base64-decoded, JSON types
    serialized), else the whole bundle as JSON.
    Defaults: 200 and `text/plain; charset=utf-8` (`application/json` for a whole bundle).
    204 and 304 carry no body and no Content-Type.

    Raises CellError when either cell failed, GatewayError when ResponseInfo output is invalid.
    """
    _raise_if_failed(result, "endpoint")
    status, headers = response_info(response_info_result)
    content_type = next((v for k, v in headers if k.lower() == "content-type"), None)
    body, default_type = _body(result, content_type, stdout)
    if status in (204, 304):
        kept = tuple((k, v) for k, v in headers if k.lower() != "content-type")
        return EndpointResponse(status=status, headers=kept, body=b"")
    if content_type is None:
        headers.append(("Content-Type", default_type))
    return EndpointResponse(status=status, headers=tuple(headers), body=body)
