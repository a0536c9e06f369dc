"""The gateway's ZeroMQ sockets to one kernel, shared by every client of that kernel.

One `KernelConnection` per kernel holds a DEALER for shell, control and stdin (all with one
identity, so the kernel's input requests come back to us) and a SUB for iopub. Each message is
checked once and becomes a `KernelMessage` (messages.py), decoded only as far as routing needs.

Messages answering a request go to the receiver registered for that request's msg_id
(`route_replies`), which is how a reply reaches the websocket or HTTP request that asked, whatever
session the clients claim. Every iopub message is also broadcast to all subscribers.
"""

from __future__ import annotations

import asyncio
import hmac
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import zmq
from jupyter_client.manager import KernelManager

from ...errors import KernelQueueFull, KernelUnavailable
from .encryption import CurveKeys, client_keys, secure
from .messages import KernelMessage, dump, new_header

DELIMITER = b"<IDS|MSG>"
REQUEST_CHANNELS = ("shell", "control", "stdin")
DRAIN_BYTES = 1 << 20  # read at most about this much per turn of the event loop
UNANSWERED_CHANNELS = ("control", "stdin")  # no reply proves these connected: watch handshakes

Receiver = Callable[[KernelMessage], None]


def channel_socket(channel: str, identity: bytes, keys: CurveKeys | None = None) -> zmq.Socket:
    """A new, unconnected socket for one of a kernel's channels; a Curve client of the kernel
    when `keys` are given."""
    kind = zmq.SUB if channel == "iopub" else zmq.DEALER
    socket: zmq.Socket = zmq.Context.instance().socket(kind)
    socket.linger = 0
    secure(socket, keys)
    if kind == zmq.SUB:
        socket.setsockopt(zmq.SUBSCRIBE, b"")
    else:
        socket.setsockopt(zmq.IDENTITY, identity)
    return socket


def connect_socket(socket: zmq.Socket, info: Mapping[str, Any], channel: str) -> None:
    """Connect `socket` to one of a kernel's channels, from its connection info."""
    port = info[f"{channel}_port"]
    if info.get("transport", "tcp") == "ipc":
        socket.connect(f"ipc://{info['ip']}-{port}")
    else:
        socket.connect(f"tcp://{info['ip']}:{port}")


class KernelConnection:
    """Shared ZeroMQ sockets to one kernel, with reply routing and iopub fan-out."""

    def __init__(self, kernel_id: str, kernel_manager: KernelManager) -> None:
        self.kernel_id = kernel_id
        self._km = kernel_manager
        self._identity = uuid.uuid4().hex.encode()
        self.session_id = uuid.uuid4().hex
        self._sockets: dict[str, zmq.Socket] = {}
        self._monitors: dict[str, zmq.Socket] = {}
        self._linked = asyncio.Event()
        self._key = b""
        self._digest = "sha256"
        self._routes: dict[str, Receiver] = {}
        self._subscribers: dict[int, Receiver] = {}
        self._next_subscriber = 0
        self.execution_state = "starting"
        self.last_activity = time.time()
        self.clients = 0  # websockets attached, for the kernel model and culling
        self.kernel_info: dict[str, Any] = {}
        self.encrypted = False  # whether the sockets speak CurveZMQ (set by `open`)

    # -- sockets -----------------------------------------------------------------------------

    def open(self) -> None:
        """Connect the sockets to the kernel's ports (again, after a restart), as Curve
        clients when the connection info carries the kernel's Curve public key."""
        self.close()
        session = self._km.session
        self._key = session.key or b""
        self._digest = session.signature_scheme.partition("-")[2] or "sha256"
        info = self._km.get_connection_info()
        keys = client_keys(info)  # a fresh client key pair per open: none is ever written
        self.encrypted = keys is not None
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._linked = asyncio.Event()
        for channel in (*REQUEST_CHANNELS, "iopub"):
            socket = self._sockets[channel] = channel_socket(channel, self._identity, keys)
            if channel in UNANSWERED_CHANNELS:  # before connecting: a kernel already listening
                self._watch_handshake(channel, socket)  # may shake hands at once
            connect_socket(socket, info, channel)
            loop.add_reader(socket.FD, self._drain, channel, socket)

    def _watch_handshake(self, channel: str, socket: zmq.Socket) -> None:
        """Note when `socket` has shaken hands with the kernel.

        The kernel sends input requests to our identity on stdin; until the handshake is done
        it has no route to us and drops them. Shell proves itself by answering kernel_info.
        """
        monitor = socket.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
        self._monitors[channel] = monitor
        self._loop.add_reader(monitor.FD, self._check_handshake, channel)
        self._loop.call_soon(self._check_handshake, channel)

    def _check_handshake(self, channel: str) -> None:
        monitor = self._monitors.get(channel)
        if monitor is None:
            return
        try:
            monitor.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            return
        self._stop_monitor(channel)
        if not self._monitors:
            self._linked.set()

    def _stop_monitor(self, channel: str) -> None:
        monitor = self._monitors.pop(channel)
        self._loop.remove_reader(monitor.FD)
        self._sockets[channel].disable_monitor()
        monitor.close(linger=0)

    def close(self) -> None:
        """Close the sockets; routes and subscribers stay for a later `open`."""
        for channel in list(self._monitors):
            self._stop_monitor(channel)
        for socket in self._sockets.values():
            self._loop.remove_reader(socket.FD)
            socket.close(linger=0)
        self._sockets.clear()

    @property
    def is_open(self) -> bool:
        return bool(self._sockets)

    def _drain(self, channel: str, socket: zmq.Socket) -> None:
        """Read the messages waiting on `socket`, up to DRAIN_BYTES of them per turn.

        Its FD only signals edges: asking for EVENTS until POLLIN is gone re-arms it (and is
        cheaper than a receive that fails with Again). A kernel that floods its outputs must
        not starve the loop (the responses it feeds are written in between): past
        DRAIN_BYTES, the rest is read on a later turn.
        """
        read = 0
        try:
            while cast(int, socket.get(zmq.EVENTS)) & zmq.POLLIN:
                if read > DRAIN_BYTES:
                    self._loop.call_soon(self._drain, channel, socket)
                    return
                frames = socket.recv_multipart(zmq.NOBLOCK)
                read += sum(len(frame) for frame in frames)
                self._receive(channel, frames)
        except zmq.ZMQError:  # closed under us (kernel shut down meanwhile)
            return

    # -- sending -----------------------------------------------------------------------------

    def sign(self, parts: Sequence[bytes]) -> bytes:
        """HMAC signature of header, parent_header, metadata and content."""
        if not self._key:
            return b""
        return hmac.digest(self._key, b"".join(parts[:4]), self._digest).hex().encode()

    def send(self, channel: str, parts: Sequence[bytes]) -> None:
        """Sign and send one message given as raw parts (header, parent, metadata, content, ...).

        Never blocks: a kernel that stopped reading lets its queue reach ZeroMQ's high-water
        mark, and then this raises KernelQueueFull (nothing of the message was sent: ZeroMQ
        takes a multipart message whole or not at all). KernelUnavailable when not connected.
        """
        socket = self._sockets.get(channel)
        if socket is None:
            raise KernelUnavailable(f"Kernel {self.kernel_id} is not connected (shut down?)")
        try:
            socket.send_multipart([DELIMITER, self.sign(parts), *parts], zmq.NOBLOCK)
        except zmq.Again as err:
            raise KernelQueueFull(
                f"Kernel {self.kernel_id} is not reading messages this fast: its queue is full"
            ) from err
        self.last_activity = time.time()
        # Sending can swallow the edge that announces a reply: look for one on the next turn.
        self._loop.call_soon(self._drain, channel, socket)

    def request(
        self, channel: str, msg_type: str, content: dict[str, Any], receiver: Receiver | None = None
    ) -> str:
        """Send a request made by the gateway itself; return its msg_id.

        Raises what `send` raises (KernelQueueFull, KernelUnavailable).
        """
        header = new_header(msg_type, self.session_id)
        msg_id = str(header["msg_id"])
        self.send(channel, [dump(header), b"{}", b"{}", dump(content)])
        if receiver is not None:  # no reply can be read before this callback returns
            self._routes[msg_id] = receiver
        return msg_id

    # -- receiving ---------------------------------------------------------------------------

    def route_replies(self, msg_id: str, receiver: Receiver) -> None:
        """Send every message whose parent is `msg_id` to `receiver` (iopub ones too)."""
        self._routes[msg_id] = receiver

    def routed(self, msg_id: str) -> bool:
        """Whether the answers to `msg_id` go to a receiver."""
        return msg_id in self._routes

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
        """Ask for kernel_info until the kernel answers, its iopub reaches us (saying it is
        idle again) and our stdin and control sockets have shaken hands with it.

        Returns the kernel_info reply content. Raises TimeoutError after `timeout` seconds.
        """
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        seen: set[str] = set()
        probes: list[str] = []

        def receive(message: KernelMessage) -> None:
            if message.msg_type == "kernel_info_reply":
                self.kernel_info = message.content
                seen.add("shell")
            elif message.msg_type == "status" and message.content.get("execution_state") == "idle":
                seen.add("iopub")  # the kernel is idle again after answering: hand it out idle
            if {"shell", "iopub"} <= seen and not ready.done():
                ready.set_result(None)

        deadline = loop.time() + timeout
        try:
            while not ready.done():
                if loop.time() > deadline:
                    raise TimeoutError(f"kernel {self.kernel_id} did not answer in {timeout}s")
                probes.append(self.request("shell", "kernel_info_request", {}, receive))
                await asyncio.wait([ready], timeout=0.2)
            await asyncio.wait_for(self._linked.wait(), max(deadline - loop.time(), 0.1))
        except asyncio.TimeoutError as err:
            raise TimeoutError(f"kernel {self.kernel_id} did not connect in {timeout}s") from err
        finally:
            for msg_id in probes:
                self.forget(msg_id)
        return self.kernel_info
