"""Serving helpers without a server: binding ports, and the warning for skipped ones."""

from __future__ import annotations

from kernel_gateway.serving import bind, skipped_ports


def test_port_zero_binds_a_free_port_and_says_which() -> None:
    sockets, port = bind("127.0.0.1", 0, 0)
    try:
        assert port == sockets[0].getsockname()[1]
        assert port > 0
    finally:
        for sock in sockets:
            sock.close()


def test_skipped_ports_are_named_both() -> None:
    assert [
        skipped_ports(8888, 8888, 50),
        skipped_ports(0, 41234, 50),
        skipped_ports(8888, 8889, 50),
        skipped_ports(8888, 8891, 50),
    ] == [
        None,
        None,
        "Port 8888 is in use; listening on port 8889 instead (port_retries=50)",
        "Ports 8888 to 8890 are in use; listening on port 8891 instead (port_retries=50)",
    ]
