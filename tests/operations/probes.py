"""Helpers of the operations tests: polling with a deadline, notebooks that block on a file."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
DEADLINE = 60.0


def poll(probe: Callable[[], T], done: Callable[[T], bool], what: str) -> T:
    """Call `probe` until `done` accepts its value; fail after DEADLINE seconds."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        try:
            value = probe()
        except OSError:
            time.sleep(0.05)
            continue
        if done(value):
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def waiting_cell(flag: Path) -> str:
    """Python that blocks until `flag` exists (the kernel polls; the test only creates it)."""
    return f"import os, time\nwhile not os.path.exists({str(flag)!r}):\n    time.sleep(0.02)"


def blocking_endpoint(folder: Path) -> str:
    """`GET /block`: marks `folder/running`, then waits for `folder/release`."""
    running = str(folder / "running")
    wait = waiting_cell(folder / "release")
    return f"# GET /block\nopen({running!r}, 'w').close()\n{wait}\nprint('released')"
