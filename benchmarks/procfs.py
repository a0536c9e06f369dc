"""Readings from /proc: a process's CPU time and RSS, its descendants, quiet waiting."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    """Return /proc/PID/stat fields after the command name (field 3 onwards)."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2 :].split()


def start_time(pid: int) -> str:
    """Return a process's start time in clock ticks since boot (tells a reused PID apart)."""
    return _stat_fields(pid)[19]


def cpu_seconds(pid: int) -> float:
    """Return utime+stime of one process (not its children), in seconds."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    """Return VmRSS of one process from /proc/PID/status, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise ProcessLookupError(pid)


def descendants(pid: int) -> list[int]:
    """Return the PIDs of every live descendant of pid."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parents[int(entry.name)] = int(_stat_fields(int(entry.name))[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        found.extend(children)
        frontier.extend(children)
    return found


def kernel_pids(pid: int) -> list[int]:
    """Return the descendants of a gateway that run ipykernel."""
    result = []
    for child in descendants(pid):
        with contextlib.suppress(OSError):
            if b"ipykernel" in Path(f"/proc/{child}/cmdline").read_bytes():
                result.append(child)
    return result


def tree_cpu_seconds(pid: int) -> float:
    """Return utime+stime summed over a process and its live descendants."""
    total = 0.0
    for member in [pid, *descendants(pid)]:
        with contextlib.suppress(OSError):
            total += cpu_seconds(member)
    return total


def wait_quiet(pid: int, busy: float = 0.05, window: float = 0.3, timeout: float = 20.0) -> None:
    """Wait until a gateway and its kernels use under busy cores over a window (pool filled)."""
    deadline = time.monotonic() + timeout
    before = tree_cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(window)
        after = tree_cpu_seconds(pid)
        if after - before < busy * window:
            return
        before = after
