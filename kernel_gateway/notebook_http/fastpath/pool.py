"""FastPath: the request runners of one kernel pool, installed as the pool seeds its kernels.

The pool calls `prepare` after it starts, restarts or replaces a kernel (the runner is part of
seeding); a request asks `run` first, which answers None when the execute path must serve it:
the fast path is off, the kernel isn't IPython, installing failed, or the runner can't compile
the endpoint's code.
"""

from __future__ import annotations

import logging

from ...errors import CellTimeout, KernelQueueFull, KernelUnavailable
from ...services.kernels.connection import KernelConnection
from ...services.kernels.execution import OutputSink
from ..endpoints import Endpoint
from ..request import request_assignment, request_value, with_request
from ..runner import run_endpoint
from ..version import EndpointSettings
from .runner import FastRunner, Results, install

log = logging.getLogger(__name__)


def endpoint_key(endpoint: Endpoint) -> str:
    """The name the runner knows an endpoint's code by (unique within one notebook)."""
    return f"{endpoint.cell_index} {endpoint.method} {endpoint.path}"


class FastPath:
    """The runners installed in one pool's kernels, by kernel id."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.runners: dict[str, FastRunner] = {}
        self.prepared = 0  # kernels prepared so far, with or without a runner

    async def prepare(self, connection: KernelConnection) -> None:
        """Install a runner in a freshly seeded kernel (replacing what it had before)."""
        self.runners.pop(connection.kernel_id, None)
        self.prepared += 1
        if not self.enabled:
            return
        try:
            runner = await install(connection)
        except (CellTimeout, KernelQueueFull, KernelUnavailable) as err:
            log.warning("Kernel %s: no request runner: %s", connection.kernel_id, err)
            return
        if runner is not None:
            self.runners[connection.kernel_id] = runner

    def forget(self, kernel_id: str) -> None:
        """A kernel left the pool."""
        self.runners.pop(kernel_id, None)

    def path_name(self) -> str:
        """Which path the pool's requests take, for the start-up log."""
        if not self.enabled:
            return "the execute path (fast_path is off)"
        if not self.runners:
            return "the execute path (no IPython kernel took the request runner)"
        if len(self.runners) < self.prepared:
            return f"the fast path on {len(self.runners)} of {self.prepared} kernels"
        return "the fast path (a request runner in each IPython kernel)"

    async def run(
        self,
        kernel: KernelConnection,
        endpoint: Endpoint,
        request_json: str,
        timeout: float,
        sink: OutputSink | None = None,
    ) -> Results | None:
        """Run an endpoint request on `kernel`'s runner; None: the execute path must run it.

        Raises what the runner raises: CellTimeout, KernelUnavailable, KernelQueueFull.
        """
        runner = self.runners.get(kernel.kernel_id)
        key = endpoint_key(endpoint)
        if runner is None or not runner.serves(key):
            return None
        request = request_value(request_json)
        info = endpoint.response_info
        return await runner.run(key, endpoint.source, info, request, timeout, sink)

    async def serve(
        self,
        kernel: KernelConnection,
        endpoint: Endpoint,
        request_json: str,
        settings: EndpointSettings,
        sink: OutputSink | None = None,
    ) -> Results:
        """Run an endpoint request on `kernel`: on its runner, else as an execute_request of
        the endpoint's code after the REQUEST assignment (on the line of its annotation, so
        that errors give the lines of the user's cell). `sink` takes the outputs of the
        endpoint's code as they arrive."""
        timeout = settings.request_timeout
        results = await self.run(kernel, endpoint, request_json, timeout, sink)
        if results is not None:
            return results
        assignment = request_assignment(request_json, settings.language)
        code = with_request(assignment, endpoint.source, settings.comment_prefix)
        info, inline = endpoint.response_info, settings.inline_response_info
        return await run_endpoint(kernel, code, info, timeout, inline, sink)
