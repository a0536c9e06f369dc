"""Port range lists such as `8000-9999,12000`, and the option trait that holds one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from traitlets import TraitError, Unicode

HIGHEST_PORT = 65535


@dataclass(frozen=True)
class PortRanges:
    """Inclusive (first, last) port ranges; none at all means no port is allowed."""

    ranges: tuple[tuple[int, int], ...] = ()

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and any(first <= port <= last for first, last in self.ranges)

    def __bool__(self) -> bool:
        return bool(self.ranges)

    def __str__(self) -> str:
        return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in self.ranges)


def parse_port(text: str) -> int:
    """One port number, 1 to 65535; ValueError otherwise."""
    if not text.strip().isdigit():
        raise ValueError(f"{text.strip()!r} is not a port number")
    port = int(text)
    if not 1 <= port <= HIGHEST_PORT:
        raise ValueError(f"port {port} is not between 1 and {HIGHEST_PORT}")
    return port


def parse_port_ranges(text: str) -> PortRanges:
    """Parse `8000-9999,12000` (blanks allowed, empty for none); ValueError names the bad part."""
    ranges = []
    for part in text.split(","):
        if not part.strip():
            continue
        first, dash, last = part.partition("-")
        low = parse_port(first)
        high = parse_port(last) if dash else low
        if high < low:
            raise ValueError(f"the range {part.strip()!r} ends before it starts")
        ranges.append((low, high))
    return PortRanges(tuple(sorted(ranges)))


class PortRangesTrait(Unicode):  # type: ignore[type-arg]
    """A string option holding a port range list, checked when set."""

    info_text = "a list of ports and port ranges such as 8000-9999,12000"

    def validate(self, obj: Any, value: Any) -> str:
        text = super().validate(obj, value)
        try:
            parse_port_ranges(text)
        except ValueError as err:
            raise TraitError(
                f"Invalid port list {text!r}: {err} (expected {self.info_text})"
            ) from err
        return str(text)
