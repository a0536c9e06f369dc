"""notebook-http mode behind auth_token and base_url, configured by KG_* variables."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from conftest import Gateway, GatewayFactory

API = Path(__file__).parent / "notebooks" / "api.ipynb"


@pytest.fixture(scope="module")
def guarded(module_gateway_factory: GatewayFactory) -> Gateway:
    """api.ipynb chosen by KG_* variables, behind a token, under /base."""
    env = {
        "KG_API": "notebook-http",
        "KG_SEED_URI": str(API),
        "KG_MAX_BODY_SIZE": "100",
        "KG_SHOW_TRACEBACKS": "true",
    }
    return module_gateway_factory(
        "--auth_token=t", "--base_url=/base", env=env, ready_path="/seeded"
    )


def anonymous(gateway: Gateway) -> Gateway:
    return replace(gateway, token="")


@pytest.mark.parametrize("path", ["/seeded", "/users/me", "/_api/spec/swagger.json", "/nope"])
def test_token_is_required(guarded: Gateway, path: str) -> None:
    status, body = anonymous(guarded).json("GET", path)
    assert status == 401
    assert body["reason"] == "Unauthorized"


def test_405_is_not_told_before_the_token(guarded: Gateway) -> None:
    assert anonymous(guarded).request("DELETE", "/echo")[0] == 401


def test_token_in_header_or_query(guarded: Gateway) -> None:
    client = anonymous(guarded)
    assert client.json("GET", "/seeded", headers={"Authorization": "token t"}) == (
        200,
        {"seeded": True},
    )
    assert client.json("GET", "/seeded?token=t") == (200, {"seeded": True})
    assert client.request("GET", "/seeded", headers={"Authorization": "token u"})[0] == 401
    assert client.request("GET", "/seeded?token=tt")[0] == 401


def test_base_url_prefixes_every_route(guarded: Gateway) -> None:
    assert guarded.json("GET", "/users/42") == (200, {"id": "42"})
    assert guarded.json("GET", "/_api/spec/swagger.json")[0] == 200
    assert guarded.json("GET", "/_api/spec/openapi.json")[0] == 200
    assert guarded.json("GET", "/api")[0] == 200
    root = replace(guarded, base_url="/")
    for path in ("/seeded", "/users/42", "/_api/spec/swagger.json", "/api"):
        assert root.request("GET", path)[0] == 404, path


def test_kg_max_body_size(guarded: Gateway) -> None:
    text = {"Content-Type": "text/plain"}
    assert guarded.request("POST", "/echo", "x" * 101, text)[0] == 413
    assert guarded.request("POST", "/echo", "x" * 100, text)[0] == 200


def test_source_and_public_are_off_by_default(guarded: Gateway) -> None:
    assert guarded.request("GET", "/_api/source")[0] == 404
    assert guarded.request("GET", "/public/api.ipynb")[0] == 404


def test_kg_show_tracebacks_gives_the_traceback_as_plain_text(guarded: Gateway) -> None:
    status, body = guarded.json("GET", "/fail")
    assert status == 500
    assert body["message"].startswith(
        'cell 22 "# GET /fail": ValueError: boom (line 2 of the cell)\n'
    )
    assert "Traceback (most recent call last)" in body["message"]
    assert "----> 2 raise ValueError(" in body["message"]  # the line in the user's cell
    assert "\x1b" not in body["message"]


def test_a_traceback_never_shows_the_request(
    guarded: Gateway, gateway_factory: GatewayFactory
) -> None:
    """The execute path puts the REQUEST assignment on the annotation's line; the traceback
    quotes that line as the fast path shows it, without the request's headers."""
    env = {
        "KG_API": "notebook-http",
        "KG_SEED_URI": str(API),
        "KG_SHOW_TRACEBACKS": "true",
        "KG_FAST_PATH": "false",
    }
    executes = gateway_factory("--auth_token=t", "--base_url=/base", env=env, ready_path="/seeded")
    secret = {"X-Secret": "s3cr3t"}
    fast, execute = (server.json("GET", "/fail", headers=secret) for server in (guarded, executes))
    assert execute == fast
    status, body = execute
    assert status == 500
    assert "1 # GET /fail\n" in body["message"]
    assert "s3cr3t" not in body["message"]
    assert "token t" not in body["message"]
