"""Risky settings, named at start-up so that a person sees them before a client does."""

from __future__ import annotations

import ipaddress

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(ip: str) -> bool:
    """Whether `ip` (an address or host name) only listens on this host."""
    if ip.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(ip.strip("[]")).is_loopback
    except ValueError:
        return False  # "" (every interface) or another host name


def risky_settings(
    ip: str, unix_socket: str, auth_token: str, allow_origin: str, allow_credentials: str
) -> list[str]:
    """One warning per risky combination of options; empty when there is none."""
    warnings = []
    if not auth_token and not unix_socket and not is_loopback(ip):
        where = ip or "every interface"
        warnings.append(
            f"No auth token, and listening on {where}: anyone who reaches this port can run "
            "code in its kernels; set --auth_token (KG_AUTH_TOKEN)"
        )
    if allow_origin.strip() == "*" and allow_credentials.strip().lower() == "true":
        warnings.append(
            "allow_origin='*' with allow_credentials=true: every web site may call the "
            "gateway from a visitor's browser (and browsers refuse credentials with '*'); "
            "name the allowed origin instead (KG_ALLOW_ORIGIN)"
        )
    return warnings
