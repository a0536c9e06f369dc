"""Which headers cross a proxy, and the X-Forwarded-* headers it adds (pure functions)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tornado.httputil import HTTPHeaders

# RFC 9110 section 7.6.1: meaningful for one connection only, never forwarded
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# the handshake of a websocket is per connection too: the proxy makes its own
WEBSOCKET_HANDSHAKE = frozenset(
    {
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "sec-websocket-accept",
    }
)
# set by the proxy itself (Host from `Forwarding`); Expect was answered by the gateway itself
REPLACED = frozenset(
    {"host", "expect", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto"}
    | {"x-forwarded-prefix"}
)


@dataclass(frozen=True)
class Forwarding:
    """How the client reached the gateway, for the upstream's X-Forwarded-* headers."""

    host: str
    proto: str
    prefix: str
    client_ip: str


def end_to_end(headers: HTTPHeaders, drop: Iterable[str] = ()) -> list[tuple[str, str]]:
    """The headers minus hop-by-hop ones, those the Connection header names and `drop`."""
    named = {
        token.strip().lower()
        for value in headers.get_list("Connection")
        for token in value.split(",")
    }
    skip = HOP_BY_HOP | named | {name.lower() for name in drop}
    return [(name, value) for name, value in headers.get_all() if name.lower() not in skip]


def request_headers(
    incoming: HTTPHeaders, forwarding: Forwarding, drop: Iterable[str] = ()
) -> HTTPHeaders:
    """The headers of a request as the upstream gets it.

    Host stays what the client sent (as `ProxyPreserveHost` would have it): apps compare it
    with Origin to refuse cross-site websockets (tornado, Jupyter servers, Bokeh do), and
    build absolute links from it.
    """
    out = HTTPHeaders()
    for name, value in end_to_end(incoming, REPLACED | {name.lower() for name in drop}):
        out.add(name, value)
    prior = ", ".join(incoming.get_list("X-Forwarded-For"))
    out["Host"] = forwarding.host
    out["X-Forwarded-For"] = f"{prior}, {forwarding.client_ip}" if prior else forwarding.client_ip
    out["X-Forwarded-Host"] = forwarding.host
    out["X-Forwarded-Proto"] = forwarding.proto
    out["X-Forwarded-Prefix"] = forwarding.prefix
    return out
