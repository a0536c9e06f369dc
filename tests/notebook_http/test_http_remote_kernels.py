"""Remote kernels in notebook-http mode: a seeded pool of kernels launched over real SSH by
gateway_provisioners' DistributedProvisioner (a private sshd on 127.0.0.2)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from conftest import Gateway, GatewayFactory, free_port, run_cli, write_notebook
from sshd_host import (
    NO_SSH_IP,
    NOWHERE_SPEC,
    SPEC_NAME,
    SSH_IP,
    SshHost,
    came_through,
    descendants,
    wait_gone,
)

SEED = "import json, os, time\nSEEDED = 'yes'"
FACTS = "# GET /facts\nprint(json.dumps({'pid': os.getpid(), 'seeded': SEEDED}))"
SLOW = "# GET /slow\ntime.sleep(30)"
DEADLINE = 60.0

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def notebook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("remote") / "remote.ipynb"
    return write_notebook(path, SEED, FACTS, SLOW, kernel=SPEC_NAME)


@pytest.fixture(scope="module")
def gateway(module_gateway_factory: GatewayFactory, ssh_host: SshHost, notebook: Path) -> Gateway:
    """A pool of two seeded remote kernels, with a 2 s request timeout."""
    return module_gateway_factory(
        "--api=notebook-http",
        f"--seed_uri={notebook}",
        "--prespawn_count=2",
        "--NotebookHTTPPersonality.request_timeout=2",
        env=ssh_host.gateway_env(free_port()),
        ready_path="/facts",
    )


def facts(gateway: Gateway) -> dict[str, object]:
    status, _, body = gateway.request("GET", "/facts")
    assert status == 200, body
    return dict(json.loads(body))


def pool_pids(gateway: Gateway) -> set[int]:
    """The pids of the pool's kernels (sequential requests go round robin)."""
    return {int(str(facts(gateway)["pid"])) for _ in range(4)}


def test_the_pool_is_seeded_remote_kernels_started_through_sshd(
    gateway: Gateway, ssh_host: SshHost
) -> None:
    answers = [facts(gateway) for _ in range(4)]
    assert {answer["seeded"] for answer in answers} == {"yes"}
    pids = {int(str(answer["pid"])) for answer in answers}
    assert len(pids) == 2
    assert all(came_through(ssh_host, pid) for pid in pids), ssh_host.log()
    assert not pids & descendants(gateway.process.pid)


def test_a_request_past_its_timeout_interrupts_the_remote_kernel(gateway: Gateway) -> None:
    status, _, body = gateway.request("GET", "/slow")
    assert status == 504, body
    assert set(json.loads(body)) == {"reason", "message"}
    deadline = time.monotonic() + DEADLINE
    while len(pool_pids(gateway)) < 2:  # the interrupted kernel serves again once recovered
        assert time.monotonic() < deadline, gateway.log()


def test_a_remote_kernel_killed_on_its_host_is_replaced_and_named_with_its_host(
    gateway: Gateway, ssh_host: SshHost
) -> None:
    """Requests meanwhile end (200, or 503/504 on the dead kernel); none is stuck."""
    before = pool_pids(gateway)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + DEADLINE
    serving: set[int] = set()
    while len(serving - before) < 1 or len(serving) < 2:
        assert time.monotonic() < deadline, gateway.log()
        status, _, body = gateway.request("GET", "/facts")
        assert status in (200, 503, 504), body
        if status == 200:
            serving = (serving | {int(json.loads(body)["pid"])}) - {victim}
    assert all(came_through(ssh_host, pid) for pid in serving)
    died = [line for line in gateway.log().splitlines() if "died" in line]
    assert died, gateway.log()
    assert all(SSH_IP in line for line in died), died


def test_sigterm_leaves_no_remote_pool_kernel_running(
    gateway_factory: GatewayFactory, ssh_host: SshHost, notebook: Path
) -> None:
    gateway = gateway_factory(
        "--api=notebook-http",
        f"--seed_uri={notebook}",
        env=ssh_host.gateway_env(free_port()),
        ready_path="/facts",
    )
    pid = int(str(facts(gateway)["pid"]))
    assert came_through(ssh_host, pid)
    assert gateway.stop(signal.SIGTERM) == 0
    wait_gone(pid)


def test_a_pool_on_a_host_that_refuses_ssh_stops_the_gateway_naming_the_host(
    ssh_host: SshHost, tmp_path: Path
) -> None:
    notebook = write_notebook(tmp_path / "nowhere.ipynb", SEED, FACTS, kernel=NOWHERE_SPEC)
    args = ("--api=notebook-http", f"--seed_uri={notebook}", f"--port={free_port()}")
    result = run_cli(*args, env=ssh_host.gateway_env(free_port()))
    assert result.returncode != 0
    assert f"failed to start on {NO_SSH_IP}" in result.stdout, result.stdout
