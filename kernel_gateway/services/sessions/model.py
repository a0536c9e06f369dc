"""Session records and the request bodies that create or change them.

The bodies follow jupyter_server's sessions API: `{"path", "type", "name", "kernel": {"id" or
"name"}}`, plus the deprecated `{"notebook": {"path" or "name"}}` of old clients, which implies
`type: "notebook"`. Parsing raises BadRequest naming the offending field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...errors import BadRequest


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One session as the manager stores it."""

    id: str
    path: str
    name: str
    type: str
    kernel_id: str


@dataclass(frozen=True, slots=True)
class NewSession:
    """What `POST /api/sessions` asks for."""

    path: str
    type: str
    name: str = ""
    kernel_name: str | None = None
    kernel_id: str | None = None


@dataclass(frozen=True, slots=True)
class SessionChanges:
    """What `PATCH /api/sessions/:id` asks for; None leaves a field as it is."""

    path: str | None = None
    name: str | None = None
    type: str | None = None
    kernel_name: str | None = None
    kernel_id: str | None = None


def parse_new_session(body: Any) -> NewSession:
    """Read a create request; `path` and `type` are required (the old form implies both)."""
    fields = _common_fields(body)
    path, type_ = fields.get("path"), fields.get("type")
    if path is None:
        raise BadRequest("Missing field in JSON data: path")
    if type_ is None:
        raise BadRequest("Missing field in JSON data: type")
    return NewSession(
        path=path,
        type=type_,
        name=fields.get("name") or "",
        kernel_name=fields.get("kernel_name"),
        kernel_id=fields.get("kernel_id"),
    )


def parse_session_changes(body: Any) -> SessionChanges:
    """Read a patch request; every field is optional."""
    return SessionChanges(**_common_fields(body))


def _common_fields(body: Any) -> dict[str, str | None]:
    """The string fields of a session body, with the deprecated `notebook` form folded in."""
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object")
    fields = {key: _string(body, key) for key in ("path", "name", "type")}
    notebook = body.get("notebook")
    if notebook is not None:
        if not isinstance(notebook, dict):
            raise BadRequest("notebook must be an object")
        fields["path"] = _string(notebook, "path") or _string(notebook, "name") or fields["path"]
        fields["type"] = fields["type"] or "notebook"
    kernel = body.get("kernel")
    if kernel is not None:
        if not isinstance(kernel, dict):
            raise BadRequest("kernel must be an object")
        fields["kernel_id"] = _string(kernel, "id", "kernel.id")
        fields["kernel_name"] = _string(kernel, "name", "kernel.name")
    return fields


def _string(source: dict[str, Any], key: str, label: str = "") -> str | None:
    value = source.get(key)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"{label or key} must be a string")
    return value
