"""Gateways under test: the peer's virtualenv, starting and stopping servers, /proc readings."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.procfs import descendants, start_time, wait_quiet

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / ".bench"
PEER_VERSION = "3.0.1"
PEER_REQUIREMENTS = (f"jupyter-kernel-gateway=={PEER_VERSION}", "ipykernel")
PEER_VENV = BENCH_DIR / f"kg-{PEER_VERSION}"
OUR_VENV = ROOT / ".venv"
START_TIMEOUT = 60.0
PORT_ATTEMPTS = 3  # free ports tried when another process takes the one picked meanwhile
STOP_TIMEOUT = 10.0
HOST = "127.0.0.1"
_INHERITED_PREFIXES = ("KG_", "JUPYTER_", "JPY_", "IPYTHON")


class ServerStartError(RuntimeError):
    """A gateway did not answer within START_TIMEOUT; the message ends with its log tail."""


@dataclass(frozen=True)
class Gateway:
    """One side of the comparison: a name, the virtualenv holding its CLI, and options it
    always gets."""

    side: str
    venv: Path
    options: tuple[str, ...] = ()

    @property
    def is_ours(self) -> bool:
        """Whether this side is our gateway (encrypted or not)."""
        return self.venv == OUR_VENV

    @property
    def executable(self) -> Path:
        """The jupyter-kernelgateway script of this side."""
        return self.venv / "bin" / "jupyter-kernelgateway"

    @property
    def python(self) -> Path:
        """The interpreter of this side's virtualenv (also the kernels' interpreter)."""
        return self.venv / "bin" / "python"


ENCRYPTION_OPTION = "--MappingKernelManager.transport_encryption"
OURS = Gateway("ours", OUR_VENV, (f"{ENCRYPTION_OPTION}=auto",))  # the default: CurveZMQ
OURS_PLAIN = Gateway("plain", OUR_VENV, (f"{ENCRYPTION_OPTION}=disabled",))
PEER = Gateway("peer", PEER_VENV)


def ensure_peer_venv(venv: Path = PEER_VENV) -> None:
    """Create the peer's virtualenv and install KG into it, unless a previous run did."""
    marker = venv / ".bench-installed"
    wanted = " ".join(PEER_REQUIREMENTS)
    if marker.is_file() and marker.read_text() == wanted and (venv / "bin/python").exists():
        return
    print(f"installing {wanted} into {venv} ...", flush=True)
    subprocess.run([shutil.which("python3") or "python3", "-m", "venv", str(venv)], check=True)
    pip = [
        str(venv / "bin/python"),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ]
    subprocess.run([*pip, *PEER_REQUIREMENTS], check=True)
    marker.write_text(wanted)


def package_versions(gateway: Gateway) -> dict[str, str]:
    """Return the versions of the packages that matter, as installed in a side's venv."""
    names = ["jupyter-kernel-gateway", "kernel_gateway", "ipykernel", "jupyter_client", "tornado"]
    code = (
        "import importlib.metadata as m, json\n"
        "def v(n):\n"
        "    try: return m.version(n)\n"
        "    except m.PackageNotFoundError: return None\n"
        f"print(json.dumps({{n: v(n) for n in {names!r}}}))"
    )
    try:
        out = subprocess.run(
            [str(gateway.python), "-c", code],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    return {name: version for name, version in json.loads(out).items() if version}


def load_average() -> float:
    """Return the machine's 1-minute load average (other work on the box skews every number)."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def free_port() -> int:
    """Return a loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def server_env(side: str) -> dict[str, str]:
    """Return an environment with Jupyter's and KG's settings isolated under .bench/home/<side>."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED_PREFIXES)}
    home = BENCH_DIR / "home" / side
    for name, sub in [
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"),
    ]:
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(home / sub)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass(frozen=True)
class _Proc:
    """A process identity that survives PID reuse: pid plus its start time."""

    pid: int
    start: str


def _identify(pid: int) -> _Proc | None:
    try:
        return _Proc(pid, start_time(pid))
    except OSError:
        return None


def _signal_if_same(proc: _Proc, sig: int) -> None:
    if _identify(proc.pid) == proc:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)


class RunningServer:
    """A gateway subprocess on a loopback port; stop() ends it and any kernel it left."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
        self.process = process
        self.port = port
        self.log_path = log_path

    @property
    def pid(self) -> int:
        """The gateway's process id."""
        return self.process.pid

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT"""
        return f"http://{HOST}:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        """Return the last lines of the server's log."""
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def stop(self) -> None:
        """SIGTERM the gateway, SIGKILL it after STOP_TIMEOUT, then end kernels it left behind."""
        leftovers = [p for p in map(_identify, descendants(self.pid)) if p is not None]
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            alive = [p for p in leftovers if _identify(p.pid) == p]
            for proc in alive:
                _signal_if_same(proc, sig)
            deadline = time.monotonic() + 3.0
            while alive and time.monotonic() < deadline:
                time.sleep(0.05)
                alive = [p for p in alive if _identify(p.pid) == p]


def _ready(port: int, path: str, expect: bytes | None) -> bool:
    """Return True once GET path answers 200 (with expect in the body when given)."""
    try:
        with socket.create_connection((HOST, port), timeout=1.0):
            pass
        conn = http.client.HTTPConnection(HOST, port, timeout=5.0)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
    except (OSError, http.client.HTTPException):  # not ours yet: say a kernel's ZeroMQ port
        return False
    return response.status == 200 and (expect is None or expect in body)


def _launch(gateway: Gateway, args: Sequence[str], log_path: Path, port: int) -> RunningServer:
    """Start a gateway process on `port`, its output to `log_path`."""
    command = [
        str(gateway.executable),
        *gateway.options,
        *args,
        f"--port={port}",
        f"--ip={HOST}",
        "--KernelGatewayApp.port_retries=0",
    ]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        log.write(("$ " + " ".join(command) + "\n").encode())
        log.flush()
        try:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=server_env(gateway.side),
                cwd=ROOT,
            )
        except OSError as err:
            raise ServerStartError(f"cannot run {command[0]}: {err}") from err
    return RunningServer(process, port, log_path)


def start_server(
    gateway: Gateway,
    args: Sequence[str],
    log_path: Path,
    ready_path: str,
    expect: bytes | None = None,
) -> RunningServer:
    """Start a gateway on a free port and wait until GET ready_path answers 200.

    The port was free when picked; if another process (a kernel, on a shared machine) took it
    before the gateway listened, the gateway exits saying so and another port is tried.
    Raises ServerStartError (with the log tail) when the process exits or does not answer
    within START_TIMEOUT.
    """
    for _ in range(PORT_ATTEMPTS):
        server = _launch(gateway, args, log_path, free_port())
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and server.process.poll() is None:
            if _ready(server.port, ready_path, expect):
                return server
            time.sleep(0.1)
        if server.process.poll() is None:
            server.stop()
            raise ServerStartError(
                f"{gateway.side} did not answer GET {ready_path} within {START_TIMEOUT:.0f} s\n"
                f"{server.log_tail()}"
            )
        if "in use" not in server.log_tail():
            break
    raise ServerStartError(
        f"{gateway.side} exited with code {server.process.returncode}\n{server.log_tail()}"
    )


@contextlib.contextmanager
def serving(
    gateway: Gateway,
    args: Sequence[str],
    log_path: Path,
    ready_path: str,
    expect: bytes | None = None,
) -> Iterator[RunningServer]:
    """Start a gateway, wait until it is ready and quiet, and stop it on exit."""
    server = start_server(gateway, args, log_path, ready_path, expect)
    try:
        wait_quiet(server.pid)
        yield server
    finally:
        server.stop()
