"""The access log without a server: URIs made safe to log, the line, the level."""

from __future__ import annotations

import logging

import pytest

from kernel_gateway.access_log import AccessEntry, access_level, format_access, redacted_uri


@pytest.mark.parametrize(
    ("uri", "logged"),
    [
        ("/api?token=abc", "/api?token=[secret]"),
        ("/api/x?%74oken=abc", "/api/x?%74oken=[secret]"),  # how tornado reads the name
        ("/api?a=1;token=abc", "/api?a=1;token=[secret]"),
        ("/api?TOKEN=abc&b=2", "/api?TOKEN=[secret]&b=2"),
        ("/api?+token+=abc", "/api?+token+=[secret]"),
        ("/api?a=b&token=abc&token=def", "/api?a=b&token=[secret]&token=[secret]"),
        ("/api?x=token=abc", "/api?x=token=abc"),  # a value, not the token parameter
        ("/api?tokens=abc", "/api?tokens=abc"),
        ("/api", "/api"),
        ("/api?", "/api?"),
    ],
)
def test_redacted_uri_masks_every_spelling_of_the_token_parameter(uri: str, logged: str) -> None:
    assert redacted_uri(uri) == logged


def test_an_access_line_says_status_method_uri_client_and_time() -> None:
    entry = AccessEntry(404, "GET", "/api/nope?token=[secret]", "127.0.0.1", 1.234)
    assert format_access(entry) == "404 GET /api/nope?token=[secret] (127.0.0.1) 1.23ms"


def test_levels_follow_the_status_class_and_log_requests() -> None:
    statuses = (200, 204, 302, 404, 503)
    assert [access_level(s, False) for s in statuses] == [
        logging.DEBUG,
        logging.DEBUG,
        logging.INFO,
        logging.WARNING,
        logging.ERROR,
    ]
    assert [access_level(s, True) for s in statuses] == [
        logging.INFO,
        logging.INFO,
        logging.INFO,
        logging.WARNING,
        logging.ERROR,
    ]
