"""GatewayHandler: token auth, CORS, OPTIONS, origin checks and JSON errors, for both modes.

Every handler of the gateway derives from `GatewayHandler` (websockets use the same checks
through `check_access`). Domain errors (`kernel_gateway.errors`) become JSON
`{"reason", "message"}` with their status; nothing else ever shows a traceback to a client.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import json
from asyncio import Future
from collections.abc import Awaitable
from dataclasses import dataclass
from http.client import responses
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from tornado import httputil, web

from .._version import __version__
from ..errors import (
    BadRequest,
    Forbidden,
    GatewayError,
    KernelUnavailable,
    MethodNotAllowed,
    NotFound,
    Unauthorized,
)
from ..operations.request_ids import HEADER, current_request_id, request_id
from ..serving import RequestTracker


@dataclass(frozen=True)
class AccessPolicy:
    """Who may call the gateway, and the CORS headers it answers with."""

    auth_token: str = ""
    allow_origin: str = ""
    allow_credentials: str = ""
    allow_headers: str = ""
    allow_methods: str = ""
    expose_headers: str = ""
    max_age: str = ""

    def cors_headers(self) -> dict[str, str]:
        """The Access-Control-* headers configured, by header name."""
        pairs = {
            "Access-Control-Allow-Origin": self.allow_origin,
            "Access-Control-Allow-Credentials": self.allow_credentials,
            "Access-Control-Allow-Headers": self.allow_headers,
            "Access-Control-Allow-Methods": self.allow_methods,
            "Access-Control-Expose-Headers": self.expose_headers,
            "Access-Control-Max-Age": self.max_age,
        }
        return {name: value for name, value in pairs.items() if value}


def presented_token(request: httputil.HTTPServerRequest) -> str | None:
    """The token a request carries: `Authorization: token|Bearer <t>` or `?token=<t>`."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("token", "bearer"):
        return value.strip()
    values = request.query_arguments.get("token")
    if values:
        return values[0].decode("utf-8", "replace")
    return None


def check_token(request: httputil.HTTPServerRequest, policy: AccessPolicy) -> None:
    """Raise Unauthorized unless the request carries the configured token (constant time)."""
    if not policy.auth_token:
        return
    token = presented_token(request)
    if token is None or not hmac.compare_digest(token.encode(), policy.auth_token.encode()):
        raise Unauthorized("A valid token is required")


def check_origin(request: httputil.HTTPServerRequest, policy: AccessPolicy) -> None:
    """Raise Forbidden for a cross-site request from an origin the policy doesn't allow."""
    origin = request.headers.get("Origin")
    if not origin or policy.allow_origin == "*" or origin == policy.allow_origin:
        return
    host = request.headers.get("Host", "")
    if urlsplit(origin).netloc.lower() == host.lower():
        return
    raise Forbidden(f"Cross-origin request from {origin} is not allowed")


def check_uri(request: httputil.HTTPServerRequest) -> None:
    """Raise BadRequest for a non-ASCII URI, or a path or query with NUL or invalid UTF-8."""
    uri = request.uri or ""
    if not uri.isascii():
        raise BadRequest("The request target must be ASCII; percent-encode other characters")
    path, _, query = uri.partition("?")
    for part, raw in (("path", path), ("query", query.replace("+", " "))):
        decoded = unquote_to_bytes(raw)
        if b"\x00" in decoded:
            raise BadRequest(f"NUL bytes are not allowed in the {part}")
        try:
            decoded.decode("utf-8")
        except UnicodeDecodeError as err:
            raise BadRequest(f"The {part} is not valid UTF-8") from err


def check_access(request: httputil.HTTPServerRequest, policy: AccessPolicy) -> None:
    """Token, origin and hostile-input checks every request passes before a handler runs."""
    check_uri(request)
    check_origin(request, policy)
    check_token(request, policy)


def set_cors_headers(handler: web.RequestHandler, policy: AccessPolicy) -> None:
    """Put the policy's Access-Control-* headers on a response."""
    for name, value in policy.cors_headers().items():
        handler.set_header(name, value)


def write_json_error(handler: web.RequestHandler, status_code: int, error: object) -> Future[None]:
    """Finish a response as JSON `{"reason", "message"}` for `error`, with its status and
    headers (Allow, Retry-After); used by every handler, websockets' refused upgrades too."""
    message = responses.get(status_code, "Unknown")
    if isinstance(error, GatewayError):
        status_code = error.status_code
        message = error.message
        if isinstance(error, MethodNotAllowed):
            handler.set_header("Allow", ", ".join(error.allowed))
        if isinstance(error, KernelUnavailable) and error.retry_after is not None:
            handler.set_header("Retry-After", str(error.retry_after))
    elif isinstance(error, web.HTTPError):
        message = error.reason or message
        if error.log_message:
            message = error.log_message % error.args if error.args else error.log_message
        if status_code == 405:
            if isinstance(handler, GatewayHandler):
                allowed = handler.allowed_methods()  # a handler may narrow it (notebook routes)
            else:
                allowed = allowed_methods(handler)
            handler.set_header("Allow", ", ".join(allowed))
    handler.set_status(status_code)
    handler.set_header("Content-Type", "application/json")
    reason = responses.get(status_code, "Unknown")
    return handler.finish(json.dumps({"reason": reason, "message": message}))


def allowed_methods(handler: web.RequestHandler) -> list[str]:
    """The HTTP methods a handler's class implements (HEAD with GET on gateway handlers)."""
    methods = [
        method
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
        if getattr(type(handler), method.lower()) is not getattr(web.RequestHandler, method.lower())
    ]
    if "GET" in methods and isinstance(handler, GatewayHandler):
        methods.insert(1, "HEAD")
    return [*methods, "OPTIONS"]


class GatewayHandler(web.RequestHandler):
    """Base of every HTTP handler: access checks, CORS, OPTIONS, HEAD and JSON errors."""

    policy: AccessPolicy
    tracker: RequestTracker | None = None
    _tracked = False
    _abandoned = False
    _request_id = ""

    @property
    def request_id(self) -> str:
        """The client's sane X-Request-Id, or a new one; the same for the whole request."""
        if not self._request_id:
            self._request_id = request_id(self.request.headers.get(HEADER))
        return self._request_id

    def begin(self) -> None:
        """First thing in `prepare`: log lines from here on carry the request id."""
        current_request_id.set(self.request_id)

    def initialize(self, policy: AccessPolicy, tracker: RequestTracker | None = None) -> None:
        """Subclasses take their own collaborators and pass the rest here."""
        self.policy = policy
        self.tracker = tracker
        self.set_default_headers()  # tornado set the defaults before the policy was known

    def set_default_headers(self) -> None:
        set_cors_headers(self, getattr(self, "policy", AccessPolicy()))
        self.set_header(HEADER, self.request_id)

    def prepare(self) -> None:
        self.begin()
        if self.tracker is not None:
            self.tracker.started(self)
            self._tracked = True
            refusal = self.tracker.refusal()
            if refusal is not None:
                raise web.HTTPError(503, refusal)
        if self.request.method == "OPTIONS":
            check_uri(self.request)
        else:
            self.authorize()

    def authorize(self) -> None:
        """The access checks of a request that is not a CORS preflight (token by default)."""
        check_access(self.request, self.policy)

    def on_finish(self) -> None:
        if self._tracked and self.tracker is not None:
            self.tracker.finished(self)
            self._tracked = False

    def abandon(self) -> Awaitable[None]:
        """Answer 503 now: the gateway is stopping before this request could finish. What
        the request's own work writes later is dropped."""
        if self._finished:
            return asyncio.sleep(0)
        self.clear()
        error = KernelUnavailable("The gateway shut down before the request finished")
        sent = write_json_error(self, 503, error)
        self._abandoned = True
        return sent

    def write(self, chunk: str | bytes | dict[str, Any]) -> None:
        if not self._abandoned:
            super().write(chunk)

    def finish(self, chunk: str | bytes | dict[str, Any] | None = None) -> Future[None]:
        if self._abandoned:
            done: Future[None] = Future()
            done.set_result(None)
            return done
        return super().finish(chunk)

    def options(self, *args: str, **kwargs: str) -> None:
        """Answer CORS preflight requests, with no token needed."""
        self.set_status(204)
        self.finish()

    async def head(self, *args: str, **kwargs: str) -> None:
        """HEAD is GET without a body (tornado drops the body)."""
        if type(self).get is web.RequestHandler.get:
            raise MethodNotAllowed("HEAD is not allowed here", self.allowed_methods())
        result = self.get(*args, **kwargs)  # type: ignore[func-returns-value]
        if inspect.isawaitable(result):
            await result

    def allowed_methods(self) -> list[str]:
        """The HTTP methods this handler class implements."""
        return allowed_methods(self)

    def json_body(self) -> Any:
        """The request body decoded as JSON; an empty body is None. Raises BadRequest."""
        if not self.request.body:
            return None
        try:
            return json.loads(self.request.body.decode("utf-8"))
        except UnicodeDecodeError as err:
            raise BadRequest("The request body is not valid UTF-8") from err
        except ValueError as err:
            raise BadRequest(f"Invalid JSON in request body: {err}") from err
        except RecursionError as err:
            raise BadRequest("Invalid JSON in request body: nested too deeply") from err

    def write_json(self, value: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(value))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Every error as JSON `{"reason", "message"}`; never a traceback."""
        write_json_error(self, status_code, kwargs.get("exc_info", (None, None, None))[1])

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """Log an error by path only: the query may carry the token."""
        if isinstance(value, GatewayError) and value.status_code < 500:
            self.log_client_error(value)
        elif isinstance(value, GatewayError):
            web.app_log.warning("%s %s: %s", self.request.method, self.request.path, value)
        elif isinstance(value, web.HTTPError):
            web.gen_log.debug(
                "%d %s %s: %s", value.status_code, self.request.method, self.request.path, value
            )
        else:
            web.app_log.error(
                "Uncaught exception %s %s (%s)",
                self.request.method,
                self.request.path,
                self.request.remote_ip,
                exc_info=(typ, value, tb),
            )

    def log_client_error(self, error: GatewayError) -> None:
        """Why a request got a 4xx, at DEBUG: its access line (WARNING) says the rest."""
        web.gen_log.debug(
            "%d %s %s: %s", error.status_code, self.request.method, self.request.path, error
        )


class APIVersionHandler(GatewayHandler):
    """`GET /api`: the gateway's version."""

    def get(self) -> None:
        self.write_json({"version": __version__})


class NotFoundHandler(GatewayHandler):
    """Every path no route matched: a JSON 404."""

    def prepare(self) -> None:
        super().prepare()
        raise NotFound(f"No resource at {self.request.path}")
