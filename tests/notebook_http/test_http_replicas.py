"""notebook-http replicas behind Debian's haproxy: two gateways on one notebook serve one API,
and a replica stopped with SIGTERM loses no request: it answers 503 on /readyz from the start of
its grace period, so haproxy takes it out of rotation, and it finishes what it has."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest
from conftest import GatewayFactory, write_notebook
from haproxy_lb import RequestLoop, start_haproxy

DEADLINE = 30.0

pytestmark = pytest.mark.slow


def replica_args(root: Path) -> tuple[str, ...]:
    """A notebook with a quick endpoint, and a slow one that marks the moment it starts."""
    mark = root / "slow-started"
    notebook = write_notebook(
        root / "replica.ipynb",
        "import pathlib, time",
        "# GET /hello\nprint('hello')",
        f"# GET /slow\npathlib.Path({str(mark)!r}).touch()\ntime.sleep(3)\nprint('done')",
    )
    return ("--api=notebook-http", f"--seed_uri={notebook}", "--prespawn_count=2")


def wait_for_file(path: Path) -> None:
    deadline = time.monotonic() + DEADLINE
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def test_a_replica_stopped_with_sigterm_loses_no_request_and_takes_traffic_again(
    gateway_factory: GatewayFactory, lb_dir: Path
) -> None:
    args = replica_args(lb_dir)
    one = gateway_factory(*args, ready_path="/hello")
    two = gateway_factory(*args, ready_path="/hello")
    proxy = start_haproxy(lb_dir, {"one": one.port, "two": two.port})
    slow: list[int] = []
    in_flight = threading.Thread(target=lambda: slow.append(one.request("GET", "/slow")[0]))
    try:
        proxy.wait_for_states({"one": "UP", "two": "UP"})
        with RequestLoop(proxy.url + "/hello") as loop:
            loop.until(lambda answers: {"one", "two"} <= {a.replica for a in answers})
            in_flight.start()
            wait_for_file(lb_dir / "slow-started")
            one.process.send_signal(signal.SIGTERM)
            proxy.wait_for_states({"one": "DOWN"})
            drained_while_running = one.process.poll() is None  # still finishing /slow
            assert one.process.wait(60) == 0
            in_flight.join(DEADLINE)
            stopped_at = len(loop.answers)
            again = gateway_factory(*args, port=one.port, ready_path="/hello")
            assert again.port == one.port
            proxy.wait_for_states({"one": "UP"})
            loop.until(lambda answers: "one" in {a.replica for a in answers[stopped_at:]})
        assert loop.failures() == []
        assert slow == [200]  # the request in flight at SIGTERM was finished
        assert drained_while_running
    finally:
        proxy.stop()
