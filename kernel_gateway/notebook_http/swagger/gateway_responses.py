"""What every notebook-http operation may answer besides what its notebook documents.

builders.py passes each finished document, built or the notebook's own, through
`complete_responses`: responses of statuses that carry no body (1xx, 204, 205, 304) lose
their `schema` or `content`, and each operation documents the errors the gateway itself
answers with JSON `{"reason", "message"}` (the `Error` schema), unless it already
documents that status. Every operation but a STREAM one (marked `x-kernel-gateway-stream`)
also offers its run as Server-Sent Events: `text/event-stream` in its `produces`, or in the
content of its 200 response.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

from ..endpoints import METHODS
from .conversion import JSON, has_body

EVENT_STREAM = "text/event-stream"
STREAM_KEY = "x-kernel-gateway-stream"  # a STREAM endpoint: its body is sent as printed
DEFAULT_TYPE = "text/plain"
EVENTS_DESCRIPTION = "With Accept: text/event-stream, the run's outputs as Server-Sent Events"

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"reason": {"type": "string"}, "message": {"type": "string"}},
    "required": ["reason", "message"],
}
GATEWAY_ERRORS: dict[str, str] = {
    "400": "Refused by the gateway: a query that holds NUL or is not UTF-8, or a body "
    "that is not valid JSON or not a valid form",
    "413": "The request body is larger than max_body_size",
    "500": "The endpoint's code raised, or its ResponseInfo printed an invalid answer",
    "503": "No kernel was free within max_queue_wait",
    "504": "The endpoint's code ran past request_timeout",
}


def operations(spec: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The operations of `spec` for the methods the gateway serves."""
    for item in (spec.get("paths") or {}).values():
        if not isinstance(item, dict):
            continue
        for method, operation in item.items():
            if str(method).upper() in METHODS and isinstance(operation, dict):
                yield operation


def _schema_name(schemas: Mapping[str, Any]) -> str:
    """`Error`, or `Error2`, ... when the document uses that name for another schema."""
    name, number = "Error", 1
    while schemas.get(name, ERROR_SCHEMA) != ERROR_SCHEMA:
        number += 1
        name = f"Error{number}"
    return name


def _error_response(description: str, ref: str, swagger: bool) -> dict[str, Any]:
    if swagger:
        return {"description": description, "schema": {"$ref": ref}}
    return {"description": description, "content": {JSON: {"schema": {"$ref": ref}}}}


def _drop_bodies(responses: dict[str, Any], swagger: bool) -> None:
    for status, response in responses.items():
        if isinstance(response, dict) and not has_body(status):
            for key in ("schema", "examples") if swagger else ("content",):
                response.pop(key, None)


def _produce_json(spec: Mapping[str, Any], operation: dict[str, Any]) -> None:
    """Swagger 2.0 types responses per operation: add JSON to a `produces` that lacks it."""
    produces = list(operation.get("produces", spec.get("produces", [])))
    if produces and JSON not in produces:
        operation["produces"] = [*produces, JSON]


def _offer_events(spec: Mapping[str, Any], operation: dict[str, Any], swagger: bool) -> None:
    """Document the Server-Sent Events answer that any non-STREAM operation can give."""
    if swagger:
        produces = list(operation.get("produces", spec.get("produces", []))) or [DEFAULT_TYPE]
        if EVENT_STREAM not in produces:
            operation["produces"] = [*produces, EVENT_STREAM]
        return
    responses = operation.setdefault("responses", {})
    ok = responses.setdefault("200", {"description": EVENTS_DESCRIPTION})
    if isinstance(ok, dict) and "$ref" not in ok:
        ok.setdefault("content", {}).setdefault(EVENT_STREAM, {"schema": {"type": "string"}})


def complete_responses(
    spec: Mapping[str, Any], streamed: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """A copy of the Swagger 2.0 or OpenAPI 3 `spec` completed as the module says;
    `streamed`: the operationIds of STREAM endpoints (the notebook's own document)."""
    out = copy.deepcopy(dict(spec))
    swagger = "swagger" in out
    schemas = (
        out.get("definitions", {}) if swagger else out.get("components", {}).get("schemas", {})
    )
    name = _schema_name(schemas)
    ref = ("#/definitions/" if swagger else "#/components/schemas/") + name
    used = False
    for operation in operations(out):
        if operation.get("operationId") in streamed:
            operation[STREAM_KEY] = True
        if not operation.get(STREAM_KEY):
            _offer_events(out, operation, swagger)
        responses = operation.setdefault("responses", {})
        _drop_bodies(responses, swagger)
        declared = {str(status) for status in responses}
        missing = {s: text for s, text in GATEWAY_ERRORS.items() if s not in declared}
        for status, text in missing.items():
            responses[status] = _error_response(text, ref, swagger)
        if missing and swagger:
            _produce_json(out, operation)
        used = used or bool(missing)
    if used and swagger:
        out.setdefault("definitions", {})[name] = copy.deepcopy(ERROR_SCHEMA)
    elif used:
        out.setdefault("components", {}).setdefault("schemas", {})[name] = copy.deepcopy(
            ERROR_SCHEMA
        )
    return out
