"""A kernel's states and the one event announced for each change of state.

Every kernel the manager starts is a `ManagedKernel` (kernel.py) whose state moves along

    STARTING -> READY <-> RESTARTING
        any state -> DEAD -> GONE, or any state -> GONE

and each move is announced once, as a `KernelEvent`, to the listeners subscribed on the
manager's `events`: websocket hubs, sessions, pools, the culler's log, later metrics and apps.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

log = logging.getLogger(__name__)


class KernelState(str, Enum):
    """Where a kernel is in its life."""

    STARTING = "starting"  # its process runs; it is not yet answering and seeded
    READY = "ready"  # answering, seeded: clients' messages go through
    RESTARTING = "restarting"  # a new process is on its way, to be seeded again
    DEAD = "dead"  # its process died and is not restarted
    GONE = "gone"  # shut down (asked for, culled, after death, or a failed start)


class Reason(str, Enum):
    """Why a kernel changed state."""

    LAUNCH = "launch"  # its first start
    AUTO = "auto"  # an automatic restart after its process died
    MANUAL = "manual"  # a restart someone asked for
    DIED = "died"  # its process died (and is not restarted)
    FAILED = "failed"  # its start failed: it never became ready
    SHUTDOWN = "shutdown"  # shut down on request (a client, a pool, the gateway's exit)
    CULLED = "culled"  # shut down for being idle too long


@dataclass(frozen=True)
class KernelEvent:
    """One change of a kernel's state.

    `duration` is set on the moves to READY: the seconds since the launch (reason LAUNCH)
    or the restart (AUTO, MANUAL) began, so a start's or restart's time is derivable.
    """

    kernel_id: str
    kernel_name: str
    old: KernelState | None
    new: KernelState
    reason: Reason
    duration: float | None = None
    at: float = field(default_factory=time.time)


Listener = Callable[[KernelEvent], None]


class KernelEvents:
    """Listeners of kernel events; `subscribe` returns the function that unsubscribes."""

    def __init__(self) -> None:
        self._listeners: dict[int, Listener] = {}
        self._next = 0

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` with every event from now on, in the order they happen."""
        key = self._next
        self._next += 1
        self._listeners[key] = listener

        def unsubscribe() -> None:
            self._listeners.pop(key, None)

        return unsubscribe

    def announce(self, event: KernelEvent) -> None:
        """Tell every listener; one that raises is logged and the others still hear it."""
        for listener in list(self._listeners.values()):
            try:
                listener(event)
            except Exception:
                log.exception("A kernel event listener failed on %s", event)
