"""Paths, their URL patterns and the order routes are tried."""

from __future__ import annotations

import re

import pytest

from kernel_gateway.errors import StartupError
from kernel_gateway.notebook_http.endpoints import (
    Endpoint,
    Route,
    compile_path,
    group_routes,
    normalize_path,
    path_params,
    sort_routes,
)


def endpoint(method: str, path: str, cell: int = 1) -> Endpoint:
    return Endpoint(method=method, path=path, source=f"# {method} {path}", cell_index=cell)


def first_match(routes: list[Route], url: str) -> tuple[str, dict[str, str]] | None:
    """What tornado does: the first pattern matching from the start, `$` appended."""
    for route in routes:
        match = re.match(route.pattern, url)
        if match:
            return route.path, match.groupdict()
    return None


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", "/"),
        ("/hello", "/hello"),
        ("/hello/", "/hello"),
        ("/users/:id/", "/users/:id"),
        ("/a/:x/b/:y", "/a/:x/b/:y"),
    ],
)
def test_normalize_path(path: str, expected: str) -> None:
    assert normalize_path(path) == expected


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "empty path"),
        ("hello", "path 'hello' must start with '/'"),
        ("/a//b", "path '/a//b' has an empty segment"),
        ("/a b", "path '/a b' must not contain whitespace"),
        ("/a/:", "path parameter ':' must be a name like ':id'"),
        ("/a/:user-id", "path parameter ':user-id' must be a name like ':id'"),
        ("/a/:id/:id", "path parameter 'id' appears twice in '/a/:id/:id'"),
    ],
)
def test_normalize_path_rejects(path: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        normalize_path(path)


def test_path_params() -> None:
    assert path_params("/a/:x/b/:y") == ("x", "y")
    assert endpoint("GET", "/users/:id").params == ("id",)
    assert path_params("/") == ()


@pytest.mark.parametrize(
    ("path", "pattern"),
    [
        ("/", "/$"),
        ("/hello", "/hello/?$"),
        ("/users/:id", "/users/(?P<id>[^/]+)/?$"),
        ("/a.b/:x", r"/a\.b/(?P<x>[^/]+)/?$"),
        ("/café", "/caf%C3%A9/?$"),
    ],
)
def test_compile_path(path: str, pattern: str) -> None:
    assert compile_path(path) == pattern


def test_compiled_pattern_matches_with_and_without_trailing_slash() -> None:
    pattern = compile_path("/users/:id")
    assert re.match(pattern, "/users/42").groupdict() == {"id": "42"}  # type: ignore[union-attr]
    assert re.match(pattern, "/users/42/").groupdict() == {"id": "42"}  # type: ignore[union-attr]
    assert re.match(pattern, "/users/42/x") is None
    assert re.match(pattern, "/users/") is None


def test_sort_routes_orders_longer_then_literal_first() -> None:
    paths = ["/", "/users/:id", "/a/:x/:z", "/users/me", "/hello", "/a/:x/b", "/users/me"]
    assert sort_routes(paths) == ["/a/:x/b", "/a/:x/:z", "/users/me", "/users/:id", "/hello", "/"]


def test_group_routes_whatever_the_cell_order() -> None:
    cells = [
        endpoint("GET", "/users/:id", 1),
        endpoint("DELETE", "/users/:id", 2),
        endpoint("GET", "/users/me", 3),
        endpoint("GET", "/", 4),
        endpoint("POST", "/users", 5),
    ]
    routes = group_routes(cells)
    assert routes == [
        Route("/users/me", "/users/me/?$", {"GET": cells[2]}),
        Route("/users/:id", "/users/(?P<id>[^/]+)/?$", {"GET": cells[0], "DELETE": cells[1]}),
        Route("/users", "/users/?$", {"POST": cells[4]}),
        Route("/", "/$", {"GET": cells[3]}),
    ]
    assert routes[1].methods == ("GET", "DELETE")
    assert first_match(routes, "/users/me/") == ("/users/me", {})
    assert first_match(routes, "/users/7") == ("/users/:id", {"id": "7"})
    assert first_match(routes, "/users/") == ("/users", {})
    assert first_match(routes, "/") == ("/", {})
    assert first_match(routes, "/nope") is None


def test_group_routes_literal_beats_parameter_at_first_difference() -> None:
    routes = group_routes(
        [endpoint("GET", "/a/:x/:z"), endpoint("GET", "/a/:x/b"), endpoint("GET", "/a/b/:z")]
    )
    assert [r.path for r in routes] == ["/a/b/:z", "/a/:x/b", "/a/:x/:z"]
    assert first_match(routes, "/a/b/b") == ("/a/b/:z", {"z": "b"})
    assert first_match(routes, "/a/c/b") == ("/a/:x/b", {"x": "c"})
    assert first_match(routes, "/a/c/d") == ("/a/:x/:z", {"x": "c", "z": "d"})


def test_group_routes_rejects_same_urls_under_other_names() -> None:
    with pytest.raises(StartupError) as info:
        group_routes([endpoint("GET", "/users/:id", 2), endpoint("DELETE", "/users/:uid", 5)])
    assert str(info.value) == (
        "cell 5: DELETE /users/:uid matches the same URLs as GET /users/:id (cell 2); "
        "use the same parameter names"
    )
