"""SessionManager: sessions kept in memory, each bound to a kernel of the kernel manager.

Models follow jupyter_server (`{"id", "path", "name", "type", "kernel"}`, the kernel being the
kernel manager's model) plus the deprecated `notebook: {"path", "name"}` that older clients and
jupyter-kernel-gateway 3 read. A session whose kernel has gone (shut down, culled, dead) is
dropped when the kernel's GONE event is announced.
"""

from __future__ import annotations

import asyncio
import uuid
from contextlib import suppress
from typing import Any

from ...errors import BadRequest, NotFound, UnknownKernel, quoted
from ..kernels.events import KernelEvent, KernelState
from ..kernels.manager import MappingKernelManager
from .model import NewSession, SessionChanges, SessionRecord


class UnknownSession(NotFound):
    """No session has that id (or its kernel has gone)."""

    def __init__(self, session_id: str) -> None:
        super().__init__(f"Session not found: {quoted(session_id)}")
        self.session_id = session_id


class SessionManager:
    """Create, read, update and delete sessions; the REST handlers call it per request."""

    def __init__(self, kernel_manager: MappingKernelManager) -> None:
        self.kernel_manager = kernel_manager
        self._records: dict[str, SessionRecord] = {}
        self._creating: dict[str, asyncio.Future[dict[str, Any]]] = {}
        kernel_manager.events.subscribe(self._on_event)

    def _on_event(self, event: KernelEvent) -> None:
        """Drop the sessions of a kernel that is gone (shut down, culled, or dead)."""
        if event.new is KernelState.GONE:
            for record in list(self._records.values()):
                if record.kernel_id == event.kernel_id:
                    self._records.pop(record.id, None)

    async def create(self, request: NewSession) -> dict[str, Any]:
        """Return the session for `request.path`, creating it (and its kernel) if needed.

        Concurrent requests for one path share one creation. An existing kernel is reused when
        `request.kernel_id` names one. Raises UnknownKernel
        for an unknown kernel id, and whatever `start_kernel` raises (UnknownKernelSpec,
        KernelLimitReached, ...).
        """
        existing = self._find_by_path(request.path)
        if existing is not None:
            return existing
        if request.path in self._creating:
            return await asyncio.shield(self._creating[request.path])
        creating = asyncio.ensure_future(self._create(request))
        self._creating[request.path] = creating
        try:
            return await asyncio.shield(creating)
        finally:
            self._creating.pop(request.path, None)

    async def _create(self, request: NewSession) -> dict[str, Any]:
        if request.kernel_id is not None:
            self.kernel_manager.kernel_model(request.kernel_id)
            kernel_id = request.kernel_id
        else:
            kernel_id = await self._start_kernel(request.kernel_name, request.path)
        record = SessionRecord(
            id=str(uuid.uuid4()),
            path=request.path,
            name=request.name,
            type=request.type,
            kernel_id=kernel_id,
        )
        self._records[record.id] = record
        return self.get(record.id)

    def get(self, session_id: str) -> dict[str, Any]:
        """The session's model; raises UnknownSession."""
        record = self._records.get(session_id)
        model = self._model(record) if record is not None else None
        if model is None:
            raise UnknownSession(session_id)
        return model

    def list(self) -> list[dict[str, Any]]:
        """Models of every session whose kernel is still there."""
        models = (self._model(record) for record in list(self._records.values()))
        return [model for model in models if model is not None]

    async def update(self, session_id: str, changes: SessionChanges) -> dict[str, Any]:
        """Apply a PATCH: rename, retype, or move the session to another kernel.

        `kernel_id` moves it to a running kernel (BadRequest if unknown); `kernel_name` starts a
        new kernel of that spec. The previous kernel is shut down unless another session uses it.
        """
        record = self._records.get(session_id)
        if record is None or self._model(record) is None:
            raise UnknownSession(session_id)
        kernel_id = record.kernel_id
        if changes.kernel_id is not None:
            try:
                self.kernel_manager.kernel_model(changes.kernel_id)
            except UnknownKernel as err:
                raise BadRequest(f"No such kernel: {changes.kernel_id}") from err
            kernel_id = changes.kernel_id
        elif changes.kernel_name is not None:
            kernel_id = await self._start_kernel(changes.kernel_name, changes.path or record.path)
        updated = SessionRecord(
            id=record.id,
            path=record.path if changes.path is None else changes.path,
            name=record.name if changes.name is None else changes.name,
            type=record.type if changes.type is None else changes.type,
            kernel_id=kernel_id,
        )
        self._records[session_id] = updated
        if kernel_id != record.kernel_id:
            await self._release_kernel(record.kernel_id)
        return self.get(session_id)

    async def delete(self, session_id: str) -> None:
        """Forget a session and shut its kernel down (unless another session uses it)."""
        record = self._records.pop(session_id, None)
        if record is None:
            raise UnknownSession(session_id)
        await self._release_kernel(record.kernel_id)

    async def _start_kernel(self, kernel_name: str | None, path: str) -> str:
        """Start a session's kernel, telling it its session name as jupyter_server does."""
        env = {"JPY_SESSION_NAME": path} if path else {}
        return await self.kernel_manager.start_kernel(kernel_name=kernel_name, env=env)

    async def _release_kernel(self, kernel_id: str) -> None:
        """Shut a kernel down once no session refers to it; a gone kernel is fine."""
        if any(record.kernel_id == kernel_id for record in self._records.values()):
            return
        with suppress(UnknownKernel):
            await self.kernel_manager.shutdown_kernel(kernel_id)

    def _find_by_path(self, path: str) -> dict[str, Any] | None:
        for record in list(self._records.values()):
            if record.path == path:
                model = self._model(record)
                if model is not None:
                    return model
        return None

    def _model(self, record: SessionRecord) -> dict[str, Any] | None:
        """The record's model, or None (and the record dropped) when its kernel has gone."""
        try:
            kernel = self.kernel_manager.kernel_model(record.kernel_id)
        except UnknownKernel:
            self._records.pop(record.id, None)
            return None
        return {
            "id": record.id,
            "path": record.path,
            "name": record.name,
            "type": record.type,
            "kernel": kernel,
            "notebook": {"path": record.path, "name": record.name},
        }
