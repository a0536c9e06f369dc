"""Domain errors: their statuses and how they quote what clients sent."""

from __future__ import annotations

import pytest

from kernel_gateway.errors import UnknownKernel, UnknownKernelSpec, quoted


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("python3", "python3"),
        ("x\n[I FORGED] admin logged in", "'x\\n[I FORGED] admin logged in'"),
        ("\x1b[31mred", "'\\x1b[31mred'"),
        ("a" * 101, repr("a" * 100) + "..."),
        ("a" * 100, "a" * 100),
    ],
)
def test_quoted_keeps_plain_short_text_and_escapes_the_rest(value: str, shown: str) -> None:
    assert quoted(value) == shown


def test_not_found_messages_quote_what_was_asked_for() -> None:
    assert UnknownKernel("k\n1").message == "Kernel does not exist: 'k\\n1'"
    assert UnknownKernelSpec("nope").message == "No such kernel: nope"
    assert UnknownKernelSpec("nope").status_code == 404
