"""Serving helpers of the app: binding with port retries, TLS, in-flight requests."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import socket
import ssl
import stat
from collections.abc import Awaitable
from typing import Any, Protocol

from tornado.httpserver import HTTPServer
from tornado.iostream import IOStream
from tornado.netutil import bind_sockets, bind_unix_socket

from .errors import StartupError

MAX_PORT = 65535
TORNADO_UNPARSEABLE_REPLY = b"HTTP/1.1 400 Bad Request\r\n\r\n"  # no body, no length


def _unparseable_reply() -> bytes:
    body = json.dumps(
        {"reason": "Bad Request", "message": "The request is not valid HTTP/1.1"}
    ).encode()
    head = (
        "HTTP/1.1 400 Bad Request\r\n"
        "Content-Type: application/json; charset=UTF-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


UNPARSEABLE_REPLY = _unparseable_reply()


class GatewayHTTPServer(HTTPServer):
    """tornado's HTTP server, but a request it can't parse (a garbage request line, a bad
    header or Content-Length, a broken chunk) gets a JSON 400 like every other error, where
    tornado writes a status line alone."""

    def handle_stream(self, stream: IOStream, address: Any) -> None:
        write = stream.write

        def write_json_errors(data: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(data, bytes) and data == TORNADO_UNPARSEABLE_REPLY:
                data = UNPARSEABLE_REPLY
            return write(data, *args, **kwargs)

        stream.write = write_json_errors  # type: ignore[method-assign]
        super().handle_stream(stream, address)


class InFlight(Protocol):
    """A request the tracker can answer early: `abandon` sends 503 now, its work's output is
    dropped later."""

    def abandon(self) -> Awaitable[None]: ...


class RequestTracker:
    """The HTTP requests in flight, so shutdown can let them finish, or answer them.

    Handlers call `started` / `finished`; the app sets `starting` while its mode starts and
    `closing` from the moment it is told to stop: handlers refuse new requests meanwhile
    (with `refusal()` as the message), and once the grace period is over `abandon_all`
    answers those still running.
    """

    def __init__(self) -> None:
        self.requests: set[InFlight] = set()
        self.starting = False
        self.closing = False
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def active(self) -> int:
        return len(self.requests)

    def refusal(self) -> str | None:
        """Why a new request is refused now (starting, shutting down); None when served."""
        if self.closing:
            return "The gateway is shutting down"
        if self.starting:
            return "The gateway is starting"
        return None

    def started(self, request: InFlight) -> None:
        self.requests.add(request)
        self._idle.clear()

    def finished(self, request: InFlight) -> None:
        self.requests.discard(request)
        if not self.requests:
            self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is in flight; False if `timeout` ran out first."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def abandon_all(self, timeout: float = 2.0) -> None:
        """Answer every request still in flight with 503; wait (up to `timeout` s) until the
        answers are sent, so that closing the connections afterwards doesn't cut them."""
        answers = [asyncio.ensure_future(request.abandon()) for request in list(self.requests)]
        if answers:
            await asyncio.wait(answers, timeout=timeout)


def ssl_context(
    certfile: str | None, keyfile: str | None, client_ca: str | None
) -> ssl.SSLContext | None:
    """A server TLS context from the cert options, or None when TLS is off."""
    if not certfile:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(certfile, keyfile or None)
        if client_ca:
            context.load_verify_locations(client_ca)
            context.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as err:
        raise StartupError(f"Cannot load TLS certificate or key: {err}") from err
    return context


def bind(ip: str, port: int, retries: int) -> tuple[list[socket.socket], int]:
    """Bind `port` (0: a free one), or the next free one of `retries` more (up to 65535);
    return the sockets and the port bound.

    Raises StartupError when every port tried is taken, or the address can't be bound.
    """
    last = min(port + max(retries, 0), MAX_PORT)
    for candidate in range(port, last + 1):
        try:
            sockets = bind_sockets(candidate, ip or None)
        except OSError as err:
            if err.errno in (errno.EADDRINUSE, errno.EACCES) and candidate > 0:
                continue
            raise StartupError(f"Cannot listen on {ip}:{candidate}: {err}") from err
        return sockets, int(sockets[0].getsockname()[1])
    tried = f"Port {port} is" if last == port else f"Ports {port} to {last} are"
    raise StartupError(
        f"{tried} in use on {ip or 'all interfaces'} (port_retries={retries}); "
        "free one or choose another with --port or KG_PORT"
    )


def skipped_ports(asked: int, bound: int, retries: int) -> str | None:
    """The warning when ports in use were skipped (port_retries), or None."""
    if asked == 0 or bound == asked:
        return None
    taken = f"Port {asked} is" if bound == asked + 1 else f"Ports {asked} to {bound - 1} are"
    return f"{taken} in use; listening on port {bound} instead (port_retries={retries})"


def bind_unix(path: str) -> socket.socket:
    """Bind a unix socket at `path`, readable and writable by this user only (mode 0600).

    A socket file left by a crashed run (nobody accepts on it) is replaced. Raises
    StartupError when a server is listening on it, or `path` is something else.
    """
    if os.path.lexists(path):
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise StartupError(f"Cannot listen on {path}: it exists and is not a socket")
        if unix_socket_live(path):
            raise StartupError(f"Cannot listen on {path}: another server is listening on it")
        os.unlink(path)
    try:
        return bind_unix_socket(path, mode=0o600)
    except OSError as err:
        raise StartupError(f"Cannot listen on {path}: {err}") from err


def unix_socket_live(path: str) -> bool:
    """Whether a server accepts connections on the unix socket at `path`."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(path)
        except OSError:  # refused (stale), or gone meanwhile
            return False
    return True


def remove_unix_socket(path: str, inode: int) -> None:
    """Remove the socket file at exit, if it is still the one this process bound (`inode`)."""
    try:
        if os.stat(path).st_ino == inode:
            os.unlink(path)
    except OSError:
        pass


def listen(
    ip: str, port: int, retries: int, unix_socket: str, log: Any
) -> tuple[list[socket.socket], int]:
    """The listening sockets and their port (0 for a unix socket); warns of skipped ports."""
    if unix_socket:
        return [bind_unix(unix_socket)], 0
    sockets, bound = bind(ip, port, retries)
    skipped = skipped_ports(port, bound, retries)
    if skipped:
        log.warning("%s", skipped)
    return sockets, bound


async def drain_requests(
    server: HTTPServer, tracker: RequestTracker, grace_period: float, log: Any
) -> None:
    """Stop accepting, let requests in flight finish (up to `grace_period` s), then answer
    those still running 503."""
    log.info("Shutting down: waiting for %d request(s) in flight", tracker.active)
    server.stop()
    tracker.closing = True
    if not await tracker.wait_idle(grace_period):
        log.warning(
            "%d request(s) still running after %ss; answering them 503",
            tracker.active,
            grace_period,
        )
        await tracker.abandon_all()
