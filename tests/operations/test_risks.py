"""Risky settings: the pure rule, and the warning a gateway logs at start-up."""

from __future__ import annotations

import pytest
from conftest import GatewayFactory

from kernel_gateway.operations.risks import is_loopback, risky_settings

NO_TOKEN = (
    "No auth token, and listening on 0.0.0.0: anyone who reaches this port can run code in "
    "its kernels; set --auth_token (KG_AUTH_TOKEN)"
)
WILDCARD = (
    "allow_origin='*' with allow_credentials=true: every web site may call the gateway from a "
    "visitor's browser (and browsers refuse credentials with '*'); name the allowed origin "
    "instead (KG_ALLOW_ORIGIN)"
)


@pytest.mark.parametrize(
    ("ip", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("", False),
        ("::", False),
        ("10.0.0.5", False),
        ("gateway.example", False),
    ],
)
def test_is_loopback(ip: str, loopback: bool) -> None:
    assert is_loopback(ip) is loopback


@pytest.mark.parametrize(
    ("settings", "warnings"),
    [
        (("127.0.0.1", "", "", "", ""), []),
        (("0.0.0.0", "", "", "", ""), [NO_TOKEN]),
        (("0.0.0.0", "", "secret", "", ""), []),
        (("0.0.0.0", "/run/kg.sock", "", "", ""), []),  # a unix socket is not on the network
        (("127.0.0.1", "", "t", "*", "true"), [WILDCARD]),
        (("127.0.0.1", "", "t", "*", "True "), [WILDCARD]),
        (("127.0.0.1", "", "t", "*", ""), []),
        (("127.0.0.1", "", "t", "https://app.example", "true"), []),
        (("0.0.0.0", "", "", "*", "true"), [NO_TOKEN, WILDCARD]),
    ],
)
def test_risky_settings(settings: tuple[str, str, str, str, str], warnings: list[str]) -> None:
    assert risky_settings(*settings) == warnings


def test_the_gateway_warns_at_start_up(gateway_factory: GatewayFactory) -> None:
    gateway = gateway_factory(
        "--ip=0.0.0.0",
        "--KernelGatewayApp.allow_origin=*",
        "--KernelGatewayApp.allow_credentials=true",
    )

    lines = gateway.log().splitlines()
    found = [[line for line in lines if line.endswith(message)] for message in (NO_TOKEN, WILDCARD)]

    assert [len(matches) for matches in found] == [1, 1]
    assert all("WARN" in line or "[W " in line for line in found[0] + found[1])
