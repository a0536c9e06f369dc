"""WhenPath: a route pattern that matches only when a test of its path arguments holds.

Tornado picks a handler by the path alone; some paths belong to one handler or another by
what they name (an app's slug names a served app or an app of endpoints). A `WhenPath` in a
mode's route table matches its pattern, then asks `accept(path_kwargs)`; tornado goes on to
the next route when it says no. Patterns are relative like every route's: `under` prefixes
base_url to either kind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tornado.httputil import HTTPServerRequest
from tornado.routing import PathMatches

Accept = Callable[[dict[str, str]], bool]


class WhenPath(PathMatches):
    """`pattern`, matched only when `accept` says yes to its named groups."""

    def __init__(self, pattern: str, accept: Accept) -> None:
        super().__init__(pattern)
        self.pattern = pattern
        self.accept = accept

    def match(self, request: HTTPServerRequest) -> dict[str, Any] | None:
        found = super().match(request)
        if found is None:
            return None
        kwargs = found["path_kwargs"].items()
        named = {name: value.decode(errors="replace") for name, value in kwargs if value}
        return found if self.accept(named) else None


def under(prefix: str, pattern: str | WhenPath) -> str | WhenPath:
    """`pattern` below the path `prefix` (base_url)."""
    if isinstance(pattern, WhenPath):
        return WhenPath(prefix + pattern.pattern, pattern.accept)
    return prefix + pattern
