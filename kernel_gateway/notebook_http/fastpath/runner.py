"""The gateway side of the fast path: install the request runner in a kernel, then send it
one comm_msg per request and collect the outputs as an execute would.

The runner (kernel_runner.py, sent as source) answers on iopub with the request's parent
header, so stdout, display data, execute_result and errors come back exactly as they do for
an execute_request; the kernel's idle status for the comm_msg says the request is done. A
request that went well says nothing more; one from a kernel process other than the one the
runner went into (its session id differs) found no runner.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from ...services.kernels.connection import KernelConnection
from ...services.kernels.execution import (
    ExecutionResult,
    Outputs,
    OutputSink,
    collect,
    execute,
)

TARGET_NAME = "kernel_gateway.fastpath"
RUNNER_VERSION = "3"
INSTALL_TIMEOUT = 30.0
RUNNER_SOURCE = Path(__file__).with_name("kernel_runner.py").read_text(encoding="utf-8")
INSTALL_CODE = (
    f"{RUNNER_SOURCE}\n"
    f"__kernel_gateway_install_fastpath__({TARGET_NAME!r}, {RUNNER_VERSION!r})\n"
    "del __kernel_gateway_install_fastpath__\n"
)
log = logging.getLogger(__name__)

Results = tuple[ExecutionResult, ExecutionResult | None]


def is_ipython(kernel_info: dict[str, Any]) -> bool:
    """Whether a kernel_info reply says IPython (language python, implementation ipython)."""
    language = kernel_info.get("language_info", {}).get("name", "")
    return str(language).lower() == "python" and kernel_info.get("implementation") == "ipython"


def info_result(reply: dict[str, Any]) -> ExecutionResult:
    """The ResponseInfo code's result, as the runner reported it."""
    if reply.get("status") == "ok":
        return ExecutionResult(status="ok", stdout=str(reply.get("stdout", "")))
    trace = tuple(str(line) for line in reply.get("traceback", ()))
    error = (str(reply.get("ename", "")), str(reply.get("evalue", "")), trace)
    return ExecutionResult(status="error", error=error)


def reply_of(outputs: Outputs) -> dict[str, Any]:
    """The runner's reply to a request; none means it went well."""
    return outputs.comm_data[-1] if outputs.comm_data else {"status": "ok"}


class FastRunner:
    """The request runner installed in one kernel, spoken to over one comm."""

    def __init__(self, connection: KernelConnection, comm_id: str, session: str) -> None:
        self.connection = connection
        self.kid = connection.kernel_id
        self.comm_id = comm_id
        self.session = session  # the session id of the kernel process the runner is in
        self.known: set[str] = set()  # keys whose code the runner has compiled
        self.unprepared: set[str] = set()  # keys it can't run (the execute path runs them)
        self.lost = False  # no reply came: the kernel has no runner (any more)

    def serves(self, key: str) -> bool:
        """Whether requests of `key` may be sent here."""
        return not self.lost and key not in self.unprepared

    async def run(
        self,
        key: str,
        source: str,
        info: str | None,
        request: str,
        timeout: float,
        sink: OutputSink | None = None,
    ) -> Results | None:
        """Run endpoint `key` (its `source` and ResponseInfo `info`) with REQUEST = `request`;
        `sink` takes its outputs as they arrive.

        None when the runner can't run this code (the caller uses the execute path). Raises
        what `collect` raises: CellTimeout, KernelUnavailable, KernelQueueFull.
        """
        data: dict[str, Any] = {"key": key, "request": request}
        if sink is None or not sink.live:  # output is read at the end: the kernel may hold it
            data["hold"] = True
        if key not in self.known:
            data.update(source=source, info=info)
        outputs = await self.send(data, timeout, sink)
        if reply_of(outputs).get("status") == "unknown":  # it lost its code: send it again
            data.update(source=source, info=info)
            outputs = await self.send(data, timeout, sink)
        return self.results(key, outputs, reply_of(outputs))

    def results(self, key: str, outputs: Outputs, reply: dict[str, Any]) -> Results | None:
        """The request's results from its outputs and the runner's reply; None when the
        execute path must run it (the runner can't compile it, or is gone)."""
        status = reply.get("status")
        if outputs.session != self.session:
            log.warning("Kernel %s has no request runner: the execute path serves it", self.kid)
            self.lost = True
            return None
        if status == "unprepared":
            log.info("Endpoint %s takes the execute path: the runner can't compile it", key)
            self.unprepared.add(key)
            return None
        self.known.add(key)
        result = outputs.result()
        if status == "failed":
            failure = ("FastPathError", str(reply.get("message", "")), ())
            return ExecutionResult(status="error", error=failure), None
        if status == "error":
            return replace(result, status="error"), None
        if "info" in reply:
            return result, info_result(reply["info"])
        return result, None

    async def send(
        self, data: dict[str, Any], timeout: float, sink: OutputSink | None = None
    ) -> Outputs:
        """One comm_msg to the runner; its outputs once the kernel is idle for it."""
        content = {"comm_id": self.comm_id, "data": data}
        request = [("comm_msg", content)]
        [outputs] = await collect(self.connection, request, timeout, False, sink)
        return outputs


async def install(connection: KernelConnection) -> FastRunner | None:
    """Install the request runner in an IPython kernel; None if the kernel isn't one or the
    runner did not say it is ready (the caller then uses the execute path)."""
    if not is_ipython(connection.kernel_info):
        return None
    comm_id = uuid.uuid4().hex
    opening = {"comm_id": comm_id, "target_name": TARGET_NAME, "data": {}}
    [result] = await execute(connection, [INSTALL_CODE], INSTALL_TIMEOUT)
    if result.error:
        ename, evalue, _ = result.error
        kernel_id = connection.kernel_id
        log.warning("Kernel %s: the fast path runner failed: %s: %s", kernel_id, ename, evalue)
        return None
    [opened] = await collect(connection, [("comm_open", opening)], INSTALL_TIMEOUT, False)
    if not any(reply.get("status") == "ready" for reply in opened.comm_data):
        log.warning("Kernel %s: the fast path runner did not answer", connection.kernel_id)
        return None
    return FastRunner(connection, comm_id, opened.session)
