"""A private SSH host for the remote-kernel tests: Debian's openssh-server on a loopback port.

`start_sshd` runs `sshd -D` with a throwaway host key and user key in a temporary directory,
listening on 127.0.0.2 (jupyter_client counts 127.0.0.1 as a local interface, and a provisioner
pointed there starts the kernel as a plain child process without SSH). The machine's own ssh
set-up is not touched; only /run/sshd (sshd's privilege-separation directory) is created if it
is missing. `SshHost.gateway_env` is the environment a gateway needs to launch kernels there
through gateway_provisioners' DistributedProvisioner: paramiko reads keys and known_hosts only
from ~/.ssh, so the gateway gets a private HOME holding them.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from processes import stop_process

SSH_IP = "127.0.0.2"
START_TIMEOUT = 30.0
SPEC_NAME = "ssh_python"
NO_SSH_IP = "127.0.0.3"  # nothing listens there: the host refuses SSH
NOWHERE_SPEC = "ssh_nowhere"  # ssh_python pointed at NO_SSH_IP
SILENT_SPEC = "ssh_silent"  # a launcher that starts on the host but never reports back
SILENT_LAUNCHER = "silent_launcher.py"
MESSAGE_SPEC = "ssh_python_message"  # ssh_python interrupted by interrupt_request messages
PLAIN_SPEC = "ssh_python_plain"  # ssh_python without CurveZMQ support
HOSTS = [f"--remote-hosts={SSH_IP}"]
GONE_DEADLINE = 5.0  # a kernel outliving its shutdown by more than this is a defect


class SshdUnavailable(Exception):
    """sshd (or what it needs) is missing here: the tests that need it skip with this reason."""


@dataclass
class SshHost:
    """A running private sshd and what a gateway needs to reach it."""

    process: subprocess.Popen[bytes]
    port: int
    user: str
    home: Path  # the gateway's HOME: .ssh/id_ed25519 and known_hosts
    jupyter_path: Path  # holds kernels/ssh_python (made by `jupyter ssh-spec`)
    log_path: Path
    kernel_log_dir: Path

    def gateway_env(self, response_port: int, **extra: str) -> dict[str, str]:
        """The environment of a gateway that launches kernels on this host."""
        env = {
            "HOME": str(self.home),
            "JUPYTER_PATH": str(self.jupyter_path),
            "GP_SSH_PORT": str(self.port),
            "GP_REMOTE_USER": self.user,
            "GP_RESPONSE_IP": "127.0.0.1",
            "GP_RESPONSE_PORT": str(response_port),
            "GP_UNAUTHORIZED_USERS": "nobody-is-refused",  # the default refuses root
            "GP_KERNEL_LOG_DIR": str(self.kernel_log_dir),
        }
        env.update(extra)
        return env

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self.process)


def find_sshd() -> str:
    """The sshd binary; SshdUnavailable when openssh-server is not installed."""
    sshd = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else "")
    if not sshd:
        raise SshdUnavailable("sshd not found: install openssh-server (.ci/run does)")
    if shutil.which("ssh-keygen") is None:
        raise SshdUnavailable("ssh-keygen not found: install openssh-client")
    return sshd


def free_ssh_port() -> int:
    """A port free on SSH_IP a moment ago."""
    with socket.socket() as sock:
        sock.bind((SSH_IP, 0))
        return int(sock.getsockname()[1])


def keygen(path: Path) -> str:
    """Make an ed25519 key pair at `path`; return the public key line."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "kg-test", "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return path.with_suffix(".pub").read_text().strip()


def write_config(root: Path, port: int, user_key: str) -> Path:
    """sshd_config for a private daemon: keys only, one user, everything under `root`."""
    (root / "authorized_keys").write_text(user_key + "\n")
    config = root / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"ListenAddress {SSH_IP}:{port}",
                f"HostKey {root / 'host_key'}",
                f"AuthorizedKeysFile {root / 'authorized_keys'}",
                f"PidFile {root / 'sshd.pid'}",
                f"AllowUsers {getpass.getuser()}",
                "PermitRootLogin prohibit-password",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                "MaxStartups 64",
                "MaxSessions 64",
                "LogLevel VERBOSE",
                "",
            ]
        )
    )
    return config


def private_home(root: Path, port: int, host_key: str, user_key_path: Path) -> Path:
    """A HOME whose ~/.ssh holds the user key and the host's known_hosts entry."""
    ssh_dir = root / "home" / ".ssh"
    ssh_dir.mkdir(parents=True, mode=0o700)
    shutil.copy(user_key_path, ssh_dir / "id_ed25519")
    os.chmod(ssh_dir / "id_ed25519", 0o600)
    key_type, key_body = host_key.split()[:2]
    (ssh_dir / "known_hosts").write_text(f"[{SSH_IP}]:{port} {key_type} {key_body}\n")
    return root / "home"


def install_spec(root: Path) -> Path:
    """Install the DistributedProvisioner kernelspec with `jupyter ssh-spec`; return its
    JUPYTER_PATH entry. The kernel runs this interpreter, found by absolute path on the host."""
    prefix = root / "prefix"
    command = Path(sys.executable).parent / "jupyter-ssh-spec"
    if not command.exists():
        raise SshdUnavailable("jupyter-ssh-spec not found: install the test extra")
    subprocess.run(
        [str(command), "install", f"--prefix={prefix}", f"--kernel-name={SPEC_NAME}", *HOSTS],
        check=True,
        capture_output=True,
    )
    kernels = prefix / "share" / "jupyter" / "kernels"
    spec = json.loads((kernels / SPEC_NAME / "kernel.json").read_text())
    spec["argv"][0] = sys.executable
    write_spec(kernels / SPEC_NAME, spec)
    nowhere = spec["metadata"]["kernel_provisioner"]["config"] | {"remote_hosts": [NO_SSH_IP]}
    write_spec(
        kernels / NOWHERE_SPEC,
        spec
        | {
            "metadata": spec["metadata"]
            | {"kernel_provisioner": spec["metadata"]["kernel_provisioner"] | {"config": nowhere}}
        },
    )
    write_spec(kernels / MESSAGE_SPEC, spec | {"interrupt_mode": "message"})
    plain = {key: value for key, value in spec["metadata"].items() if key != "supported_encryption"}
    write_spec(kernels / PLAIN_SPEC, spec | {"metadata": plain})
    silent = write_spec(kernels / SILENT_SPEC, spec) / SILENT_LAUNCHER
    silent.write_text("import time\ntime.sleep(30)  # starts, never reports back, ends by itself\n")
    write_spec(kernels / SILENT_SPEC, spec | {"argv": [sys.executable, str(silent), "{kernel_id}"]})
    return prefix / "share" / "jupyter"


def write_spec(directory: Path, spec: dict[str, object]) -> Path:
    """Write a kernelspec's kernel.json; return its directory."""
    directory.mkdir(exist_ok=True)
    (directory / "kernel.json").write_text(json.dumps(spec, indent=2))
    return directory


def prepare_privsep_dir() -> None:
    """sshd refuses to start without /run/sshd."""
    try:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    except OSError as err:
        raise SshdUnavailable(f"cannot create /run/sshd for sshd: {err}") from err


def start_sshd(root: Path) -> SshHost:
    """Start a private sshd under `root` and wait until it greets; SshdUnavailable if it can't."""
    sshd = find_sshd()
    prepare_privsep_dir()
    port = free_ssh_port()
    host_key = keygen(root / "host_key")
    user_key = keygen(root / "user_key")
    config = write_config(root, port, user_key)
    log_path = root / "sshd.log"
    process = subprocess.Popen(
        [sshd, "-D", "-f", str(config), "-E", str(log_path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    (root / "kernel-logs").mkdir()
    host = SshHost(
        process=process,
        port=port,
        user=getpass.getuser(),
        home=private_home(root, port, host_key, root / "user_key"),
        jupyter_path=install_spec(root),
        log_path=log_path,
        kernel_log_dir=root / "kernel-logs",
    )
    wait_for_greeting(host)
    return host


def wait_for_greeting(host: SshHost) -> None:
    """Poll until sshd sends its SSH banner; SshdUnavailable with its log if it never does."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if host.process.poll() is not None:
            raise SshdUnavailable(f"sshd exited with {host.process.returncode}: {host.log()}")
        try:
            with socket.create_connection((SSH_IP, host.port), timeout=1) as sock:
                if sock.recv(64).startswith(b"SSH-2.0"):
                    return
        except OSError:
            time.sleep(0.05)
    host.stop()
    raise SshdUnavailable(f"sshd did not greet in {START_TIMEOUT}s: {host.log()}")


def ssh_connection_of(pid: int) -> str:
    """The SSH_CONNECTION variable a process was started with ("" if none or gone)."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return ""
    for entry in environ:
        if entry.startswith(b"SSH_CONNECTION="):
            return entry.split(b"=", 1)[1].decode()
    return ""


def came_through(host: SshHost, pid: int) -> bool:
    """Whether process `pid` was started by a session of `host`'s sshd: its SSH_CONNECTION
    names our sshd's address, and our sshd logged the key login from that very client port."""
    fields = ssh_connection_of(pid).split()
    if len(fields) != 4:
        return False
    client_ip, client_port, server_ip, server_port = fields
    login = f"Accepted publickey for {host.user} from {client_ip} port {client_port} "
    return (server_ip, int(server_port)) == (SSH_IP, host.port) and login in host.log()


def running(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as gone)."""
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def wait_gone(pid: int, deadline: float = GONE_DEADLINE) -> float:
    """Seconds until `pid` is gone (polled); fails if it still runs after `deadline`."""
    start = time.monotonic()
    while running(pid):
        assert time.monotonic() - start < deadline, f"kernel process {pid} outlived its shutdown"
        time.sleep(0.02)
    return time.monotonic() - start


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (children, their children, ...)."""
    import psutil  # a dependency of ipykernel

    return {child.pid for child in psutil.Process(pid).children(recursive=True)}
