"""The pure parts of served apps: the serve setting, their notebooks, addresses, the route
test, and the health probe (against small asyncio servers, no kernel)."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from app_helpers import notebook
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

from kernel_gateway.base.routing import WhenPath, under
from kernel_gateway.errors import StartupError
from kernel_gateway.notebook_http.apps.settings import AppSettings, ServeSpec, read_settings
from kernel_gateway.notebook_http.served import ServeAddress
from kernel_gateway.notebook_http.version import ParseOptions, build_version
from kernel_gateway.services.proxy import Upstream, answers


def test_the_serve_setting() -> None:
    port = read_settings({"kernel_gateway": {"serve": {"port": "auto"}}}, AppSettings())
    assert port == AppSettings(serve=ServeSpec("port", "/"))
    socket = {"kernel_gateway": {"serve": {"socket": "auto", "health": "/healthz"}, "idle_stop": 5}}
    assert read_settings(socket, AppSettings()) == AppSettings(
        idle_stop=5.0, serve=ServeSpec("socket", "/healthz")
    )


@pytest.mark.parametrize(
    ("serve", "message"),
    [
        ("auto", r"serve must be an object such as \{\"port\": \"auto\"\}, not 'auto'"),
        ({"port": 8000}, 'serve must hold "port": "auto" or "socket": "auto"'),
        ({"port": "auto", "socket": "auto"}, 'must hold "port": "auto" or "socket": "auto"'),
        ({}, 'must hold "port": "auto" or "socket": "auto"'),
        ({"port": "auto", "host": "x"}, r"serve\.host is not a setting; known: port, socket"),
        ({"port": "auto", "health": "healthz"}, "health must be a path starting with /"),
        ({"port": "auto", "health": "/a b"}, "health must be a path starting with /"),
    ],
)
def test_bad_serve_settings_say_what_is_wrong(serve: object, message: str) -> None:
    with pytest.raises(StartupError, match=message):
        read_settings({"kernel_gateway": {"serve": serve}}, AppSettings())


def test_a_served_app_has_one_kernel() -> None:
    section = {"serve": {"port": "auto"}, "prespawn_count": 2}
    with pytest.raises(StartupError, match="prespawn_count must be 1 for a served app"):
        read_settings({"kernel_gateway": section}, AppSettings())


def test_every_code_cell_of_a_served_notebook_is_seed_code() -> None:
    cells = ("import os", "# GET /x\nprint(1)", "start()")
    served = notebook(*cells, metadata={"kernel_gateway": {"serve": {"port": "auto"}}})
    served["cells"].insert(1, {"cell_type": "markdown", "id": "m", "metadata": {}, "source": "x"})
    options = ParseOptions(
        "kernel_gateway.notebook_http.cell.parser", {}, 100, False, AppSettings()
    )
    version = build_version(served, "abc", options, "srv", "/apps/srv")
    assert (version.parsed.seed_cells, version.parsed.endpoints, version.routes) == (cells, (), ())
    assert version.seed_positions == (1, 3, 4)
    assert version.settings.serve == ServeSpec("port", "/")


def test_a_port_address_and_its_env() -> None:
    address = ServeAddress(ServeSpec("port"))
    port = str(address.port)
    assert address.env("/base/apps/a") == {
        "KG_SERVE_PORT": port,
        "PORT": port,
        "KG_SERVE_PREFIX": "/base/apps/a",
    }
    assert address.upstream({"transport": "tcp", "ip": "0.0.0.0"}) == Upstream(
        "127.0.0.1", address.port
    )
    address.remove()  # nothing to remove


def test_a_socket_address_lives_in_a_private_folder_removed_with_it() -> None:
    address = ServeAddress(ServeSpec("socket"))
    folder = Path(address.folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert address.env("/apps/a") == {
        "KG_SERVE_SOCKET": str(folder / "server.sock"),
        "KG_SERVE_PREFIX": "/apps/a",
    }
    assert address.upstream({}) == Upstream(socket_path=str(folder / "server.sock"))
    (folder / "server.sock").write_text("left by a server")
    address.remove()
    assert not folder.exists()


def request(path: str) -> HTTPServerRequest:
    line = RequestStartLine("GET", path, "HTTP/1.1")
    return HTTPServerRequest(headers=HTTPHeaders({"Host": "x"}), start_line=line)


def test_a_path_pattern_that_asks_about_its_arguments() -> None:
    served = {"a"}
    pattern = WhenPath(r"/apps/(?P<slug>[a-z]+)(?:/.*)?", lambda kw: kw["slug"] in served)
    found = pattern.match(request("/apps/a/x"))
    assert found == {"path_args": [], "path_kwargs": {"slug": b"a"}}
    assert pattern.match(request("/apps/b/x")) is None
    assert pattern.match(request("/other")) is None
    prefixed = under("/base", pattern)
    assert isinstance(prefixed, WhenPath)
    assert prefixed.match(request("/base/apps/a")) is not None
    assert prefixed.match(request("/apps/a")) is None
    assert under("/base", "/x") == "/base/x"


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def replying(data: bytes) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(data)
        await writer.drain()
        writer.close()

    return handle


async def test_the_probe_takes_any_status_line_as_an_answer(tmp_path: Path) -> None:
    answered = await asyncio.start_server(replying(b"HTTP/1.1 404 Not Found\r\n\r\n"), "127.0.0.1")
    garbage = await asyncio.start_server(replying(b"SSH-2.0-OpenSSH\r\n"), "127.0.0.1")
    path = str(tmp_path / "s.sock")
    unix = await asyncio.start_unix_server(replying(b"HTTP/1.0 500 Oops\r\n\r\n"), path)
    async with answered, garbage, unix:
        port = answered.sockets[0].getsockname()[1]
        assert await answers(Upstream("127.0.0.1", port), "/health", 5)
        assert await answers(Upstream(socket_path=path), "/", 5)
        port = garbage.sockets[0].getsockname()[1]
        assert not await answers(Upstream("127.0.0.1", port), "/", 5)
        assert not await answers(Upstream(socket_path=str(tmp_path / "none.sock")), "/", 5)


async def test_the_probe_gives_up_on_a_server_that_never_answers() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the probe hangs up
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1")
    async with server:
        port = server.sockets[0].getsockname()[1]
        assert not await answers(Upstream("127.0.0.1", port), "/", 0.2)
