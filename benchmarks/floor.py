"""The floor: execute and kernel_info round trips straight to one ipykernel over ZeroMQ, with
no gateway.

The kernel is started by jupyter_client's KernelManager from OUR virtualenv (.venv, the
harness's own interpreter). The client is two raw ZeroMQ sockets (shell DEALER, iopub SUB)
plus jupyter_client's Session for signing: the least a gateway itself must do per message.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import IO, Any

import zmq
from jupyter_client.manager import KernelManager
from jupyter_client.session import Session

from benchmarks.clients import REQUEST_TIMEOUT
from benchmarks.servers import server_env


class FloorKernel:
    """One ipykernel and a minimal synchronous client; use as a context manager."""

    def __init__(self, log_path: Path) -> None:
        self._log_path = log_path
        self._log: IO[bytes] | None = None
        self._manager = KernelManager(kernel_name="python3")
        self._shell: zmq.Socket[Any] | None = None
        self._iopub: zmq.Socket[Any] | None = None
        self._poller = zmq.Poller()

    @property
    def session(self) -> Session:
        """The signing session shared with the kernel."""
        return self._manager.session

    @property
    def pid(self) -> int:
        """The kernel's process id (a local kernel)."""
        process = getattr(self._manager.provisioner, "process", None)
        if process is None:
            raise RuntimeError("the floor kernel is not running")
        return int(process.pid)

    def __enter__(self) -> FloorKernel:
        self._log = self._log_path.open("wb")
        self._manager.start_kernel(env=server_env("floor"), stdout=self._log, stderr=self._log)
        self._shell = self._manager.connect_shell(identity=uuid.uuid4().hex.encode())
        self._iopub = self._manager.connect_iopub()
        self._poller.register(self._shell, zmq.POLLIN)
        self._poller.register(self._iopub, zmq.POLLIN)
        self._wait_iopub_connected(timeout=60.0)
        return self

    def __exit__(self, *exc: object) -> None:
        for sock in (self._shell, self._iopub):
            if sock is not None:
                sock.close(linger=0)
        self._manager.shutdown_kernel(now=False)
        if self._log is not None:
            self._log.close()

    def _wait_iopub_connected(self, timeout: float) -> None:
        """Send kernel_info_request until an iopub message shows the SUB socket is joined."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.session.send(self._shell, "kernel_info_request", {})
            stop = time.monotonic() + 0.5
            while time.monotonic() < stop:
                for sock, _ in self._poller.poll(100):
                    self.session.recv(sock, mode=0)
                    if sock is self._iopub:
                        self._drain(0.2)
                        return
        raise TimeoutError("floor kernel's iopub never answered")

    def _drain(self, seconds: float) -> None:
        stop = time.monotonic() + seconds
        while time.monotonic() < stop:
            for sock, _ in self._poller.poll(20):
                self.session.recv(sock, mode=0)

    def kernel_info(self, timeout: float = REQUEST_TIMEOUT) -> float:
        """A bare kernel_info round trip: seconds from the request to its shell reply."""
        start = time.perf_counter()
        msg_id = self.session.send(self._shell, "kernel_info_request", {})["header"]["msg_id"]
        deadline = time.monotonic() + timeout
        while True:
            remaining_ms = int(max(0.0, deadline - time.monotonic()) * 1000)
            events = self._poller.poll(remaining_ms)
            if not events:
                raise TimeoutError("floor kernel_info timed out")
            for sock, _ in events:
                _, message = self.session.recv(sock, mode=0)
                if message is None or message["parent_header"].get("msg_id") != msg_id:
                    continue
                if message["header"]["msg_type"] == "kernel_info_reply":
                    return time.perf_counter() - start

    def execute(self, code: str, timeout: float = REQUEST_TIMEOUT) -> float:
        """Run code; return seconds until both execute_reply and status idle arrived."""
        content = {"code": code, "silent": False, "store_history": False, "allow_stdin": False}
        start = time.perf_counter()
        sent = self.session.send(self._shell, "execute_request", content)
        msg_id = sent["header"]["msg_id"]
        missing = {"execute_reply", "idle"}
        deadline = time.monotonic() + timeout
        while missing:
            remaining_ms = int(max(0.0, deadline - time.monotonic()) * 1000)
            events = self._poller.poll(remaining_ms)
            if not events:
                raise TimeoutError(f"floor execute of {code!r} timed out")
            for sock, _ in events:
                _, message = self.session.recv(sock, mode=0)
                if message is None or message["parent_header"].get("msg_id") != msg_id:
                    continue
                kind = message["header"]["msg_type"]
                if kind == "status":
                    kind = message["content"]["execution_state"]
                missing.discard(kind)
        return time.perf_counter() - start
