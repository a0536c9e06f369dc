"""StreamWriter: a streamed body's pieces sent in order, one flush at a time.

Kernel outputs arrive faster than some clients read. The writer hands the connection one
piece (or the pieces queued meanwhile, joined) and waits until the socket has taken it
before the next; what waits behind it stays in the writer's own queue (tornado would keep
it all), counted. When an output comes while more than `stream_buffer_size` bytes wait (so
one output larger than that still goes to a reader that keeps up), or past
`max_response_size` bytes in all, the writer stops the run (the caller interrupts the cell)
and sends nothing more. What the gateway holds for one stream is thus at most the flush
under way, the buffer, and one output.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tornado.iostream import StreamClosedError

from ...errors import ResponseTooLarge, RunStopped

MiB = 1024 * 1024
SLICE = MiB  # a large piece goes out in slices: tornado copies each into its chunk

Piece = bytes | memoryview
Send = Callable[[Piece], Awaitable[None]]  # write one piece and flush it to the socket
Stop = Callable[[RunStopped], None]  # end the run with this error


@dataclass(frozen=True)
class StreamSettings:
    """How large a response may grow and how much a slow reader may leave unsent."""

    max_response_size: int = 100 * MiB
    stream_buffer_size: int = 16 * MiB
    ping_interval: float = 15.0  # seconds of silence before an event stream's ping


def too_large(limit: int) -> ResponseTooLarge:
    """The error of a response past max_response_size."""
    return ResponseTooLarge(f"The response is larger than max_response_size ({limit} bytes)")


class StreamWriter:
    """Sends pushed pieces through `send`, in order, awaiting each flush before the next."""

    def __init__(
        self, send: Send, stop: Stop, settings: StreamSettings, ping: bytes | None = None
    ) -> None:
        self.send = send
        self.stop = stop
        self.settings = settings
        self.ping = ping  # sent after ping_interval of silence (None: never)
        self.queue: deque[Piece] = deque()
        self.unsent = 0  # queued behind the flush under way
        self.pushed = 0  # every byte of the body so far, pings aside
        self.sent = 0  # bytes handed to the connection, pings included
        self.broken = False  # stopped: nothing more is sent
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start sending (the first flush also sends the headers)."""
        self._task = asyncio.ensure_future(self._run())

    def push(self, *pieces: Piece) -> None:
        """Queue the pieces of one output; stop the run when a limit is passed."""
        size = sum(len(piece) for piece in pieces)
        if self.broken or not size:
            return
        self.pushed += size
        limit, buffer = self.settings.max_response_size, self.settings.stream_buffer_size
        if self.pushed > limit:
            self.fail(too_large(limit))
        elif self.unsent > buffer:  # the reader is behind by more than the buffer
            self.fail(RunStopped(f"The client read too slowly: over {buffer} bytes unsent"))
        else:
            self.unsent += size
            self.queue.extend(piece for piece in pieces if piece)
            self._wake.set()

    def fail(self, error: RunStopped) -> None:
        """Send nothing more, drop what is queued, and stop the run."""
        self.broken = True
        self.queue.clear()
        self._wake.set()
        self.stop(error)

    async def _run(self) -> None:
        interval = (self.settings.ping_interval if self.ping else 0) or None
        while not self.broken:
            if not self.queue:
                if self._closing:
                    return
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), interval)
                except asyncio.TimeoutError:
                    await self._send(self.ping or b"")
                continue
            data = self.queue.popleft() if len(self.queue[0]) >= SLICE else self._take_small()
            self.unsent -= len(data)
            view = memoryview(data)
            for start in range(0, len(view), SLICE):
                await self._send(view[start : start + SLICE])
                if self.broken:
                    return

    async def _send(self, data: Piece) -> None:
        self.sent += len(data)
        try:
            await self.send(data)
        except StreamClosedError:
            self.fail(RunStopped("The client went away"))

    def _take_small(self) -> bytes:
        """The small pieces at the head of the queue, joined (at most about one slice)."""
        taken: list[Piece] = []
        size = 0
        while self.queue and size < SLICE and len(self.queue[0]) < SLICE:
            piece = self.queue.popleft()
            taken.append(piece)
            size += len(piece)
        return b"".join(taken)

    async def close(self) -> None:
        """Send what is queued and stop; when broken, stop at once (a flush under way is
        abandoned: its client is gone or not reading)."""
        if self._task is None:
            return
        if self.broken:
            self._task.cancel()
        self._closing = True
        self._wake.set()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
