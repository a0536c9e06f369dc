"""Serving helpers without a server: URIs made safe to log."""

from __future__ import annotations

import pytest

from kernel_gateway.serving import redacted_uri


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
