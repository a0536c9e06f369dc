"""Debian's haproxy in front of gateway replicas, for the replica tests.

`start_haproxy` writes a config balancing over the given gateways on loopback, with health checks
on `/readyz` (a replica answering 503 there is taken out of rotation), a response header naming
the replica that answered, and optionally cookie-based stickiness (the cookie a Jupyter server's
gateway client keeps and sends back). It runs in the foreground (`-db`) and is stopped by the
test. `HAProxy.states()` reads the stats CSV to tell which replicas are in rotation.
"""

from __future__ import annotations

import csv
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from processes import stop_process

START_TIMEOUT = 30.0
STICKY_COOKIE = "KG_REPLICA"
REPLICA_HEADER = "X-Replica"


class HAProxyUnavailable(Exception):
    """haproxy is not installed here: the tests that need it skip with this reason."""


@dataclass
class HAProxy:
    """A running haproxy and where it listens."""

    process: subprocess.Popen[bytes]
    port: int
    stats_port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def states(self) -> dict[str, str]:
        """Each replica's status as haproxy sees it ("UP", "DOWN", ...)."""
        url = f"http://127.0.0.1:{self.stats_port}/stats;csv"
        with urllib.request.urlopen(url, timeout=5) as response:
            rows = csv.DictReader(line.decode().lstrip("# ") for line in response)
            return {
                row["svname"]: row["status"].split()[0]
                for row in rows
                if row["svname"] not in ("FRONTEND", "BACKEND")
            }

    def wait_for_states(self, wanted: dict[str, str], timeout: float = START_TIMEOUT) -> None:
        """Poll the stats until every named replica has the wanted status."""
        deadline = time.monotonic() + timeout
        while True:
            states = self.states()
            if all(states.get(name) == status for name, status in wanted.items()):
                return
            assert time.monotonic() < deadline, f"haproxy sees {states}, wanted {wanted}"
            time.sleep(0.05)

    def stop(self) -> None:
        stop_process(self.process)


def find_haproxy() -> str:
    haproxy = shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else ""
    )
    if not haproxy:
        raise HAProxyUnavailable("haproxy not found: install Debian's haproxy (.ci/run does)")
    return haproxy


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(
    root: Path, port: int, stats_port: int, replicas: dict[str, int], sticky: bool, check: str
) -> Path:
    """haproxy.cfg: round robin over `replicas` (name -> port), health-checked on `check`."""
    cookie = [f"  cookie {STICKY_COOKIE} insert indirect nocache"] if sticky else []
    servers = [
        f"  server {name} 127.0.0.1:{replica_port} check" + (f" cookie {name}" if sticky else "")
        for name, replica_port in replicas.items()
    ]
    lines = [
        "global",
        "  maxconn 512",
        "defaults",
        "  mode http",
        "  timeout connect 2s",
        "  timeout client 60s",
        "  timeout server 60s",
        "  timeout tunnel 60s",
        # a request that never reached a replica (refused, or its idle connection was closed
        # under it) is sent to another one; nothing a replica started is sent twice
        "  retries 3",
        "  option redispatch 1",
        "  retry-on conn-failure empty-response",
        "frontend gateways",
        f"  bind 127.0.0.1:{port}",
        "  default_backend replicas",
        "backend replicas",
        "  balance roundrobin",
        f"  option httpchk GET {check}",
        "  http-check expect status 200",
        "  timeout check 2s",
        "  default-server inter 200ms fastinter 100ms downinter 200ms fall 2 rise 2",
        f"  http-response set-header {REPLICA_HEADER} %[srv_name]",
        *cookie,
        *servers,
        "listen stats",
        f"  bind 127.0.0.1:{stats_port}",
        "  stats enable",
        "  stats uri /stats",
        "",
    ]
    config = root / "haproxy.cfg"
    config.write_text("\n".join(lines))
    return config


def start_haproxy(
    root: Path, replicas: dict[str, int], sticky: bool = False, check: str = "/readyz"
) -> HAProxy:
    """Start haproxy over `replicas` (name -> port) and wait until its stats answer."""
    haproxy = find_haproxy()
    port, stats_port = free_port(), free_port()
    config = write_config(root, port, stats_port, replicas, sticky, check)
    valid = subprocess.run([haproxy, "-c", "-f", str(config)], capture_output=True, text=True)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    log_path = root / "haproxy.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [haproxy, "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    proxy = HAProxy(process, port, stats_port, log_path)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        assert process.poll() is None, log_path.read_text()
        try:
            proxy.states()
            return proxy
        except OSError:
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)


@dataclass
class Answer:
    """One request of a loop: its status (0 when it failed without one) and who answered."""

    status: int
    replica: str
    error: str = ""


class RequestLoop:
    """GET `url` again and again in a thread until stopped (bounded in count), recording each
    answer; `until` waits for a condition on the answers so far."""

    def __init__(self, url: str, limit: int = 20000) -> None:
        self.url = url
        self.limit = limit
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RequestLoop:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.is_set() and len(self.answers) < self.limit:
            self.answers.append(self._one())

    def _one(self) -> Answer:
        try:
            with urllib.request.urlopen(self.url, timeout=30) as response:
                response.read()
                return Answer(response.status, response.headers.get(REPLICA_HEADER, ""))
        except urllib.error.HTTPError as err:
            return Answer(err.code, err.headers.get(REPLICA_HEADER, ""), err.read().decode())
        except OSError as err:
            return Answer(0, "", repr(err))

    def until(self, done: Callable[[list[Answer]], bool], timeout: float = START_TIMEOUT) -> int:
        """Wait until `done(answers)` holds; return how many answers there were then."""
        deadline = time.monotonic() + timeout
        while not done(self.answers):
            assert self._thread.is_alive(), "the request loop ended (its limit reached?)"
            assert time.monotonic() < deadline, f"not reached in {timeout}s: {self.answers[-5:]}"
            time.sleep(0.02)
        return len(self.answers)

    def failures(self) -> list[Answer]:
        return [answer for answer in self.answers if answer.status != 200]
