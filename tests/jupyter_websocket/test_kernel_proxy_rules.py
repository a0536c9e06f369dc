"""Where the kernel proxy may go: the kernel's host from its connection info, allowed ports."""

from __future__ import annotations

import pytest

from kernel_gateway.errors import Forbidden
from kernel_gateway.jupyter_websocket.kernel_proxy import check_port, kernel_host
from kernel_gateway.services.proxy import parse_port_ranges

INFO = {
    "transport": "tcp",
    "ip": "10.0.0.7",
    "shell_port": 8001,
    "iopub_port": 8002,
    "stdin_port": 8003,
    "control_port": 8004,
    "hb_port": 8005,
}


def test_the_host_is_the_kernels_own() -> None:
    hosts = [
        kernel_host(INFO),
        kernel_host({**INFO, "ip": "0.0.0.0"}),
        kernel_host({**INFO, "ip": "::"}),
        kernel_host({**INFO, "ip": "fe80::1"}),
        kernel_host({"transport": "ipc", "ip": "/tmp/kernel-ipc"}),
    ]
    assert hosts == ["10.0.0.7", "127.0.0.1", "::1", "fe80::1", "127.0.0.1"]


def test_allowed_ports_pass() -> None:
    for port in (8000, 8006, 8999):
        check_port(port, INFO, parse_port_ranges("8000-8999"))


@pytest.mark.parametrize(
    ("port", "message"),
    [
        (8003, "Port 8003 is one of the kernel's own ZeroMQ ports"),
        (8005, "Port 8005 is one of the kernel's own ZeroMQ ports"),
        (9000, "Port 9000 is not among the kernel proxy's ports (8000-8999,12000)"),
        (22, "Port 22 is not among the kernel proxy's ports (8000-8999,12000)"),
    ],
)
def test_refused_ports(port: int, message: str) -> None:
    with pytest.raises(Forbidden) as refused:
        check_port(port, INFO, parse_port_ranges("8000-8999,12000"))
    assert refused.value.message == message
