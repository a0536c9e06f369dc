"""Swagger 2.0 and OpenAPI 3.1 documents built from the endpoint list the router uses.

Each operation documents its `:name` path parameters (as `{name}`), the markdown cell above
its first cell (description; its first line, without heading marks, as summary) and its
operationId. Responses are read statically from the ResponseInfo code: every `status` key
given a three-digit integer literal (`"status": 201`, `status=201`, `"status" => 201`)
becomes a documented response, 200 when there is none; a `Content-Type` key given a string
literal becomes the produced media type. Code that computes these is not evaluated.

When the notebook carries its own document (swagger parser), a document of the requested
version is returned as written; one of the other version is built from the endpoints,
keeping the notebook document's `info`. A Swagger 2.0 document's operations, definitions,
tags and externalDocs are also converted into the OpenAPI 3.1 one (conversion.py), so both
describe the same API. Every document then goes through `complete_responses`: no body for
204-like statuses, and the gateway's own error responses.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any, TypeGuard

from ..endpoints import Endpoint
from .conversion import convert_definitions, convert_operation, find_operation
from .gateway_responses import DEFAULT_TYPE, STREAM_KEY, complete_responses

DEFAULT_VERSION = "0.0.0"
_STATUS = re.compile(r"""\bstatus["'`]?\s*(?:=>|[:=])\s*(\d{3})\b""")
_CONTENT_TYPE = re.compile(
    r"""["'`]content-type["'`]\s*(?:=>|[:=,])\s*["']([^"'\s;]+)""", re.IGNORECASE
)
_HEADING = re.compile(r"^#+\s*")


def documented_statuses(code: str | None) -> tuple[int, ...]:
    """Status codes written as integer literals in ResponseInfo `code`, sorted."""
    found = {int(m) for m in _STATUS.findall(code or "")}
    return tuple(sorted(s for s in found if 200 <= s <= 599))


def documented_content_type(code: str | None) -> str | None:
    """The media type a ResponseInfo `code` sets with a string literal, if any."""
    match = _CONTENT_TYPE.search(code or "")
    return match.group(1).lower() if match else None


def template_path(path: str) -> str:
    """`/users/:id` written the OpenAPI way: `/users/{id}`."""
    return re.sub(r":([A-Za-z_][A-Za-z0-9_]*)", r"{\1}", path)


def _streamed(endpoints: Iterable[Endpoint]) -> frozenset[str]:
    """The operationIds of the STREAM endpoints."""
    return frozenset(e.operation_id for e in endpoints if e.stream and e.operation_id)


def _describe(endpoint: Endpoint, operation: dict[str, Any]) -> dict[str, Any]:
    if endpoint.stream:
        operation[STREAM_KEY] = True
    if endpoint.description:
        first = endpoint.description.strip().splitlines()[0]
        operation["summary"] = _HEADING.sub("", first).strip()
        operation["description"] = endpoint.description
    if endpoint.operation_id:
        operation["operationId"] = endpoint.operation_id
    return operation


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Response"


def _info(title: str, base_spec: Mapping[str, Any] | None) -> dict[str, Any]:
    info = (base_spec or {}).get("info")
    if isinstance(info, dict):
        return copy.deepcopy(info)
    return {"title": title, "version": DEFAULT_VERSION}


def _swagger_operation(endpoint: Endpoint) -> dict[str, Any]:
    statuses = documented_statuses(endpoint.response_info) or (200,)
    operation: dict[str, Any] = {
        "responses": {str(s): {"description": _phrase(s)} for s in statuses}
    }
    if endpoint.params:
        operation["parameters"] = [
            {"name": name, "in": "path", "required": True, "type": "string"}
            for name in endpoint.params
        ]
    content_type = documented_content_type(endpoint.response_info)
    if endpoint.stream:
        content_type = content_type or DEFAULT_TYPE
    if content_type:
        operation["produces"] = [content_type]
    return _describe(endpoint, operation)


def _openapi_operation(endpoint: Endpoint) -> dict[str, Any]:
    statuses = documented_statuses(endpoint.response_info) or (200,)
    content_type = documented_content_type(endpoint.response_info)
    if endpoint.stream:
        content_type = content_type or DEFAULT_TYPE
    responses: dict[str, Any] = {}
    for status in statuses:
        responses[str(status)] = {"description": _phrase(status)}
        if content_type:
            responses[str(status)]["content"] = {content_type: {}}
    operation: dict[str, Any] = {"responses": responses}
    if endpoint.params:
        operation["parameters"] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in endpoint.params
        ]
    return _describe(endpoint, operation)


def _is_swagger(spec: Mapping[str, Any] | None) -> TypeGuard[Mapping[str, Any]]:
    return spec is not None and "swagger" in spec


def _with_base_operation(
    built: dict[str, Any], endpoint: Endpoint, base_spec: Mapping[str, Any]
) -> dict[str, Any]:
    """`built` with what the Swagger 2.0 `base_spec` says of the endpoint's operation.

    The base document's fields win; path parameters it leaves out stay declared, and its
    responses replace the ResponseInfo ones when it lists any.
    """
    found = find_operation(base_spec, endpoint.operation_id)
    if found is None:
        return built
    converted = convert_operation(base_spec, *found)
    params = converted.get("parameters", [])
    declared = {(p.get("name"), p["in"]) for p in params}
    kept = [p for p in built.get("parameters", []) if (p["name"], p["in"]) not in declared]
    merged = {**built, **converted}
    if params or kept:
        merged["parameters"] = [*params, *kept]
    merged["responses"] = converted["responses"] or built["responses"]
    return merged


def build_swagger(
    endpoints: Iterable[Endpoint], title: str, base_spec: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A Swagger 2.0 document of `endpoints`, or of `base_spec` if it is one."""
    endpoints = list(endpoints)
    if _is_swagger(base_spec):
        return complete_responses(base_spec, _streamed(endpoints))
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        item = paths.setdefault(template_path(endpoint.path), {})
        item[endpoint.method.lower()] = _swagger_operation(endpoint)
    return complete_responses({"swagger": "2.0", "info": _info(title, base_spec), "paths": paths})


def build_openapi(
    endpoints: Iterable[Endpoint], title: str, base_spec: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """An OpenAPI 3.1 document of `endpoints`, or of `base_spec` if it is OpenAPI 3."""
    endpoints = list(endpoints)
    if base_spec and str(base_spec.get("openapi", "")).startswith("3"):
        return complete_responses(base_spec, _streamed(endpoints))
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        item = paths.setdefault(template_path(endpoint.path), {})
        operation = _openapi_operation(endpoint)
        if _is_swagger(base_spec):
            operation = _with_base_operation(operation, endpoint, base_spec)
        item[endpoint.method.lower()] = operation
    spec: dict[str, Any] = {"openapi": "3.1.0", "info": _info(title, base_spec), "paths": paths}
    if _is_swagger(base_spec):
        spec.update(
            {k: copy.deepcopy(base_spec[k]) for k in ("tags", "externalDocs") if k in base_spec}
        )
        schemas = convert_definitions(base_spec)
        if schemas:
            spec["components"] = {"schemas": schemas}
    return complete_responses(spec)
