"""Helper processes of the tests (haproxy, sshd): stopped the same way everywhere."""

from __future__ import annotations

import subprocess


def stop_process(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; waits until the process is gone."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
