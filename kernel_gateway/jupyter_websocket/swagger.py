"""The jupyter-websocket mode's own API document (Swagger 2.0), served at /api/swagger.*.

Built per request from `api_document(base_url, token_required)`; `as_json` and `as_yaml`
render the same document, so the two never drift. The token requirement and the 401 answers
are documented only when the gateway has a token.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from .._version import __version__
from .swagger_definitions import DEFINITIONS, ref

JSON_TYPE = "application/json"
YAML_TYPE = "text/x-yaml"  # what jupyter-kernel-gateway 3 sends


# fmt: off
OPERATIONS: list[tuple[str, str, str, str, str, str | None, tuple[str, ...], str | None]] = [
    ("/api", "get", "getApi", "The gateway's version", "200", "ApiInfo", (), None),
    ("/api/swagger.json", "get", "getSwaggerJson", "This document as JSON", "200", None, (), None),
    ("/api/swagger.yaml", "get", "getSwaggerYaml", "This document as YAML", "200", None, (), None),
    ("/api/kernelspecs", "get", "listKernelSpecs", "Installed kernel specs", "200", "KernelSpecs",
     (), None),
    ("/api/kernelspecs/{kernel_name}", "get", "getKernelSpec", "One kernel spec", "200",
     "KernelSpec", ("404",), None),
    ("/kernelspecs/{kernel_name}/{file}", "get", "getKernelSpecResource",
     "A file of a kernel spec (logo, kernel.js)", "200", None, ("404",), None),
    ("/api/kernels", "get", "listKernels", "The running kernels (if KG_LIST_KERNELS)", "200",
     "Kernels", ("403",), None),
    ("/api/kernels", "post", "startKernel", "Start a kernel", "201", "Kernel",
     ("403", "404", "500"), "NewKernel"),
    ("/api/kernels/{kernel_id}", "get", "getKernel", "A kernel's model", "200", "Kernel",
     ("404",), None),
    ("/api/kernels/{kernel_id}", "delete", "shutdownKernel", "Shut a kernel down", "204", None,
     ("404",), None),
    ("/api/kernels/{kernel_id}/interrupt", "post", "interruptKernel",
     "Interrupt what a kernel runs", "204", None, ("404",), None),
    ("/api/kernels/{kernel_id}/restart", "post", "restartKernel",
     "Restart a kernel, keeping its id", "200", "Kernel", ("404", "500"), None),
    ("/api/kernels/{kernel_id}/channels", "get", "connectKernel",
     "Websocket carrying the kernel's messages: subprotocol v1.kernel.websocket.jupyter.org, "
     "or JSON messages when the client offers none; `session_id` query argument: reconnecting "
     "with it replays the messages missed meanwhile", "101", None, ("404",), None),
    ("/api/kernels/{kernel_id}/proxy/{port}/{path}", "get", "proxyKernelPort",
     "Forwarded to `path` on `port` of the kernel's host, if KG_KERNEL_PROXY_PORTS allows the "
     "port: every method, bodies streamed both ways, websocket upgrades too; the app sees "
     "X-Forwarded-Host/Proto/Prefix and not the gateway's token", "200", None,
     ("403", "404", "502", "504"), None),
    ("/api/sessions", "get", "listSessions", "The sessions (if KG_LIST_KERNELS)", "200",
     "Sessions", ("403",), None),
    ("/api/sessions", "post", "createSession",
     "Create a session (or return the one for its path) with its kernel", "201", "Session",
     ("403", "404", "500"), "NewSession"),
    ("/api/sessions/{session_id}", "get", "getSession", "A session's model", "200", "Session",
     ("404",), None),
    ("/api/sessions/{session_id}", "patch", "updateSession",
     "Rename a session or move it to another kernel", "200", "Session", ("404", "500"),
     "SessionChanges"),
    ("/api/sessions/{session_id}", "delete", "deleteSession",
     "Delete a session and shut its kernel down", "204", None, ("404",), None),
]
# fmt: on

ERRORS = {
    "400": "Malformed request: a body that is not valid, a query with NUL or invalid UTF-8, "
    "or (channels) a request that is not a websocket upgrade",
    "401": "The token is missing or wrong",
    "403": "Forbidden: listing disabled, max_kernels reached, a foreign origin, or (proxy) "
    "the kernel proxy off or a port it may not reach",
    "404": "Unknown kernel, kernel spec, session or file",
    "500": "The kernel failed to start, or a seed cell failed",
    "502": "Nothing answers on the kernel's port, or the answer broke off before it began",
    "504": "The kernel's server did not answer within KG_KERNEL_PROXY_TIMEOUT",
}
BODY_REQUIRED = {"createSession", "updateSession"}
PATH_PARAMETERS = {
    "kernel_id": "The id of a running kernel",
    "kernel_name": "The name of a kernel spec",
    "session_id": "The id of a session",
    "file": "A file in the kernel spec's directory",
    "port": "A port of the kernel's host, among KG_KERNEL_PROXY_PORTS",
    "path": "The path on the kernel's server (may contain slashes; empty redirects to `/`)",
}
SUCCESS = {"101": "Switching protocols", "200": "OK", "201": "Created", "204": "No content"}


def _operation(
    path: str,
    op_id: str,
    summary: str,
    status: str,
    schema: str | None,
    errors: tuple[str, ...],
    body: str | None,
    token_required: bool,
) -> dict[str, Any]:
    """One operation of the document, from its row in OPERATIONS."""
    success: dict[str, Any] = {"description": SUCCESS[status]}
    if schema is not None:
        success["schema"] = ref(schema)
    if status == "201":
        success["headers"] = {"Location": {"type": "string", "description": "The new URL"}}
    responses = {status: success}
    for code in sorted({"400", *errors, *(("401",) if token_required else ())}):
        responses[code] = {"description": ERRORS[code], "schema": ref("Error")}
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    parameters: list[dict[str, Any]] = [
        {
            "name": n,
            "in": "path",
            "required": True,
            "type": "string",
            "description": PATH_PARAMETERS[n],
        }
        for n in names
    ]
    if body is not None:
        required = op_id in BODY_REQUIRED
        parameters.append({"name": "body", "in": "body", "required": required, "schema": ref(body)})
    operation: dict[str, Any] = {
        "operationId": op_id,
        "summary": summary,
        "responses": responses,
    }
    if parameters:
        operation["parameters"] = parameters
    if path.endswith(".yaml"):
        operation["produces"] = [YAML_TYPE]
    elif path.startswith("/kernelspecs/") or "/proxy/" in path:
        operation["produces"] = ["*/*"]
    return operation


def _paths(token_required: bool) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for path, method, *row in OPERATIONS:
        operation = _operation(path, *row, token_required=token_required)  # type: ignore[arg-type, misc]
        paths.setdefault(path, {})[method] = operation
    return paths


SECURITY_DEFINITIONS = {
    "tokenHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "`token <value>`: the gateway's KG_AUTH_TOKEN",
    },
    "tokenParam": {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "The same token as a query argument",
    },
}


def api_document(base_url: str = "/", token_required: bool = False) -> dict[str, Any]:
    """The whole Swagger 2.0 document, its paths under `base_url`."""
    document: dict[str, Any] = {
        "swagger": "2.0",
        "info": {
            "title": "Jupyter Kernel Gateway API",
            "description": "Jupyter kernels over REST and websockets (jupyter-websocket mode)",
            "version": __version__,
        },
        "basePath": "/" + base_url.strip("/") if base_url.strip("/") else "/",
        "consumes": [JSON_TYPE],
        "produces": [JSON_TYPE],
    }
    if token_required:
        document["securityDefinitions"] = SECURITY_DEFINITIONS
        document["security"] = [{"tokenHeader": []}, {"tokenParam": []}]
    document["paths"] = _paths(token_required)
    document["definitions"] = DEFINITIONS
    return document


def as_json(document: dict[str, Any]) -> str:
    """The document as JSON text."""
    return json.dumps(document, indent=2)


class _PlainDumper(yaml.SafeDumper):
    """Writes a part used twice out twice: no `&id`/`*id` aliases for readers to resolve."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def as_yaml(document: dict[str, Any]) -> str:
    """The document as YAML text (block style, keys in document order)."""
    return yaml.dump(
        document,
        Dumper=_PlainDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
    )
