"""HTTP request -> the REQUEST variable; kernel outputs + ResponseInfo -> HTTP response.

Pure functions: the endpoint handler adapts tornado's request to `build_request` and writes
the `EndpointResponse` that `map_response` returns. REQUEST is the JSON text
`{"body", "args", "path", "headers"}`: query args and form fields are lists of values
(however many were sent), headers sent several times are lists, JSON bodies are parsed
strictly, other bodies are text (else base64). The text is ASCII (`\\uXXXX` escapes), so
the literal assigning it survives any kernel's source encoding. docs/notebook-http.md has
the full rules, with those of the response.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tornado.httputil import HTTPFile, HTTPInputError, parse_body_arguments

from ..errors import BadRequest, CellError, GatewayError
from ..services.kernels.execution import ExecutionResult

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def media_type(content_type: str | None) -> str:
    """The lowercase media type of a Content-Type value, without parameters."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_json_type(mimetype: str) -> bool:
    """Whether `mimetype` is `application/json` or an `application/*+json` type."""
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def _charset(content_type: str | None) -> str:
    for param in (content_type or "").split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            name = value.strip().strip('"')
            try:
                return codecs.lookup(name).name
            except LookupError:
                break
    return "utf-8"


def _text_or_base64(data: bytes, encoding: str = "utf-8") -> str:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):  # LookupError: a bytes codec like base64
        return base64.b64encode(data).decode("ascii")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as err:
        raise BadRequest(f"Request body is not valid JSON: {err}") from err


def _file(upload: HTTPFile) -> dict[str, str]:
    return {
        "filename": upload.filename,
        "content_type": upload.content_type,
        "content": base64.b64encode(upload.body).decode("ascii"),
    }


def _form_body(content_type: str, body: bytes) -> dict[str, list[Any]]:
    fields: dict[str, list[bytes]] = {}
    files: dict[str, list[HTTPFile]] = {}
    try:
        parse_body_arguments(content_type, body, fields, files)
    except HTTPInputError as err:
        raise BadRequest(f"Request body is not a valid form: {err}") from err
    form: dict[str, list[Any]] = {}
    for name, values in fields.items():
        form[name] = [_text_or_base64(value) for value in values]
    for name, uploads in files.items():
        form.setdefault(name, []).extend(_file(upload) for upload in uploads)
    return form


def parse_body(body: bytes, content_type: str | None) -> Any:
    """The REQUEST `body` value of a request body with this Content-Type header.

    Raises BadRequest for invalid JSON or a malformed form.
    """
    if not body:
        return ""
    mimetype = media_type(content_type)
    if is_json_type(mimetype):
        return _json_body(body)
    if mimetype in FORM_TYPES:
        return _form_body(content_type or "", body)
    return _text_or_base64(body, _charset(content_type))


def _decode_args(args: Mapping[str, Sequence[bytes]]) -> dict[str, list[str]]:
    decoded: dict[str, list[str]] = {}
    for name, values in args.items():
        try:
            decoded[name] = [v.decode("utf-8") for v in values]
        except UnicodeDecodeError as err:
            raise BadRequest(f"Query argument {name!r} is not valid UTF-8") from err
    return decoded


def _headers(pairs: Sequence[tuple[str, str]]) -> dict[str, str | list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return {name: values[0] if len(values) == 1 else values for name, values in grouped.items()}


def build_request(
    body: bytes,
    content_type: str | None,
    args: Mapping[str, Sequence[bytes]],
    path_args: Mapping[str, str],
    headers: Sequence[tuple[str, str]],
) -> str:
    """The REQUEST JSON text of one HTTP request.

    `args` is tornado's `query_arguments`, `headers` the header (name, value) pairs in the
    order received. `body` is "" when empty; `application/json` and `application/*+json`
    bodies are parsed (NaN and Infinity refused); form bodies become {field: [values]}, a
    file `{"filename", "content_type", "content"}` (base64); any other body is text decoded
    with its charset (UTF-8 by default), or base64 when it does not decode.

    Raises BadRequest for a body that cannot be parsed as its Content-Type says, or a
    query argument that is not UTF-8.
    """
    request = {
        "body": parse_body(body, content_type),
        "args": _decode_args(args),
        "path": dict(path_args),
        "headers": _headers(headers),
    }
    return json.dumps(request)


def _double_quoted(text: str, extra: str = "") -> str:
    """`text` (ASCII) as a C-style double-quoted literal, also escaping `extra` characters."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    for char in extra:
        escaped = escaped.replace(char, "\\" + char)
    return f'"{escaped}"'


def _single_quoted_shell(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


_ASSIGNMENTS = {
    "python": lambda t: f"REQUEST = {_double_quoted(t)}",
    "r": lambda t: f"REQUEST <- {_double_quoted(t)}",
    "julia": lambda t: f"REQUEST = {_double_quoted(t, '$')}",
    "ruby": lambda t: f"REQUEST = {_double_quoted(t, '#')}",
    "scala": lambda t: f"val REQUEST = {_double_quoted(t)}",
    "java": lambda t: f"String REQUEST = {_double_quoted(t)};",
    "javascript": lambda t: f"var REQUEST = {_double_quoted(t)};",
    "typescript": lambda t: f"var REQUEST = {_double_quoted(t)};",
    "go": lambda t: f"REQUEST := {_double_quoted(t)}",
    "bash": lambda t: f"REQUEST={_single_quoted_shell(t)}",
    "sh": lambda t: f"REQUEST={_single_quoted_shell(t)}",
}


def request_assignment(request_json: str, language: str) -> str:
    """Code assigning `request_json` to a string variable REQUEST in the kernel's `language`.

    Unknown languages get the Python form `REQUEST = "..."`. `request_json` must be ASCII
    (as `build_request` makes it), so only quotes, backslashes and the language's
    interpolation character need escaping.
    """
    if not (request_json.isascii() and request_json.isprintable()):
        request_json = json.dumps(json.loads(request_json))
    assign = _ASSIGNMENTS.get(language.lower(), _ASSIGNMENTS["python"])
    return assign(request_json)


DEFAULT_CONTENT_TYPE = "text/plain; charset=utf-8"
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TEXT_TYPES = ("application/javascript", "application/xml", "image/svg+xml")


@dataclass(frozen=True)
class EndpointResponse:
    """What the endpoint handler writes: status, headers (repeatable) and body."""

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


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


def _body(result: ExecutionResult, content_type: str | None) -> tuple[bytes, str]:
    """The body and the Content-Type to use when ResponseInfo set none."""
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
    result: ExecutionResult, response_info_result: ExecutionResult | None = None
) -> EndpointResponse:
    """The HTTP response of an endpoint's result and its ResponseInfo cell's result.

    The body is the stdout, verbatim; without stdout, the execute_result bundle (else the
    last display_data one): its representation of the response's Content-Type if it has it
    (binary types base64-decoded, JSON types serialized), else the whole bundle as JSON.
    Defaults: 200 and `text/plain; charset=utf-8` (`application/json` for a whole bundle).
    204 and 304 carry no body and no Content-Type.

    Raises CellError when either cell failed, GatewayError when ResponseInfo output is invalid.
    """
    _raise_if_failed(result, "endpoint")
    status, headers = response_info(response_info_result)
    content_type = next((v for k, v in headers if k.lower() == "content-type"), None)
    body, default_type = _body(result, content_type)
    if status in (204, 304):
        kept = tuple((k, v) for k, v in headers if k.lower() != "content-type")
        return EndpointResponse(status=status, headers=kept, body=b"")
    if content_type is None:
        headers.append(("Content-Type", default_type))
    return EndpointResponse(status=status, headers=tuple(headers), body=body)
