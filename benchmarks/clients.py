"""Load clients: keep-alive HTTP (http.client), a websocket Jupyter client (tornado), messages.

Both clients disable Nagle as real clients do: http.client sets TCP_NODELAY in connect(), and
tornado's websocket_connect sets it while connecting (we set it again after the upgrade, since
tornado turns it back off when the HTTP request part finishes). Nothing changes delayed ACKs.
"""

from __future__ import annotations

import asyncio
import datetime
import http.client
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from benchmarks.servers import HOST

REQUEST_TIMEOUT = 10.0
#: A check receives (status, headers, body) and returns an error text, or None when fine.
Check = Callable[[int, Mapping[str, str], bytes], "str | None"]


@dataclass(frozen=True)
class HttpRequest:
    """One request to replay: method, path, body and headers."""

    method: str
    path: str
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


class HttpClient:
    """A persistent keep-alive HTTP/1.1 connection that reconnects after a failure."""

    def __init__(self, port: int, timeout: float = REQUEST_TIMEOUT) -> None:
        self._port = port
        self._timeout = timeout
        self._conn = http.client.HTTPConnection(HOST, port, timeout=timeout)

    def send(self, request: HttpRequest) -> tuple[int, Mapping[str, str], bytes]:
        """Send one request on the kept-alive connection and return status, headers, body."""
        try:
            self._conn.request(request.method, request.path, request.body, dict(request.headers))
            response = self._conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            self._conn = http.client.HTTPConnection(HOST, self._port, timeout=self._timeout)
            raise
        headers = {k.lower(): v for k, v in response.getheaders()}
        return response.status, headers, body

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def expect_status_and_body(expected: bytes) -> Check:
    """Return a check accepting a 2xx answer whose body is exactly expected."""

    def check(status: int, headers: Mapping[str, str], body: bytes) -> str | None:
        if not 200 <= status < 300:
            return f"status {status}: {body[:80]!r}"
        return None if body == expected else f"body {body[:80]!r}"

    return check


def expect_json_echo(payload: Any) -> Check:
    """Return a check accepting a 2xx application/json answer that decodes to payload."""

    def check(status: int, headers: Mapping[str, str], body: bytes) -> str | None:
        if not 200 <= status < 300:
            return f"status {status}: {body[:80]!r}"
        if not headers.get("content-type", "").startswith("application/json"):
            return f"content-type {headers.get('content-type')!r}"
        try:
            echoed = json.loads(body)
        except ValueError:
            return f"not json: {body[:80]!r}"
        return None if echoed == payload else f"wrong echo: {body[:80]!r}"

    return check


def sequential_latencies(
    port: int,
    request: HttpRequest,
    check: Check,
    count: int,
    time_limit: float,
    after_each: Callable[[], object] | None = None,
) -> list[float]:
    """Send up to count requests one after another on one connection; return their seconds.

    `after_each` runs (untimed) after every request: the paired floor execute. Raises
    RuntimeError on the first failed check: a latency of a wrong answer means nothing.
    """
    client = HttpClient(port)
    samples: list[float] = []
    deadline = time.monotonic() + time_limit
    try:
        while len(samples) < count and time.monotonic() < deadline:
            start = time.perf_counter()
            status, headers, body = client.send(request)
            elapsed = time.perf_counter() - start
            error = check(status, headers, body)
            if error is not None:
                raise RuntimeError(f"{request.method} {request.path}: {error}")
            samples.append(elapsed)
            if after_each is not None:
                after_each()
    finally:
        client.close()
    return samples


@dataclass(frozen=True)
class LoadResult:
    """What a fixed-time load produced."""

    ok: int
    errors: int
    elapsed: float
    error_samples: tuple[str, ...]

    @property
    def rate(self) -> float:
        """Correct answers per second."""
        return self.ok / self.elapsed if self.elapsed > 0 else 0.0


@dataclass
class _WorkerTally:
    ok: int = 0
    errors: int = 0
    samples: list[str] = field(default_factory=list)


def _load_worker(
    port: int,
    request: HttpRequest,
    check: Check,
    start: threading.Barrier,
    deadline: list[float],
    limit: int,
    tally: _WorkerTally,
) -> None:
    client = HttpClient(port)
    start.wait()
    try:
        while tally.ok + tally.errors < limit and time.monotonic() < deadline[0]:
            try:
                error = check(*client.send(request))
            except (OSError, http.client.HTTPException) as err:
                error = f"{type(err).__name__}: {err}"
                time.sleep(0.01)
            if error is None:
                tally.ok += 1
            else:
                tally.errors += 1
                if len(tally.samples) < 3:
                    tally.samples.append(error)
    finally:
        client.close()


def fixed_time_load(
    port: int, request: HttpRequest, check: Check, clients: int, duration: float, max_requests: int
) -> LoadResult:
    """Run clients keep-alive connections in threads, each looping for duration seconds."""
    tallies = [_WorkerTally() for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)
    deadline = [0.0]
    threads = [
        threading.Thread(
            target=_load_worker,
            args=(port, request, check, barrier, deadline, max_requests // clients, tally),
            daemon=True,
        )
        for tally in tallies
    ]
    for thread in threads:
        thread.start()
    deadline[0] = time.monotonic() + duration
    started = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join(duration + REQUEST_TIMEOUT + 5)
    elapsed = time.perf_counter() - started
    return LoadResult(
        ok=sum(t.ok for t in tallies),
        errors=sum(t.errors for t in tallies),
        elapsed=elapsed,
        error_samples=tuple(s for t in tallies for s in t.samples)[:5],
    )


def new_message(msg_type: str, content: dict[str, Any], session: str) -> dict[str, Any]:
    """Return a Jupyter protocol message for the legacy JSON websocket format (shell channel)."""
    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "msg_type": msg_type,
            "username": "bench",
            "session": session,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "content": content,
        "buffers": [],
        "channel": "shell",
    }


def execute_request(code: str, session: str) -> dict[str, Any]:
    """Return an execute_request for code, storing no history (as a quiet client would)."""
    content = {"code": code, "silent": False, "store_history": False, "allow_stdin": False}
    return new_message("execute_request", content, session)


async def rest(base_url: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """Make one REST call to a gateway and return (status, decoded JSON or None)."""
    request = HTTPRequest(
        base_url + path,
        method=method,
        body=None if body is None else json.dumps(body),
        headers={"Content-Type": "application/json"},
        request_timeout=90.0,
        allow_nonstandard_methods=True,
    )
    response = await AsyncHTTPClient().fetch(request, raise_error=False)
    text = response.body or b""
    return response.code, (json.loads(text) if text.strip() else None)


class KernelSocket:
    """A websocket on /api/kernels/<id>/channels speaking the JSON text format."""

    def __init__(self, conn: WebSocketClientConnection) -> None:
        self._conn = conn
        self.session = uuid.uuid4().hex
        self.received = 0

    @classmethod
    async def open(cls, ws_url: str, timeout: float = 30.0) -> KernelSocket:
        """Connect to a kernel's channels websocket."""
        conn = await websocket_connect(ws_url, connect_timeout=timeout)
        stream = conn.protocol.stream if conn.protocol else None
        if stream is not None and stream.socket is not None:
            stream.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(conn)

    async def send(self, message: dict[str, Any]) -> str:
        """Send a message and return its msg_id."""
        await self._conn.write_message(json.dumps(message))
        return str(message["header"]["msg_id"])

    async def receive(self, timeout: float) -> dict[str, Any]:
        """Return the next message; raise TimeoutError or ConnectionError."""
        raw = await asyncio.wait_for(self._conn.read_message(), timeout)
        if raw is None:
            raise ConnectionError(f"websocket closed: {self._conn.close_reason}")
        self.received += 1
        return dict(json.loads(raw))

    async def kernel_info(self, timeout: float) -> None:
        """Send kernel_info_request and wait for its reply."""
        msg_id = await self.send(new_message("kernel_info_request", {}, self.session))
        deadline = time.monotonic() + timeout
        while True:
            message = await self.receive(max(0.01, deadline - time.monotonic()))
            parent = message.get("parent_header") or {}
            if message.get("msg_type") == "kernel_info_reply" and parent.get("msg_id") == msg_id:
                return

    async def wait_done(self, pending: set[str], timeout: float) -> None:
        """Receive until every msg_id in pending has both its execute_reply and its idle."""
        waiting = {msg_id: {"execute_reply", "idle"} for msg_id in pending}
        deadline = time.monotonic() + timeout
        while waiting:
            message = await self.receive(max(0.01, deadline - time.monotonic()))
            parent_id = (message.get("parent_header") or {}).get("msg_id")
            if parent_id not in waiting:
                continue
            kind = message.get("msg_type")
            if kind == "status":
                kind = message.get("content", {}).get("execution_state")
            waiting[parent_id].discard(str(kind))
            if not waiting[parent_id]:
                del waiting[parent_id]

    async def execute(self, code: str, timeout: float = REQUEST_TIMEOUT) -> float:
        """Run code and return the seconds until both execute_reply and status idle arrived."""
        start = time.perf_counter()
        msg_id = await self.send(execute_request(code, self.session))
        await self.wait_done({msg_id}, timeout)
        return time.perf_counter() - start

    def close(self) -> None:
        """Close the websocket."""
        self._conn.close()
