"""Endpoints declared by a notebook, their URL patterns and the order tornado tries them.

A path is written `/users/:id`: segments starting with `:` are parameters. Paths are kept
normalized (no trailing slash except the root) and every compiled pattern also matches the
same path with a trailing slash.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

from ..errors import StartupError

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")
_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Characters RFC 3986 allows unencoded in a path segment, besides unreserved ones.
_SEGMENT_SAFE = "!$&'()*+,;=:@"


@dataclass(frozen=True)
class Endpoint:
    """One method on one path: the code it runs and how it is documented."""

    method: str
    path: str
    source: str
    response_info: str | None = None
    description: str = ""
    cell_index: int = 0
    operation_id: str | None = None
    stream: bool = False  # `# STREAM GET /path`: stdout is sent as it comes, chunked

    @property
    def params(self) -> tuple[str, ...]:
        """Names of the path parameters, in path order."""
        return path_params(self.path)


@dataclass(frozen=True)
class Route:
    """One URL pattern and the endpoints it serves, keyed by uppercase method."""

    path: str
    pattern: str
    endpoints: dict[str, Endpoint]

    @property
    def methods(self) -> tuple[str, ...]:
        """The methods this route answers, in the order of `METHODS`."""
        return tuple(m for m in METHODS if m in self.endpoints)


def _segments(path: str) -> list[str]:
    stripped = path.strip("/")
    return stripped.split("/") if stripped else []


def normalize_path(path: str) -> str:
    """Check `path` and return it without a trailing slash.

    Raises ValueError naming the problem: no leading '/', whitespace, an empty segment, a
    parameter that is not an identifier, or the same parameter twice.
    """
    if not path:
        raise ValueError("empty path")
    if not path.startswith("/"):
        raise ValueError(f"path {path!r} must start with '/'")
    if any(ch.isspace() for ch in path):
        raise ValueError(f"path {path!r} must not contain whitespace")
    body = path[1:-1] if path.endswith("/") and path != "/" else path[1:]
    segments = body.split("/") if body else []
    if "" in segments:
        raise ValueError(f"path {path!r} has an empty segment")
    seen: set[str] = set()
    for segment in segments:
        if not segment.startswith(":"):
            continue
        name = segment[1:]
        if not _PARAM_NAME.fullmatch(name):
            raise ValueError(f"path parameter {segment!r} must be a name like ':id'")
        if name in seen:
            raise ValueError(f"path parameter {name!r} appears twice in {path!r}")
        seen.add(name)
    return "/" + "/".join(segments)


def path_params(path: str) -> tuple[str, ...]:
    """Names of the `:name` segments of `path`, in order."""
    return tuple(s[1:] for s in _segments(path) if s.startswith(":"))


def compile_path(path: str) -> str:
    """The tornado URL regex of a normalized `path`: named groups, optional trailing slash.

    Literal segments are percent-encoded as a client sends them; a parameter matches one
    non-empty segment. Tornado anchors the match at the start and appends `$` itself; the
    handler layer prepends the escaped base_url.
    """
    parts = []
    for segment in _segments(path):
        if segment.startswith(":"):
            parts.append(f"(?P<{segment[1:]}>[^/]+)")
        else:
            parts.append(re.escape(quote(segment, safe=_SEGMENT_SAFE)))
    if not parts:
        return "/$"
    return "/" + "/".join(parts) + "/?$"


def route_key(path: str) -> tuple[int, tuple[int, ...], str]:
    """Sort key putting longer paths first and, at the first difference, literals first."""
    segments = _segments(path)
    kinds = tuple(1 if s.startswith(":") else 0 for s in segments)
    return (-len(segments), kinds, path)


def _shape(path: str) -> str:
    """The path with every parameter blanked: two paths of one shape match the same URLs."""
    return "/".join(":" if s.startswith(":") else s for s in _segments(path))


def sort_routes(paths: Iterable[str]) -> list[str]:
    """Distinct `paths` in the order tornado must try them."""
    return sorted(set(paths), key=route_key)


def group_routes(endpoints: Iterable[Endpoint]) -> list[Route]:
    """One Route per path, in the order tornado must try them.

    Raises StartupError when two paths match the same URLs under different parameter
    names (`/users/:id` and `/users/:uid`): the second could never be reached.
    """
    by_path: dict[str, dict[str, Endpoint]] = {}
    shapes: dict[str, Endpoint] = {}
    for endpoint in endpoints:
        first = shapes.setdefault(_shape(endpoint.path), endpoint)
        if first.path != endpoint.path:
            raise StartupError(
                f"cell {endpoint.cell_index}: {endpoint.method} {endpoint.path} matches the "
                f"same URLs as {first.method} {first.path} (cell {first.cell_index}); "
                "use the same parameter names"
            )
        by_path.setdefault(endpoint.path, {})[endpoint.method] = endpoint
    return [
        Route(path=path, pattern=compile_path(path), endpoints=by_path[path])
        for path in sort_routes(by_path)
    ]
