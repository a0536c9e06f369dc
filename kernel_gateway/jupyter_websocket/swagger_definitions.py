"""The schemas of the jupyter-websocket API document (Swagger 2.0 `definitions`)."""

from __future__ import annotations

from typing import Any


def ref(name: str) -> dict[str, str]:
    """A JSON reference to the schema `name` in `definitions`."""
    return {"$ref": f"#/definitions/{name}"}


SESSION_FIELDS: dict[str, Any] = {  # what a client sends to create or change a session
    "path": {"type": "string"},
    "name": {"type": "string"},
    "type": {"type": "string"},
    "kernel": {
        "type": "object",
        "description": "`id` of a running kernel, or `name` of a spec to start",
        "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
    },
}

DEFINITIONS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["reason", "message"],
        "properties": {
            "reason": {"type": "string", "description": "The HTTP reason phrase"},
            "message": {"type": "string", "description": "What went wrong"},
        },
    },
    "ApiInfo": {
        "type": "object",
        "properties": {"version": {"type": "string", "description": "The gateway's version"}},
    },
    "KernelSpec": {
        "type": "object",
        "required": ["name", "spec", "resources"],
        "properties": {
            "name": {"type": "string"},
            "spec": {
                "type": "object",
                "description": "The kernel.json of the spec",
                "properties": {
                    "language": {"type": "string"},
                    "display_name": {"type": "string"},
                    "argv": {"type": "array", "items": {"type": "string"}},
                    "env": {"type": "object", "additionalProperties": {"type": "string"}},
                    "metadata": {"type": "object"},
                    "interrupt_mode": {"type": "string", "enum": ["signal", "message"]},
                },
            },
            "resources": {
                "type": "object",
                "description": "URLs of the spec's files (logos, kernel.js, kernel.css)",
                "additionalProperties": {"type": "string"},
            },
        },
    },
    "Kernels": {"type": "array", "items": ref("Kernel")},
    "Sessions": {"type": "array", "items": ref("Session")},
    "KernelSpecs": {
        "type": "object",
        "properties": {
            "default": {"type": "string", "description": "The kernel started when none is named"},
            "kernelspecs": {"type": "object", "additionalProperties": ref("KernelSpec")},
        },
    },
    "Kernel": {
        "type": "object",
        "required": ["id", "name"],
        "properties": {
            "id": {"type": "string", "description": "The kernel's id (a UUID)"},
            "name": {"type": "string", "description": "The kernel spec it runs"},
            "last_activity": {"type": "string", "format": "date-time"},
            "execution_state": {"type": "string", "description": "idle, busy, starting, ..."},
            "connections": {"type": "integer", "description": "Websockets attached"},
        },
    },
    "NewKernel": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "Kernel spec; the default if absent"},
            "env": {
                "type": "object",
                "description": "Variables for the kernel: KERNEL_* and those in KG_ENV_WHITELIST",
                "additionalProperties": {"type": "string"},
            },
        },
    },
    "Session": {
        "type": "object",
        "required": ["id", "path", "name", "type", "kernel"],
        "properties": {
            "id": {"type": "string"},
            "path": {"type": "string"},
            "name": {"type": "string"},
            "type": {"type": "string", "description": "notebook, console, file, ..."},
            "kernel": ref("Kernel"),
            "notebook": {
                "type": "object",
                "description": "Deprecated: path and name again, for older clients",
                "properties": {"path": {"type": "string"}, "name": {"type": "string"}},
            },
        },
    },
    "NewSession": {
        "type": "object",
        "required": ["path", "type"],
        "description": "Older clients may send `notebook: {path, name}` instead of path and type",
        "properties": SESSION_FIELDS,
    },
    "SessionChanges": {
        "type": "object",
        "properties": SESSION_FIELDS,
    },
}


# (path, method, operationId, summary, success status, success schema, error statuses, body)
