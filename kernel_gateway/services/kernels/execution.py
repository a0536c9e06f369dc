"""Run code on a kernel and collect its outputs by parent msg_id.

The kernel runs shell requests in order, so several cells are sent at once (`execute`) and
their outputs told apart by the msg_id each answers; a cell is done when its execute_reply is in
and the kernel has reported itself idle for it (iopub and shell are separate sockets, so either
may come first). No polling, no sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ...errors import CellTimeout, KernelUnavailable, RunNotStarted
from .connection import KernelConnection
from .messages import KernelMessage, top_level_string


@dataclass(frozen=True)
class ExecutionResult:
    """What one execute_request produced."""

    status: str  # "ok" | "error" | "aborted"
    stdout: str = ""
    stderr: str = ""
    execute_result: dict[str, Any] | None = None
    display_data: tuple[dict[str, Any], ...] = ()
    error: tuple[str, str, tuple[str, ...]] | None = None
    user_expressions: dict[str, Any] = field(default_factory=dict)


OUTPUT_TYPES = frozenset({"stream", "display_data", "execute_result", "error"})


class OutputSink(Protocol):
    """Takes a request's outputs as they arrive (a streamed or size-bounded response).

    `collect` hands it every stream, display_data, execute_result and error message of the
    request, as the kernel sends them; streams are then not kept in the `Outputs`. Failing
    `stopped` with an exception ends the request at once: `collect` raises it.
    """

    stopped: asyncio.Future[None]
    live: bool  # a client reads the outputs as they arrive (an event stream, a chunked body)

    def output(self, message: KernelMessage) -> None: ...


@dataclass
class Outputs:
    """Outputs of one request as they arrive.

    Done once the kernel is idle for the request and, if `awaits_reply`, its execute_reply
    is in; a request answered on iopub only (a comm_msg) is done at idle, its comm messages
    kept in `comm_data`, and `session` says which kernel process answered it.
    """

    done: asyncio.Future[None]
    awaits_reply: bool = True
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    execute_result: dict[str, Any] | None = None
    display_data: list[dict[str, Any]] = field(default_factory=list)
    error: tuple[str, str, tuple[str, ...]] | None = None
    reply_status: str = ""
    user_expressions: dict[str, Any] = field(default_factory=dict)
    comm_data: list[dict[str, Any]] = field(default_factory=list)
    idle: bool = False
    session: str = ""  # the kernel session id in the idle status's header
    sink: OutputSink | None = None

    def add(self, message: KernelMessage) -> None:
        kind = message.msg_type
        if self.sink is not None and kind in OUTPUT_TYPES:
            self.sink.output(message)
            if kind == "stream":
                return
        if kind == "stream":
            content = message.content
            target = self.stderr if content.get("name") == "stderr" else self.stdout
            target.append(content.get("text", ""))
        elif kind == "execute_result":
            self.execute_result = message.content.get("data", {})
        elif kind == "display_data":
            self.display_data.append(message.content.get("data", {}))
        elif kind == "error":
            content = message.content
            trace = tuple(content.get("traceback", ()))
            self.error = (content.get("ename", ""), content.get("evalue", ""), trace)
        elif message.channel == "shell":  # the reply: execute_reply, kernel_info_reply, ...
            content = message.content
            self.reply_status = content.get("status", "") or "ok"
            self.user_expressions = content.get("user_expressions") or {}
            self._finish_if_complete()
        elif kind == "comm_msg":
            self.comm_data.append(message.content.get("data") or {})
        elif kind == "status" and message.content.get("execution_state") == "idle":
            self.idle = True
            self.session = top_level_string(message.parts[0], "session")
            self._finish_if_complete()

    def _finish_if_complete(self) -> None:
        """Done once the kernel is idle for the request and its reply is in."""
        replied = self.reply_status or not self.awaits_reply
        if self.idle and replied and not self.done.done():
            self.done.set_result(None)

    def result(self) -> ExecutionResult:
        status = "error" if self.error else (self.reply_status or "ok")
        return ExecutionResult(
            status=status,
            stdout="".join(self.stdout),
            stderr="".join(self.stderr),
            execute_result=self.execute_result,
            display_data=tuple(self.display_data),
            error=self.error,
            user_expressions=self.user_expressions,
        )


async def _all_done(
    pending: Sequence[Outputs], timeout: float | None, stopped: asyncio.Future[None] | None
) -> None:
    """Wait until every request is done; raise CellTimeout after `timeout` seconds, or what
    `stopped` fails with first."""
    gathered = asyncio.gather(*(outputs.done for outputs in pending))
    waits: set[asyncio.Future[Any]] = {gathered} if stopped is None else {gathered, stopped}
    done, _ = await asyncio.wait(waits, timeout=timeout or None, return_when="FIRST_COMPLETED")
    if gathered not in done:
        gathered.cancel()  # its outputs will never be read: no error left unretrieved
        gathered.add_done_callback(_retrieve)  # it ends with the CancelledError it was given
        if stopped is not None and stopped.done():
            stopped.result()  # raises why the sink stopped the request
        raise CellTimeout(f"The request took longer than {timeout} seconds")
    gathered.result()


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark a finished future's error as read (asyncio logs those nobody reads)."""
    if not future.cancelled():
        future.exception()


def execute_request(code: str, user_expressions: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The content of an execute_request for `code`, as the gateway runs cells."""
    return {
        "code": code,
        "silent": False,
        "store_history": False,
        "user_expressions": dict(user_expressions or {}),
        "allow_stdin": False,
        "stop_on_error": True,
    }


async def execute(
    connection: KernelConnection,
    codes: Sequence[str],
    timeout: float | None = None,
    user_expressions: Mapping[str, str] | None = None,
    sink: OutputSink | None = None,
) -> list[ExecutionResult]:
    """Run `codes` in order on one kernel and return each one's result.

    All requests are sent at once. The kernel evaluates `user_expressions` after each code
    that succeeds and returns them in its reply. `sink` takes the first code's outputs as
    they arrive. Raises what `collect` raises.
    """
    requests = [("execute_request", execute_request(code, user_expressions)) for code in codes]
    results = await collect(connection, requests, timeout, sink=sink)
    return [outputs.result() for outputs in results]


async def collect(
    connection: KernelConnection,
    requests: Sequence[tuple[str, dict[str, Any]]],
    timeout: float | None = None,
    awaits_reply: bool = True,
    sink: OutputSink | None = None,
) -> list[Outputs]:
    """Send shell `requests` (msg_type, content) at once; return each one's outputs.

    `sink` takes the first request's outputs as they arrive (the endpoint's own, when a
    ResponseInfo request follows it). Raises CellTimeout when they take longer than
    `timeout` seconds (None or 0: no limit), leaving the busy kernel to the caller;
    KernelUnavailable when the kernel dies, restarts or shuts down meanwhile
    (KernelQueueFull when it is not reading its messages); what `sink.stopped` fails with
    (RunNotStarted, nothing sent, when it failed before).
    """
    loop = asyncio.get_running_loop()
    pending = [Outputs(loop.create_future(), awaits_reply) for _ in requests]
    if sink is not None and pending:
        pending[0].sink = sink

    def fail(state: str) -> None:
        failure = KernelUnavailable(f"The kernel was {state} while running the request")
        for outputs in pending:
            if not outputs.done.done():
                outputs.done.set_exception(failure)

    def watch_for_death(message: KernelMessage) -> None:
        if message.msg_type == "shutdown_reply":  # a restart asked for: the kernel is leaving
            fail("shut down")
        elif message.msg_type == "status" and not message.parent_msg_id:
            state = message.content.get("execution_state")
            if state in ("dead", "restarting"):
                fail(state)

    if sink is not None and sink.stopped.done():  # stopped while it waited: send nothing
        raise RunNotStarted(str(sink.stopped.exception()))
    unsubscribe = connection.subscribe(watch_for_death)
    msg_ids: list[str] = []
    try:
        for (msg_type, content), outputs in zip(requests, pending, strict=True):
            msg_ids.append(connection.request("shell", msg_type, content, outputs.add))
        await _all_done(pending, timeout, sink.stopped if sink is not None else None)
    finally:
        unsubscribe()
        for msg_id in msg_ids:
            connection.forget(msg_id)
    return pending
