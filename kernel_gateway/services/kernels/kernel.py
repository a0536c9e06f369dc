"""ManagedKernel: one kernel the gateway started, with its connection, state and launch settings.

The manager creates one per kernel once its process runs, and changes its state only through
`transition`, which announces the change as one `KernelEvent`. Whoever holds a ManagedKernel
reads its state and connection; nobody keeps a parallel record of them.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from ...errors import KernelUnavailable
from .connection import KernelConnection
from .events import KernelEvent, KernelEvents, KernelState, Reason
from .messages import iso_time, status_message

if TYPE_CHECKING:
    from .launch import GatewayKernelManager, LaunchSpec

SETTLED = frozenset({KernelState.READY, KernelState.DEAD, KernelState.GONE})
# the execution_state a kernel's model reports while it is not READY
MODEL_STATES = {
    KernelState.STARTING: "starting",
    KernelState.RESTARTING: "restarting",
    KernelState.DEAD: "dead",
    KernelState.GONE: "dead",
}


class ManagedKernel:
    """A kernel of the manager: its jupyter_client manager, shared connection and state.

    `handed_out` is True once it belongs to a client or a borrow-and-return pool (it then
    counts against max_kernels and operations by id find it); a warm kernel waiting in the
    warm pool is not handed out.
    """

    def __init__(
        self,
        kernel_id: str,
        spec: LaunchSpec,
        km: GatewayKernelManager,
        events: KernelEvents,
        launched_at: float,
    ) -> None:
        self.id = kernel_id
        self.spec = spec
        self.km = km
        self.connection = KernelConnection(kernel_id, km)
        self.handed_out = False
        self.restarts = 0  # how many times it was restarted (automatically or not)
        self.launched_at = launched_at  # time.monotonic() when its launch began
        self.state: KernelState | None = None
        self._events = events
        self._since = launched_at  # when the current start or restart began
        self._settled = asyncio.Event()

    @property
    def name(self) -> str:
        """The kernel spec name it was started with."""
        return self.spec.kernel_name

    @property
    def seed_cells(self) -> tuple[str, ...]:
        return self.spec.seed_cells

    def transition(self, new: KernelState, reason: Reason) -> None:
        """Move to `new` and announce it; nothing moves a GONE kernel, and a move to the
        current state is no move."""
        old = self.state
        if old is KernelState.GONE or old is new:
            return
        now = time.monotonic()
        if new is KernelState.RESTARTING:
            self._since = now
            self.restarts += 1
        duration = now - self._since if new is KernelState.READY else None
        self.state = new
        if new in SETTLED:
            self._settled.set()
        else:
            self._settled.clear()
        if new is KernelState.READY:
            self.connection.execution_state = "idle"  # the kernel's own statuses follow
        self._events.announce(KernelEvent(self.id, self.name, old, new, reason, duration))

    @property
    def is_ready(self) -> bool:
        return self.state is KernelState.READY

    @property
    def is_gone(self) -> bool:
        return self.state in (KernelState.DEAD, KernelState.GONE)

    @property
    def is_settling(self) -> bool:
        """Starting or restarting: its process can't take a signal or client messages yet."""
        return self.state in (KernelState.STARTING, KernelState.RESTARTING)

    async def settled(self, timeout: float) -> None:
        """Wait until it is READY (or DEAD or GONE); TimeoutError after `timeout` s."""
        try:
            await asyncio.wait_for(self._settled.wait(), timeout)
        except asyncio.TimeoutError as err:  # not yet the builtin one on Python 3.10
            raise TimeoutError(f"kernel {self.id} did not settle in {timeout}s") from err

    async def ready(self, timeout: float) -> None:
        """Wait until it is READY; KernelUnavailable if it died or went away instead."""
        await self.settled(timeout)
        if not self.is_ready:
            raise KernelUnavailable(f"Kernel {self.id} is gone")

    def tell_clients(self, execution_state: str) -> None:
        """Send the kernel's subscribers a status message made up by the gateway."""
        self.connection.execution_state = execution_state
        self.connection.broadcast(status_message(execution_state, self.connection.session_id))

    @property
    def last_activity(self) -> float:
        """When a message last went to or came from it (time.time())."""
        return self.connection.last_activity

    @property
    def clients(self) -> int:
        """How many websockets are attached to it."""
        return self.connection.clients

    @property
    def execution_state(self) -> str:
        """What its model reports: the kernel's own status once READY, else the state's."""
        if self.state is KernelState.READY:
            return self.connection.execution_state
        return MODEL_STATES.get(self.state or KernelState.STARTING, "starting")

    def model(self) -> dict[str, Any]:
        """Its model as Jupyter servers report it."""
        connection = self.connection
        return {
            "id": self.id,
            "name": self.name,
            "last_activity": iso_time(connection.last_activity),
            "execution_state": self.execution_state,
            "connections": connection.clients,
        }
