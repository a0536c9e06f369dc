"""An HTTP request -> the REQUEST variable an endpoint cell reads.

Pure functions: the endpoint handler adapts tornado's request to `build_request` and
prefixes the cell with `request_assignment`. REQUEST is the JSON text
`{"body", "args", "path", "headers"}`: query args and form fields are lists of values
(however many were sent), headers sent several times are lists, JSON bodies are parsed
strictly, other bodies are text (else base64). The text is ASCII (`\\uXXXX` escapes), so
the literal assigning it survives any kernel's source encoding. docs/notebook-http.md has
the full rules.
"""

from __future__ import annotations

import base64
import codecs
import json
from collections.abc import Mapping, Sequence
from typing import Any

from tornado.httputil import HTTPFile, HTTPInputError, parse_body_arguments

from ..errors import BadRequest

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
    except RecursionError as err:
        raise BadRequest("Request body is not valid JSON: nested too deeply") from err


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
    assign = _ASSIGNMENTS.get(language.lower(), _ASSIGNMENTS["python"])
    return assign(request_value(request_json))


def request_value(request_json: str) -> str:
    """The string REQUEST holds: `request_json`, re-encoded as printable ASCII if it isn't."""
    if not (request_json.isascii() and request_json.isprintable()):
        return json.dumps(json.loads(request_json))
    return request_json


def with_request(assignment: str, source: str, comment_prefix: str) -> str:
    """A cell's code preceded by the REQUEST `assignment`, its lines keeping their numbers.

    An endpoint cell starts with its annotation, a comment: the assignment goes on that line,
    before it. A cell starting otherwise gets the assignment on a line of its own.
    """
    first, newline, rest = source.partition("\n")
    if first.strip().startswith(comment_prefix):
        return f"{assignment}  {first.strip()}{newline}{rest}"
    return f"{assignment}\n{source}"


def hide_request(traceback: list[str], request_json: str, language: str) -> list[str]:
    """A failing cell's traceback `lines` without the REQUEST assignment that the execute path
    put before the cell's code: a traceback quotes the lines around the error, and the
    request (its headers, credentials included) is not the cell's code."""
    assignment = request_assignment(request_json, language)
    return [line.replace(f"{assignment}  ", "").replace(assignment, "") for line in traceback]
