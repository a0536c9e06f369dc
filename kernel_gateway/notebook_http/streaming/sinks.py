"""The sinks that take an endpoint cell's outputs as the kernel sends them.

`collect` (services/kernels/execution.py) hands each output message to the request's sink;
a sink ends the run early by failing its `stopped` future (the pool then interrupts the
kernel before it serves again).

- `BufferedBody`: the stdout of an ordinary response, kept as the bytes it is sent as (one
  copy of the body, no joining), up to max_response_size;
- `EventSink`: every output as a Server-Sent Event, written at once;
- `ChunkSink`: the stdout of a streamed endpoint, each piece written at once as a chunk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ...errors import RunStopped
from ...services.kernels.messages import KernelMessage, stream_output
from .events import PING, output_event
from .writer import SLICE, Send, StreamSettings, StreamWriter, too_large


def stdout_bytes(message: KernelMessage) -> bytes | None:
    """The text of a stdout stream message, UTF-8 encoded; None for any other message."""
    if message.msg_type != "stream":
        return None
    name, text = stream_output(message)
    return text if name == "stdout" else None


class RunSink:
    """What every sink has: the future that ends the run early."""

    live = False  # a client reads the outputs as they arrive

    def __init__(self) -> None:
        self.stopped: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def stop(self, error: RunStopped) -> None:
        """End the run with `error` (the first reason wins)."""
        if not self.stopped.done():
            self.stopped.set_exception(error)
            self.stopped.exception()  # the run may be over: nobody else may read it

    def output(self, message: KernelMessage) -> None:
        """Take one output message of the running cell."""


class BufferedBody(RunSink):
    """stdout of a buffered response, up to `limit` bytes in all: large pieces as they came
    (the connection takes them without a copy), small ones gathered into blocks of about
    `block` bytes (a response of many small prints is a few writes, not many)."""

    def __init__(self, limit: int, block: int = SLICE) -> None:
        super().__init__()
        self.limit = limit
        self.block = block
        self._pieces: list[bytes] = []
        self._small = bytearray()
        self.size = 0

    def output(self, message: KernelMessage) -> None:
        data = stdout_bytes(message)
        if not data or self.stopped.done():
            return
        self.size += len(data)
        if self.size > self.limit:
            self._pieces.clear()
            self._small = bytearray()
            self.stop(too_large(self.limit))
        elif len(data) >= self.block:
            self._close_block()
            self._pieces.append(data)
        else:
            self._small += data
            if len(self._small) >= self.block:
                self._close_block()

    def _close_block(self) -> None:
        if self._small:
            self._pieces.append(bytes(self._small))
            self._small = bytearray()

    def take(self) -> list[bytes]:
        """The body's pieces, in order; the sink keeps none of them."""
        self._close_block()
        pieces, self._pieces = self._pieces, []
        return pieces


class EventSink(RunSink):
    """Each output as an event, pushed to a writer that pings while the cell is silent."""

    live = True

    def __init__(self, send: Send, settings: StreamSettings) -> None:
        super().__init__()
        self.writer = StreamWriter(send, self.stop, settings, PING)

    def output(self, message: KernelMessage) -> None:
        self.writer.push(*output_event(message))  # one output: its pieces pass a limit together


class ChunkSink(RunSink):
    """stdout pieces written as they come; `commit` sets status and headers before the
    first one (the first flush sends them)."""

    live = True

    def __init__(self, send: Send, settings: StreamSettings, commit: Callable[[], None]) -> None:
        super().__init__()
        self.writer = StreamWriter(send, self.stop, settings)
        self.commit = commit
        self.started = False
        self.discard = False  # the status has no body (204, 304): stdout is not sent

    def output(self, message: KernelMessage) -> None:
        data = stdout_bytes(message)
        if not data or self.discard:
            return
        if not self.started:
            self.started = True
            self.commit()
            self.writer.start()
        self.writer.push(data)
