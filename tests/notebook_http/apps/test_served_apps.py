"""Served apps: web servers that an app's notebook starts, proxied under /apps/<slug>/.

Real kernels and real servers: the FastAPI examples of etc/apps (uvicorn in a thread of the
kernel, on a port and on a unix socket) and stdlib servers, in a thread or a subprocess of the
kernel. One gateway serves the module; the start time-out has a gateway of its own.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import shutil
import signal
import stat
from pathlib import Path
from typing import Any

import pytest
from app_helpers import model, poll, write_app
from conftest import ROOT, Gateway, GatewayFactory, process_alive
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

APPS = ROOT / "etc" / "apps"
TOKEN = "served-token"
PORT = {"kernel_gateway": {"serve": {"port": "auto"}}}
THREAD_SERVER = """import http.server, os, threading

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        prefix = self.headers.get("X-Forwarded-Prefix")
        body = f"{self.path} {prefix} {os.getpid()}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

httpd = http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["KG_SERVE_PORT"])), Handler)
threading.Thread(target=httpd.serve_forever, daemon=True).start()"""
# a server in a subprocess of the kernel (its process group), serving the app folder
SUBPROCESS_SERVER = """import os, subprocess, sys
with open("kernel.pid", "w") as f:
    f.write(str(os.getpid()))
command = [sys.executable, "-m", "http.server", os.environ["PORT"], "--bind", "127.0.0.1"]
server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
with open("server.pid", "w") as f:
    f.write(str(server.pid))"""

# a server detached from the kernel by a shell (no longer its child, still in its group)
DETACHED_SERVER = """import os, subprocess, sys
command = f"{sys.executable} -m http.server {os.environ['PORT']} --bind 127.0.0.1"
subprocess.run(["sh", "-c", f"{command} >/dev/null 2>&1 & echo $! > server.pid"], check=True)"""


def with_idle_stop(path: Path, seconds: float) -> None:
    """Copy of an example notebook with its own idle_stop."""
    notebook = json.loads(path.read_text())
    notebook["metadata"]["kernel_gateway"]["idle_stop"] = seconds
    path.write_text(json.dumps(notebook))


@pytest.fixture(scope="module")
def apps_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("served")
    shutil.copy(APPS / "notes.ipynb", folder / "notes.ipynb")
    shutil.copy(APPS / "chat.ipynb", folder / "chat.ipynb")
    shutil.copy(APPS / "chat.ipynb", folder / "idlechat.ipynb")
    with_idle_stop(folder / "idlechat.ipynb", 1)
    write_app(folder / "plain.ipynb", THREAD_SERVER, metadata=PORT)
    write_app(folder / "guarded.ipynb", THREAD_SERVER, metadata=PORT)
    for slug in ("srvkill", "kernkill"):
        write_app(folder / slug / "app.ipynb", SUBPROCESS_SERVER, metadata=PORT)
    idle = {"kernel_gateway": {"serve": {"port": "auto"}, "idle_stop": 1}}
    write_app(folder / "idleproc" / "app.ipynb", DETACHED_SERVER, metadata=idle)
    return folder


@pytest.fixture(scope="module")
def gateway(module_gateway_factory: GatewayFactory, apps_dir: Path) -> Gateway:
    return module_gateway_factory(
        "--api=notebook-http",
        f"--NotebookHTTPPersonality.apps_dir={apps_dir}",
        f"--auth_token={TOKEN}",
        "--NotebookHTTPPersonality.app_start_timeout=60",
        ready_path="/_api/apps",
    )


def server_of(gateway: Gateway, slug: str) -> dict[str, Any]:
    server = model(gateway, slug)["server"]
    assert isinstance(server, dict)
    return server


def unfollowed(gateway: Gateway, path: str) -> tuple[int, str]:
    """GET `path` without following a redirect: (status, Location)."""
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=60)
    try:
        connection.request("GET", path, headers={"Authorization": f"token {TOKEN}"})
        answer = connection.getresponse()
        answer.read()
        return answer.status, answer.getheader("Location", "")
    finally:
        connection.close()


def text(gateway: Gateway, path: str) -> str:
    status, _, body = gateway.request("GET", path)
    assert status == 200, body
    return body.decode()


def test_a_fastapi_app_answers_under_its_prefix_with_links_that_carry_it(gateway: Gateway) -> None:
    status, index = gateway.json("GET", "/apps/notes/")
    assert status == 200, index
    base = f"{gateway.http_url}/apps/notes"
    assert index == {
        "notes": 0,
        "add": f"{base}/notes",
        "latest": f"{base}/latest",
        "docs": f"{base}/docs",
    }
    status, created = gateway.json("POST", "/apps/notes/notes", {"text": "milk"})
    assert (status, created) == (201, {"id": 1, "url": f"{base}/notes/1"})
    assert unfollowed(gateway, "/apps/notes/latest") == (307, f"{base}/notes/1")
    assert gateway.json("GET", "/apps/notes/notes/1") == (200, {"id": 1, "text": "milk"})
    assert "url: '/apps/notes/openapi.json'" in text(gateway, "/apps/notes/docs")
    notes = model(gateway, "notes")
    assert (notes["state"], notes["endpoints"], notes["kernels"]) == ("running", [], 1)
    assert notes["server"]["status"] == "answering"
    assert notes["server"]["address"].startswith("127.0.0.1:")


def test_the_server_owns_every_path_and_the_bare_prefix_redirects(gateway: Gateway) -> None:
    path, prefix, _ = text(gateway, "/apps/plain/_api/spec/swagger.json?x=1").split(" ")
    assert (path, prefix) == ("/_api/spec/swagger.json?x=1", "/apps/plain")
    path, _, _ = text(gateway, "/apps/plain/public/a%20b").split(" ")
    assert path == "/public/a%20b"
    assert unfollowed(gateway, "/apps/plain") == (301, "/apps/plain/")


def model_without_token(gateway: Gateway, slug: str) -> dict[str, Any]:
    status, body = gateway.json("GET", f"/_api/apps/{slug}?token={TOKEN}")
    assert status == 200, body
    assert isinstance(body, dict)
    return body


def test_the_token_is_required_and_not_passed_on(gateway: Gateway) -> None:
    gateway.token = ""
    try:
        status, _, body = gateway.request("GET", "/apps/guarded/")
        assert status == 401, body
        assert model_without_token(gateway, "guarded")["state"] == "stopped"  # not started
        path, _, _ = text(gateway, f"/apps/guarded/x?token={TOKEN}&y=2").split(" ")
    finally:
        gateway.token = TOKEN
    assert path == "/x?y=2"


async def chat_socket(gateway: Gateway, slug: str) -> Any:
    request = HTTPRequest(
        f"{gateway.ws_url}/apps/{slug}/ws", headers={"Authorization": f"token {TOKEN}"}
    )
    return await websocket_connect(request, subprotocols=["chat.v1"])


async def test_a_websocket_page_on_a_unix_socket(gateway: Gateway) -> None:
    page = await asyncio.to_thread(text, gateway, "/apps/chat/")
    assert 'new URL("ws" + location.search, location.href)' in page
    first = await chat_socket(gateway, "chat")
    second = await chat_socket(gateway, "chat")
    assert first.selected_subprotocol == "chat.v1"
    await first.write_message("hello")
    assert await first.read_message() == "2 here | hello"
    assert await second.read_message() == "2 here | hello"
    first.close()
    second.close()
    address = (await asyncio.to_thread(server_of, gateway, "chat"))["address"]
    folder = Path(address.removeprefix("unix:")).parent
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    status, _, _ = await asyncio.to_thread(
        gateway.request, "POST", "/_api/apps/chat/reload"
    )  # a fresh pool, with a fresh socket, beside the old one
    assert status == 200
    new = await asyncio.to_thread(server_of, gateway, "chat")
    assert new["address"] != address
    await asyncio.to_thread(poll, lambda: not folder.exists(), what="the old socket's folder gone")


async def test_a_websocket_to_a_server_without_one_is_refused(gateway: Gateway) -> None:
    request = HTTPRequest(
        f"{gateway.ws_url}/apps/plain/ws", headers={"Authorization": f"token {TOKEN}"}
    )
    with pytest.raises(HTTPClientError) as refused:
        await websocket_connect(request)
    assert refused.value.code == 502


def pid_of(gateway: Gateway, slug: str, name: str) -> int:
    return int(text(gateway, f"/apps/{slug}/{name}.pid"))


def restarted(gateway: Gateway, slug: str, count: int) -> dict[str, Any] | None:
    server = server_of(gateway, slug)
    done = server["restarts"] == count and server["status"] == "answering"
    return server if done else None


def test_a_server_that_stops_answering_gets_its_kernel_restarted(gateway: Gateway) -> None:
    server_pid, kernel_pid = (
        pid_of(gateway, "srvkill", "server"),
        pid_of(gateway, "srvkill", "kernel"),
    )
    os.kill(server_pid, signal.SIGKILL)
    server = poll(lambda: restarted(gateway, "srvkill", 1), what="a restart")
    assert server["last_restart"]["reason"] == "the server stopped answering"
    assert pid_of(gateway, "srvkill", "server") != server_pid
    assert pid_of(gateway, "srvkill", "kernel") != kernel_pid
    assert not process_alive(kernel_pid)
    assert model(gateway, "srvkill")["state"] == "running"


def test_a_kernel_that_dies_is_restarted_and_its_server_goes_with_it(gateway: Gateway) -> None:
    server_pid, kernel_pid = (
        pid_of(gateway, "kernkill", "server"),
        pid_of(gateway, "kernkill", "kernel"),
    )
    os.kill(kernel_pid, signal.SIGKILL)
    poll(lambda: server_of(gateway, "kernkill")["status"] == "restarting", what="restarting")
    assert pid_of(gateway, "kernkill", "server") != server_pid  # waited for the new server
    server = poll(lambda: restarted(gateway, "kernkill", 1), what="a restart")
    assert server["last_restart"]["reason"] == "the kernel died"
    assert pid_of(gateway, "kernkill", "server") != server_pid
    assert not process_alive(server_pid)  # its process group was killed: no orphan server


def state(gateway: Gateway, slug: str) -> str:
    return str(model(gateway, slug)["state"])


async def test_idle_stop_counts_open_websockets_and_starts_again_on_demand(
    gateway: Gateway,
) -> None:
    socket = await chat_socket(gateway, "idlechat")
    server_pid = await asyncio.to_thread(pid_of, gateway, "idleproc", "server")
    await asyncio.to_thread(
        poll, lambda: state(gateway, "idleproc") == "stopped", what="the idle stop"
    )
    # it goes with its kernel's process group, once the kernel is shut down
    await asyncio.to_thread(poll, lambda: not process_alive(server_pid), what="the server gone")
    # idleproc went idle after idlechat's websocket opened: the check ran past idlechat's time
    assert await asyncio.to_thread(state, gateway, "idlechat") == "running"
    await socket.write_message("still here")
    assert await socket.read_message() == "1 here | still here"
    socket.close()
    await asyncio.to_thread(
        poll, lambda: state(gateway, "idlechat") == "stopped", what="the idle stop"
    )
    assert await asyncio.to_thread(pid_of, gateway, "idleproc", "server") != server_pid
    assert await asyncio.to_thread(state, gateway, "idleproc") == "running"


def test_a_server_that_never_answers_is_a_503_with_the_reason(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    write_app(tmp_path / "mute.ipynb", "import os\nPORT = os.environ['PORT']", metadata=PORT)
    socket = {"kernel_gateway": {"serve": {"socket": "auto"}}}
    write_app(tmp_path / "mutesock.ipynb", "x = 1", metadata=socket)
    quick = gateway_factory(
        "--api=notebook-http",
        f"--NotebookHTTPPersonality.apps_dir={tmp_path}",
        "--NotebookHTTPPersonality.app_start_timeout=3",
        ready_path="/_api/apps",
    )
    for slug, where in (("mute", "127.0.0.1:"), ("mutesock", "unix:")):
        status, body = quick.json("GET", f"/apps/{slug}/")
        assert status == 503, body
        assert isinstance(body, dict)
        message = body["message"]
        assert f"the server did not answer at {where}" in message
        assert message.endswith("within 3 s")
        app = model(quick, slug)
        assert (app["state"], app["server"]["status"]) == ("failed", "stopped")
    socket_path = message.split("unix:")[1].split(" ")[0]
    assert not Path(socket_path).parent.exists()  # the private folder went with the failure


# starts its server on the first seeding only: after a restart, nothing answers
ONCE_SERVER = """import os, subprocess, sys
if not os.path.exists("started-once"):
    open("started-once", "w").close()
    command = [sys.executable, "-m", "http.server", os.environ["PORT"], "--bind", "127.0.0.1"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open("server.pid", "w") as f:
        f.write(str(server.pid))"""
ENV_SERVER = THREAD_SERVER.replace("{os.getpid()}", "{os.environ['KG_SERVE_PREFIX']}")


def test_under_a_base_url_and_given_up_after_restarts_that_never_answer(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    write_app(tmp_path / "plain.ipynb", ENV_SERVER, metadata=PORT)
    write_app(tmp_path / "once" / "app.ipynb", ONCE_SERVER, metadata=PORT)
    based = gateway_factory(
        "--api=notebook-http",
        f"--NotebookHTTPPersonality.apps_dir={tmp_path}",
        "--NotebookHTTPPersonality.app_start_timeout=3",
        "--base_url=/kg",
        ready_path="/_api/apps",
    )
    assert text(based, "/apps/plain/x").split(" ") == ["/x", "/kg/apps/plain", "/kg/apps/plain"]
    server_pid = int(text(based, "/apps/once/server.pid"))
    os.kill(server_pid, signal.SIGKILL)
    once = poll(lambda: (app := model(based, "once"))["state"] == "failed" and app, what="failed")
    error = "the server did not answer after 3 restarts in a row"
    assert (once["error"], once["kernels"], once["server"]["status"]) == (error, 0, "stopped")
    status, body = based.json("GET", "/apps/once/server.pid")
    assert (status, body) == (
        503,
        {"reason": "Service Unavailable", "message": f"App once failed: {error}"},
    )
