"""notebook-http replicas behind Debian's haproxy: two gateways on one notebook serve one API,
and a replica stopped with SIGTERM loses no request (it answers 503 on /readyz from the start
of its grace period, so haproxy takes it out of rotation, and finishes what it has)."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

import pytest
from conftest import EXAMPLES, GatewayFactory
from haproxy_lb import HAProxyUnavailable, RequestLoop, find_haproxy, start_haproxy

HELLO = EXAMPLES / "hello.ipynb"
ARGS = ("--api=notebook-http", f"--seed_uri={HELLO}", "--prespawn_count=1")

pytestmark = pytest.mark.slow


@pytest.fixture
def lb_dir(tmp_path: Path) -> Path:
    """A directory for haproxy's files; skips (saying why) where haproxy is not installed."""
    try:
        find_haproxy()
    except HAProxyUnavailable as err:
        pytest.skip(str(err))
    return tmp_path


def test_a_replica_stopped_with_sigterm_loses_no_request_and_takes_traffic_again(
    gateway_factory: GatewayFactory, lb_dir: Path
) -> None:
    one = gateway_factory(*ARGS, ready_path="/hello")
    two = gateway_factory(*ARGS, ready_path="/hello")
    proxy = start_haproxy(lb_dir, {"one": one.port, "two": two.port})
    try:
        proxy.wait_for_states({"one": "UP", "two": "UP"})
        with RequestLoop(proxy.url + "/hello") as loop:
            loop.until(lambda answers: {"one", "two"} <= {a.replica for a in answers})
            one.process.send_signal(signal.SIGTERM)
            assert one.process.wait(60) == 0
            proxy.wait_for_states({"one": "DOWN"})
            stopped_at = len(loop.answers)
            again = gateway_factory(*ARGS, port=one.port, ready_path="/hello")
            assert again.port == one.port
            proxy.wait_for_states({"one": "UP"})
            loop.until(lambda answers: "one" in {a.replica for a in answers[stopped_at:]})
        served = Counter(answer.replica for answer in loop.answers)
        assert loop.failures() == []
        assert set(served) == {"one", "two"}
    finally:
        proxy.stop()
