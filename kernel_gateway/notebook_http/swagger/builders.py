"""Swagger 2.0 and OpenAPI 3.1 documents built from the endpoint list the router uses.

Each operation documents its `:name` path parameters (as `{name}`), the markdown cell above
its first cell (description; its first line, without heading marks, as summary) and its
operationId. Responses are read statically from the ResponseInfo code: every `status` key
given a three-digit integer literal (`"status": 201`, `status=201`, `"status" => 201`)
becomes a documented response, 200 when there is none; a `Content-Type` key given a string
literal becomes the produced media type. Code that computes these is not evaluated.

When the notebook carries its own document (swagger parser), a document of the requested
version is returned as written; one of the other version is built from the endpoints,
keeping the notebook document's `info`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

from ..endpoints import Endpoint

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


def _describe(endpoint: Endpoint, operation: dict[str, Any]) -> dict[str, Any]:
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
    if content_type:
        operation["produces"] = [content_type]
    return _describe(endpoint, operation)


def _openapi_operation(endpoint: Endpoint) -> dict[str, Any]:
    statuses = documented_statuses(endpoint.response_info) or (200,)
    content_type = documented_content_type(endpoint.response_info)
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


def build_swagger(
    endpoints: Iterable[Endpoint], title: str, base_spec: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A Swagger 2.0 document of `endpoints`, or a copy of `base_spec` if it is one."""
    if base_spec and "swagger" in base_spec:
        return copy.deepcopy(dict(base_spec))
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        item = paths.setdefault(template_path(endpoint.path), {})
        item[endpoint.method.lower()] = _swagger_operation(endpoint)
    return {"swagger": "2.0", "info": _info(title, base_spec), "paths": paths}


def build_openapi(
    endpoints: Iterable[Endpoint], title: str, base_spec: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """An OpenAPI 3.1 document of `endpoints`, or a copy of `base_spec` if it is OpenAPI 3."""
    if base_spec and str(base_spec.get("openapi", "")).startswith("3"):
        return copy.deepcopy(dict(base_spec))
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        item = paths.setdefault(template_path(endpoint.path), {})
        item[endpoint.method.lower()] = _openapi_operation(endpoint)
    return {"openapi": "3.1.0", "info": _info(title, base_spec), "paths": paths}
