"""KernelHub: every websocket of one kernel, sharing the kernel's one `KernelConnection`.

The hub subscribes to the kernel's iopub once and encodes each message once per wire format,
however many websockets listen. Requests a websocket sends are routed back by their msg_id
(never by session id, so two websockets claiming one session both get their own replies); a
websocket that reuses the msg_id of another client's pending request is closed, as is one
sending faster than the kernel reads (its queue is full). While the kernel starts or
restarts (kernel events tell `KernelHubs`), client messages are held and
sent once it is ready and seeded (a kernel not yet listening would drop them, and the seed
cells come first). When a websocket that named a `session_id` goes away, the hub keeps what
that session misses (iopub messages and replies to its pending requests) in a bounded buffer
and replays it to the next websocket that connects with the same session id.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Protocol

from ..errors import KernelQueueFull
from ..services.kernels.connection import KernelConnection
from ..services.kernels.events import KernelEvent, KernelState
from ..services.kernels.kernel import ManagedKernel
from ..services.kernels.messages import KernelMessage
from .protocol import ClientMessage, to_json_frame, to_v1_frame

REPLAY_MAX_MESSAGES = 2000
REPLAY_MAX_BYTES = 32 * 1024 * 1024
REPLAY_TTL = 600.0  # seconds a departed session's messages are kept
MAX_PENDING = 10_000  # requests awaiting replies per websocket; the oldest are forgotten
MAX_HELD = 1000  # client messages held while the kernel restarts; the oldest are dropped
ROUTED_CHANNELS = frozenset({"shell", "control"})
CLOSE_POLICY_VIOLATION = 1008
TOO_FAST = "the kernel is not reading messages this fast"
MSG_ID_TAKEN = "msg_id in use by another client"
log = logging.getLogger(__name__)


class Client(Protocol):
    """What the hub needs of a websocket."""

    session_id: str
    v1: bool  # speaks v1.kernel.websocket.jupyter.org, else legacy JSON
    pending: OrderedDict[str, None]  # msg_ids of its requests still awaiting a reply

    def write_frame(self, frame: str | bytes) -> None: ...

    def close_for(self, code: int, reason: str) -> None: ...


def encode(message: KernelMessage, v1: bool) -> str | bytes:
    """The websocket frame of a kernel message in one wire format."""
    if v1:
        return to_v1_frame(message.channel, message.parts)
    msg_id = str(message.header.get("msg_id", ""))
    return to_json_frame(message.channel, message.parts, msg_id=msg_id, msg_type=message.msg_type)


class ReplayBuffer:
    """What a departed session missed: newest messages, bounded in count, bytes and age."""

    __slots__ = ("created", "messages", "pending", "size")

    def __init__(self) -> None:
        self.created = time.monotonic()
        self.messages: deque[KernelMessage] = deque()
        self.pending: OrderedDict[str, None] = OrderedDict()
        self.size = 0

    def add(self, message: KernelMessage) -> None:
        self.messages.append(message)
        self.size += sum(len(part) for part in message.parts)
        while len(self.messages) > REPLAY_MAX_MESSAGES or self.size > REPLAY_MAX_BYTES:
            dropped = self.messages.popleft()
            self.size -= sum(len(part) for part in dropped.parts)

    def expired(self, now: float) -> bool:
        return now - self.created > REPLAY_TTL


class KernelHub:
    """The websockets of one kernel; `KernelHubs` creates and drops hubs."""

    def __init__(self, connection: KernelConnection, on_empty: Callable[[KernelHub], None]) -> None:
        self.connection = connection
        self.clients: set[Client] = set()
        self._buffers: dict[str, ReplayBuffer] = {}
        self._owners: dict[str, Client | ReplayBuffer] = {}
        self._on_empty = on_empty
        self._held: deque[tuple[Client, ClientMessage]] = deque(maxlen=MAX_HELD)
        self._readying = False  # the kernel starts or restarts: hold client messages
        self._unsubscribe = connection.subscribe(self._on_iopub)

    # -- websockets come and go --------------------------------------------------------------

    def attach(self, client: Client) -> None:
        """Add a websocket; replay what its session missed, if it is a returning one."""
        self.clients.add(client)
        self.connection.clients += 1
        buffer = self._buffers.pop(client.session_id, None) if client.session_id else None
        if buffer is None:
            return
        for message in buffer.messages:
            client.write_frame(encode(message, client.v1))
        for msg_id in buffer.pending:
            self._owners[msg_id] = client
            client.pending[msg_id] = None

    def detach(self, client: Client) -> None:
        """Remove a websocket; keep its session's messages for a while if it named one."""
        if client not in self.clients:
            return
        self.clients.discard(client)
        self.connection.clients = max(self.connection.clients - 1, 0)
        buffer = self._buffers.get(client.session_id) if client.session_id else None
        if client.session_id and buffer is None:
            buffer = self._buffers[client.session_id] = ReplayBuffer()
        for msg_id in client.pending:
            if buffer is not None:
                self._owners[msg_id] = buffer
                buffer.pending[msg_id] = None
            else:
                self._forget(msg_id)
        client.pending.clear()
        self.prune()

    def close(self, code: int, reason: str) -> None:
        """Close every websocket and stop listening (the kernel is gone or we stop)."""
        for client in list(self.clients):
            client.close_for(code, reason)
        self.clients.clear()
        self._buffers.clear()
        self._owners.clear()
        self._unsubscribe()

    # -- messages ----------------------------------------------------------------------------

    def send(self, client: Client, message: ClientMessage) -> None:
        """Pass a client's message to the kernel (held while it restarts)."""
        if self._readying or not self.connection.is_open:
            self._held.append((client, message))
            return
        self._send_now(client, message)

    def _send_now(self, client: Client, message: ClientMessage) -> None:
        """Send, routing the replies of a shell or control request back to `client`.

        Closes `client` (1008) instead when the msg_id is another's pending request, or when
        the kernel's queue is full.
        """
        owner = self._reply_owner(client)
        routed = message.channel in ROUTED_CHANNELS and message.msg_type.endswith("_request")
        if routed and self._taken(message.msg_id, owner):
            log.info(
                "Closing a websocket to kernel %s: %s", self.connection.kernel_id, MSG_ID_TAKEN
            )
            client.close_for(CLOSE_POLICY_VIOLATION, MSG_ID_TAKEN)
            return
        try:
            self.connection.send(message.channel, message.parts)
        except KernelQueueFull as err:
            log.warning("Closing a websocket: %s", err)
            client.close_for(CLOSE_POLICY_VIOLATION, TOO_FAST)
            return
        if routed and owner is not None:
            self._owners[message.msg_id] = owner
            owner.pending[message.msg_id] = None
            if len(owner.pending) > MAX_PENDING:
                self._forget(owner.pending.popitem(last=False)[0])
            self.connection.route_replies(message.msg_id, self._on_reply)

    def _reply_owner(self, client: Client) -> Client | ReplayBuffer | None:
        """Who gets the replies to `client`'s request: the websocket, or once it has left (its
        message was held meanwhile) its session: the buffer, or the websocket that came back
        with it; nobody for a session-less one."""
        if client in self.clients:
            return client
        if not client.session_id:
            return None
        returned = (c for c in self.clients if c.session_id == client.session_id)
        return self._buffers.get(client.session_id) or next(returned, None)

    def _taken(self, msg_id: str, owner: Client | ReplayBuffer | None) -> bool:
        """Whether replies to `msg_id` go to someone else: another websocket, a departed
        session's buffer, or the gateway itself."""
        current = self._owners.get(msg_id)
        return current is not owner and (current is not None or self.connection.routed(msg_id))

    def _on_iopub(self, message: KernelMessage) -> None:
        if message.msg_type == "iopub_welcome":  # ipykernel greets our subscription, not them
            return
        frames: dict[bool, str | bytes] = {}
        for client in list(self.clients):
            frame = frames.get(client.v1)
            if frame is None:
                frame = frames[client.v1] = encode(message, client.v1)
            client.write_frame(frame)
        for buffer in self._buffers.values():
            buffer.add(message)

    def hold(self, readying: bool) -> None:
        """Hold client messages while the kernel starts or restarts; send them once it is
        ready and seeded (or that failed)."""
        self._readying = readying
        if readying:
            return
        held, self._held = list(self._held), deque(maxlen=MAX_HELD)
        if not self.connection.is_open:
            return
        for client, message in held:  # also those of websockets gone meanwhile: the code runs
            self._send_now(client, message)

    def _on_reply(self, message: KernelMessage) -> None:
        """A shell, control or stdin message answering a routed request (iopub is broadcast)."""
        if message.channel == "iopub":
            return
        msg_id = message.parent_msg_id
        owner = self._owners.get(msg_id)
        if isinstance(owner, ReplayBuffer):
            owner.add(message)
        elif owner is not None:
            owner.write_frame(encode(message, owner.v1))
        if message.channel in ROUTED_CHANNELS and message.msg_type.endswith("_reply"):
            if owner is not None:
                owner.pending.pop(msg_id, None)
            self._forget(msg_id)

    def _forget(self, msg_id: str) -> None:
        self._owners.pop(msg_id, None)
        self.connection.forget(msg_id)

    def prune(self) -> None:
        """Drop expired replay buffers; tell the registry when nothing is left."""
        now = time.monotonic()
        for session_id, buffer in list(self._buffers.items()):
            if buffer.expired(now):
                del self._buffers[session_id]
                for msg_id in buffer.pending:
                    self._forget(msg_id)
        if not self.clients and not self._buffers:
            self._unsubscribe()
            self._on_empty(self)


class KernelHubs:
    """One hub per kernel with websockets (or a departed session's buffer); kernel events
    (`on_event`, subscribed by the mode) hold messages while a kernel is not READY and close
    the websockets of a kernel that is GONE."""

    def __init__(self) -> None:
        self._hubs: dict[str, KernelHub] = {}

    def hub(self, kernel: ManagedKernel) -> KernelHub:
        """The hub of `kernel`, created on first use."""
        for idle in [hub for hub in self._hubs.values() if not hub.clients]:
            idle.prune()
        hub = self._hubs.get(kernel.id)
        if hub is None:
            hub = self._hubs[kernel.id] = KernelHub(kernel.connection, self._drop)
            hub.hold(not kernel.is_ready)
        return hub

    def on_event(self, event: KernelEvent) -> None:
        """Hold client messages to a kernel while it starts or restarts; close its websockets
        once it is gone (shut down, culled, or dead)."""
        if event.new is KernelState.GONE:
            self.kernel_gone(event.kernel_id)
            return
        hub = self._hubs.get(event.kernel_id)
        if hub is not None and event.new is not KernelState.DEAD:
            hub.hold(event.new is not KernelState.READY)

    def _drop(self, hub: KernelHub) -> None:
        if self._hubs.get(hub.connection.kernel_id) is hub:
            del self._hubs[hub.connection.kernel_id]

    def kernel_gone(self, kernel_id: str) -> None:
        """Close the websockets of a kernel that was shut down or died."""
        hub = self._hubs.pop(kernel_id, None)
        if hub is not None:
            hub.close(1001, "The kernel is gone")

    def close_all(self) -> None:
        """Close every websocket (the gateway is stopping)."""
        for kernel_id in list(self._hubs):
            hub = self._hubs.pop(kernel_id)
            hub.close(1001, "The gateway is shutting down")
