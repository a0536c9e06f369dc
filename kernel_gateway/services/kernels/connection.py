"""The gateway's ZeroMQ sockets to one kernel, shared by every client of that kernel.

One `KernelConnection` per kernel holds a DEALER for shell, control and stdin (all with one
identity, so the kernel's input requests come back to us) and a SUB for iopub. Each message is
split and checked once: its header and parent header are decoded to learn the type and the
request it answers; the content stays raw bytes until somebody asks for it.

Messages answering a request go to the receiver registered for that request's msg_id
(`route_replies`), which is how a reply reaches the websocket or HTTP request that asked, whatever
session the clients claim. Every iopub message is also broadcast to all subscribers.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

import zmq
from jupyter_client.manager import KernelManager
from zmq.eventloop.zmqstream import ZMQStream

DELIMITER = b"<IDS|MSG>"
PROTOCOL_VERSION = "5.3"
REQUEST_CHANNELS = ("shell", "control", "stdin")

Receiver = Callable[["KernelMessage"], None]


class KernelMessage:
    """One message from (or made for) a kernel, decoded only as far as routing needs."""

    __slots__ = ("_content", "_header", "channel", "msg_type", "parent_msg_id", "parts")

    def __init__(self, channel: str, parts: list[bytes]) -> None:
        self.channel = channel
        self.parts = parts  # header, parent_header, metadata, content, *buffers (raw JSON)
        self._header: dict[str, Any] = json.loads(parts[0])
        self.msg_type: str = self._header.get("msg_type", "")
        parent = json.loads(parts[1]) if parts[1] not in (b"{}", b"") else {}
        self.parent_msg_id: str = parent.get("msg_id", "") if isinstance(parent, dict) else ""
        self._content: dict[str, Any] | None = None

    @property
    def header(self) -> dict[str, Any]:
        return self._header

    @property
    def content(self) -> dict[str, Any]:
        """The decoded content, parsed on first use."""
        if self._content is None:
            self._content = json.loads(self.parts[3])
        return self._content

    @property
    def buffers(self) -> list[bytes]:
        return self.parts[4:]


def iso_now() -> str:
    """The current UTC time as ISO 8601 with microseconds and a trailing Z."""
    return iso_time(time.time())


def iso_time(timestamp: float) -> str:
    """A POSIX timestamp as ISO 8601 UTC with microseconds and a trailing Z."""
    moment = datetime.fromtimestamp(timestamp, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_header(msg_type: str, session: str, username: str = "kernel_gateway") -> dict[str, Any]:
    """A fresh message header, as the messaging protocol defines it."""
    return {
        "msg_id": uuid.uuid4().hex,
        "msg_type": msg_type,
        "username": username,
        "session": session,
        "date": iso_now(),
        "version": PROTOCOL_VERSION,
    }


def dump(value: object) -> bytes:
    """Compact JSON bytes of one message part."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def status_message(execution_state: str, kernel_session: str) -> KernelMessage:
    """A synthetic iopub status message, for states the kernel can't announce itself."""
    header = new_header("status", kernel_session)
    content = {"execution_state": execution_state}
    return KernelMessage("iopub", [dump(header), b"{}", b"{}", dump(content)])


class KernelConnection:
    """Shared ZeroMQ sockets to one kernel, with reply routing and iopub fan-out."""

    def __init__(self, kernel_id: str, kernel_manager: KernelManager) -> None:
        self.kernel_id = kernel_id
        self._km = kernel_manager
        self._identity = uuid.uuid4().hex.encode()
        self.session_id = uuid.uuid4().hex
        self._streams: dict[str, ZMQStream] = {}
        self._routes: dict[str, Receiver] = {}
        self._subscribers: dict[int, Receiver] = {}
        self._next_subscriber = 0
        self.execution_state = "starting"
        self.last_activity = time.time()
        self.clients = 0  # websockets attached, for the kernel model and culling
        self.kernel_info: dict[str, Any] = {}

    # -- sockets -----------------------------------------------------------------------------

    def open(self) -> None:
        """Connect the sockets to the kernel's ports (again, after a restart)."""
        self.close()
        key = self._km.session.key
        self._auth = hmac.new(key, digestmod=self._km.session.digest_mod) if key else None
        for channel in REQUEST_CHANNELS:
            connect = getattr(self._km, f"connect_{channel}")
            self._streams[channel] = self._stream(connect(identity=self._identity), channel)
        self._streams["iopub"] = self._stream(self._km.connect_iopub(), "iopub")

    def _stream(self, socket_or_stream: zmq.Socket | ZMQStream, channel: str) -> ZMQStream:
        stream = (
            socket_or_stream
            if isinstance(socket_or_stream, ZMQStream)
            else ZMQStream(socket_or_stream)
        )
        stream.socket.setsockopt(zmq.LINGER, 0)
        stream.on_recv(lambda frames: self._receive(channel, frames))
        return stream

    def close(self) -> None:
        """Close the sockets; routes and subscribers stay for a later `open`."""
        for stream in self._streams.values():
            stream.close(linger=0)
        self._streams.clear()

    @property
    def is_open(self) -> bool:
        return bool(self._streams)

    # -- sending -----------------------------------------------------------------------------

    def sign(self, parts: Sequence[bytes]) -> bytes:
        """HMAC signature of header, parent_header, metadata and content."""
        if self._auth is None:
            return b""
        digest = self._auth.copy()
        for part in parts[:4]:
            digest.update(part)
        return digest.hexdigest().encode()

    def send(self, channel: str, parts: Sequence[bytes]) -> None:
        """Sign and send one message given as raw parts (header, parent, metadata, content, ...)."""
        self.last_activity = time.time()
        self._streams[channel].send_multipart([DELIMITER, self.sign(parts), *parts])

    def request(
        self, channel: str, msg_type: str, content: dict[str, Any], receiver: Receiver | None = None
    ) -> str:
        """Send a request made by the gateway itself; return its msg_id."""
        header = new_header(msg_type, self.session_id)
        if receiver is not None:
            self._routes[header["msg_id"]] = receiver
        self.send(channel, [dump(header), b"{}", b"{}", dump(content)])
        return str(header["msg_id"])

    # -- receiving ---------------------------------------------------------------------------

    def route_replies(self, msg_id: str, receiver: Receiver) -> None:
        """Send every message whose parent is `msg_id` to `receiver` (iopub ones too)."""
        self._routes[msg_id] = receiver

    def forget(self, msg_id: str) -> None:
        """Stop routing the answers to `msg_id`."""
        self._routes.pop(msg_id, None)

    def subscribe(self, listener: Receiver) -> Callable[[], None]:
        """Receive every iopub message; call the returned function to stop."""
        key = self._next_subscriber
        self._next_subscriber += 1
        self._subscribers[key] = listener

        def unsubscribe() -> None:
            self._subscribers.pop(key, None)

        return unsubscribe

    def broadcast(self, message: KernelMessage) -> None:
        """Give an iopub message to every subscriber."""
        for listener in list(self._subscribers.values()):
            listener(message)

    def _receive(self, channel: str, frames: list[bytes]) -> None:
        try:
            start = frames.index(DELIMITER) + 1
        except ValueError:
            return
        signature, parts = frames[start], frames[start + 1 :]
        if len(parts) < 4 or not hmac.compare_digest(signature, self.sign(parts)):
            return
        message = KernelMessage(channel, parts)
        self.last_activity = time.time()
        if channel == "iopub":
            if message.msg_type == "status":
                self.execution_state = message.content.get("execution_state", "unknown")
            self.broadcast(message)
        receiver = self._routes.get(message.parent_msg_id)
        if receiver is not None:
            receiver(message)

    # -- readiness ---------------------------------------------------------------------------

    async def wait_ready(self, timeout: float = 60.0) -> dict[str, Any]:
        """Ask for kernel_info until the kernel answers and its iopub reaches us.

        Returns the kernel_info reply content. Raises TimeoutError after `timeout` seconds.
        """
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        seen: set[str] = set()
        probes: list[str] = []

        def receive(message: KernelMessage) -> None:
            if message.msg_type == "kernel_info_reply":
                self.kernel_info = message.content
            seen.add(message.channel)
            if {"shell", "iopub"} <= seen and not ready.done():
                ready.set_result(None)

        deadline = loop.time() + timeout
        try:
            while not ready.done():
                if loop.time() > deadline:
                    raise TimeoutError(f"kernel {self.kernel_id} did not answer in {timeout}s")
                probes.append(self.request("shell", "kernel_info_request", {}, receive))
                await asyncio.wait([ready], timeout=0.2)
        finally:
            for msg_id in probes:
                self.forget(msg_id)
        return self.kernel_info
