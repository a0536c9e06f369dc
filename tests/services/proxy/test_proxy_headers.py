"""Which headers cross the proxy, and the X-Forwarded-* headers it adds."""

from __future__ import annotations

import socket

from tornado.httputil import HTTPHeaders

from kernel_gateway.services.proxy import Forwarding, Upstream, end_to_end, request_headers
from kernel_gateway.services.proxy.headers import WEBSOCKET_HANDSHAKE
from kernel_gateway.services.proxy.websocket import short_reason, wire_code

FORWARDING = Forwarding(
    host="gw.example:8888", proto="https", prefix="/p/8000", client_ip="10.0.0.9"
)


def headers(*pairs: tuple[str, str]) -> HTTPHeaders:
    out = HTTPHeaders()
    for name, value in pairs:
        out.add(name, value)
    return out


def test_end_to_end_drops_hop_by_hop_and_what_connection_names() -> None:
    incoming = headers(
        ("Connection", "keep-alive, X-Hop"),
        ("Connection", "x-other"),
        ("X-Hop", "1"),
        ("X-Other", "1"),
        ("Keep-Alive", "timeout=5"),
        ("Transfer-Encoding", "chunked"),
        ("TE", "trailers"),
        ("Trailer", "X-Sum"),
        ("Upgrade", "h2c"),
        ("Proxy-Authorization", "Basic eA=="),
        ("Proxy-Connection", "keep-alive"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
        ("Content-Type", "text/plain"),
    )
    assert end_to_end(incoming) == [
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
        ("Content-Type", "text/plain"),
    ]
    assert end_to_end(incoming, drop=["content-TYPE"]) == [
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
    ]


def test_request_headers_keep_the_clients_host_and_set_forwarded_ones() -> None:
    incoming = headers(
        ("Host", "gw.example:8888"),
        ("Expect", "100-continue"),
        ("X-Forwarded-Host", "spoofed"),
        ("X-Forwarded-Prefix", "/spoofed"),
        ("X-Forwarded-For", "1.1.1.1"),
        ("X-Forwarded-For", "2.2.2.2"),
        ("Authorization", "token secret"),
        ("Accept", "*/*"),
    )
    out = request_headers(incoming, FORWARDING, drop=["Authorization"])
    assert list(out.get_all()) == [
        ("Accept", "*/*"),
        ("Host", "gw.example:8888"),
        ("X-Forwarded-For", "1.1.1.1, 2.2.2.2, 10.0.0.9"),
        ("X-Forwarded-Host", "gw.example:8888"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Prefix", "/p/8000"),
    ]


def test_websocket_handshake_headers_can_be_left_out() -> None:
    incoming = headers(
        ("Sec-WebSocket-Key", "abc"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Protocol", "chat"),
        ("Sec-WebSocket-Extensions", "permessage-deflate"),
        ("Origin", "http://gw.example:8888"),
    )
    out = request_headers(incoming, FORWARDING, drop=WEBSOCKET_HANDSHAKE)
    assert [name for name, _ in out.get_all()] == [
        "Origin",
        "Host",
        "X-Forwarded-For",
        "X-Forwarded-Host",
        "X-Forwarded-Proto",
        "X-Forwarded-Prefix",
    ]


def test_upstream_addresses() -> None:
    assert (Upstream("10.0.0.5", 8000).authority, Upstream("10.0.0.5", 8000).describe()) == (
        "10.0.0.5:8000",
        "10.0.0.5:8000",
    )
    assert Upstream("::1", 8000).url("ws", "/a?b=1") == "ws://[::1]:8000/a?b=1"
    on_socket = Upstream(socket_path="/run/app.sock")
    assert (on_socket.authority, on_socket.describe()) == ("localhost", "unix:/run/app.sock")
    assert Upstream("kernel-host.example", 1).resolver() is None  # tornado's own


async def test_resolvers_answer_without_a_lookup() -> None:
    resolved = [
        await Upstream("127.0.0.1", 8000).resolver().resolve("127.0.0.1", 8000),  # type: ignore[union-attr]
        await Upstream("::1", 8000).resolver().resolve("::1", 8000),  # type: ignore[union-attr]
        await Upstream(socket_path="/run/a.sock").resolver().resolve("localhost", 80),  # type: ignore[union-attr]
    ]
    assert resolved == [
        [(socket.AF_INET, ("127.0.0.1", 8000))],
        [(socket.AF_INET6, ("::1", 8000, 0, 0))],
        [(socket.AF_UNIX, "/run/a.sock")],
    ]


def test_close_codes_that_may_be_sent_pass_others_become_none() -> None:
    codes = [None, 1000, 1001, 1004, 1005, 1006, 1011, 1015, 2999, 3000, 4999, 5000]
    assert [wire_code(code) for code in codes] == [
        None,
        1000,
        1001,
        None,
        None,
        None,
        1011,
        None,
        None,
        3000,
        4999,
        None,
    ]
    assert short_reason("é" * 100) == "é" * 61
    assert short_reason(None) is None
