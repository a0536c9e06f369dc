"""Port range lists: parsing, membership, the option trait."""

from __future__ import annotations

import pytest
from traitlets import HasTraits, TraitError

from kernel_gateway.services.proxy import PortRanges, PortRangesTrait, parse_port_ranges


def test_ranges_and_single_ports_sorted() -> None:
    assert parse_port_ranges(" 12000, 8000-9999 ,80") == PortRanges(
        ((80, 80), (8000, 9999), (12000, 12000))
    )
    assert str(parse_port_ranges("12000,8000-9999")) == "8000-9999,12000"


def test_empty_is_none_at_all() -> None:
    for text in ("", " ", ",,"):
        ranges = parse_port_ranges(text)
        assert (ranges, bool(ranges), 8000 in ranges) == (PortRanges(), False, False)


def test_membership_is_inclusive() -> None:
    ranges = parse_port_ranges("8000-8002,9000")
    assert [port in ranges for port in (7999, 8000, 8002, 8003, 9000, 9001)] == [
        False,
        True,
        True,
        False,
        True,
        False,
    ]
    assert "8000" not in ranges


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("http", "'http' is not a port number"),
        ("8000-", "'' is not a port number"),
        ("-5", "'' is not a port number"),
        ("0", "port 0 is not between 1 and 65535"),
        ("70000", "port 70000 is not between 1 and 65535"),
        ("9000-8000", "the range '9000-8000' ends before it starts"),
        ("1-2-3", "'2-3' is not a port number"),
    ],
)
def test_bad_lists_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:  # noqa: PT011 (the whole message is checked)
        parse_port_ranges(text)
    assert str(raised.value) == message


def test_the_trait_keeps_the_text_and_refuses_a_bad_list() -> None:
    class Options(HasTraits):
        ports = PortRangesTrait("")

    options = Options(ports="8000-9999")
    assert options.ports == "8000-9999"
    with pytest.raises(TraitError) as raised:
        options.ports = "8000,x"
    assert str(raised.value) == (
        "Invalid port list '8000,x': 'x' is not a port number "
        "(expected a list of ports and port ranges such as 8000-9999,12000)"
    )
