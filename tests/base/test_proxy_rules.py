"""What a proxied request keeps of the gateway's credentials, and what counts as an upgrade."""

from __future__ import annotations

from tornado.httputil import HTTPHeaders

from kernel_gateway.base.proxy import carries_token, is_upgrade, without_token


def test_only_token_parameters_carrying_the_gateway_token_are_dropped() -> None:
    assert without_token("token=s%65cret&a=1&token=other&b=token", "secret") == (
        "a=1&token=other&b=token"
    )
    assert without_token("token=secret", "secret") == ""
    assert without_token("token=secret&a=1", "") == "token=secret&a=1"
    assert without_token("", "secret") == ""


def test_an_authorization_header_stays_when_it_carries_the_gateway_token() -> None:
    assert carries_token(HTTPHeaders({"Authorization": "token secret"}), "secret")
    assert carries_token(HTTPHeaders({"Authorization": "Bearer  secret "}), "secret")
    assert not carries_token(HTTPHeaders({"Authorization": "Bearer theirs"}), "secret")
    assert not carries_token(HTTPHeaders({"Authorization": "Basic c2VjcmV0"}), "secret")
    assert not carries_token(HTTPHeaders({"Authorization": "token secret"}), "")
    assert not carries_token(HTTPHeaders(), "secret")


def test_a_websocket_upgrade_is_a_get_with_all_three_headers() -> None:
    handshake = {"Upgrade": "WebSocket", "Connection": "keep-alive, Upgrade"}
    assert is_upgrade("GET", HTTPHeaders({**handshake, "Sec-WebSocket-Version": "13"}))
    assert not is_upgrade("POST", HTTPHeaders({**handshake, "Sec-WebSocket-Version": "13"}))
    assert not is_upgrade("GET", HTTPHeaders({**handshake, "Sec-WebSocket-Version": "8"}))
    assert not is_upgrade("GET", HTTPHeaders({**handshake, "Upgrade": "h2c"}))
    closing = {"Upgrade": "websocket", "Connection": "close", "Sec-WebSocket-Version": "13"}
    assert not is_upgrade("GET", HTTPHeaders(closing))
