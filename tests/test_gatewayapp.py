"""The app from outside: KG_* variables and the config file on a real server, base_url, api
values, the kernel environment, TLS and trust_xheaders."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import (
    Gateway,
    GatewayFactory,
    child_pids,
    serving,
    wait_until_serving,
    write_notebook,
)

from kernel_gateway import __version__

TOKEN = "env-token-7f3a9c"


@pytest.fixture(scope="module")
def env_gateway(
    module_gateway_factory: GatewayFactory, tmp_path_factory: pytest.TempPathFactory
) -> Gateway:
    """A gateway configured by KG_* variables alone, running in an empty folder."""
    workdir = tmp_path_factory.mktemp("cwd")
    env = {
        "KG_BASE_URL": "/env",
        "KG_AUTH_TOKEN": TOKEN,
        "KG_LIST_KERNELS": "True",
        "KG_ALLOW_ORIGIN": "*",
        "KG_TRUST_XHEADERS": "1",
        "KG_MAX_KERNELS": "1",
        "KG_ENV_PROCESS_WHITELIST": "KG_AUTH_TOKEN, GW_VISIBLE",
        "GW_VISIBLE": "inherited",
    }
    gateway = module_gateway_factory(
        "--log-level=DEBUG", env=env, ready_path="/env/api", cwd=workdir
    )
    gateway.base_url = "/env"
    gateway.token = TOKEN
    return gateway


def test_env_sets_base_url_and_token(env_gateway: Gateway) -> None:
    assert env_gateway.json("GET", "/api") == (200, {"version": __version__})


def test_env_variables_configure_a_real_server(env_gateway: Gateway) -> None:
    status, headers, body = env_gateway.request("GET", "/api/kernels")
    assert (status, json.loads(body)) == (200, [])
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert env_gateway.request("GET", "/api", headers={"Authorization": "token wrong"})[0] == 401
    env_gateway.base_url = "/"
    try:
        assert env_gateway.request("GET", "/api")[0] == 404
    finally:
        env_gateway.base_url = "/env"


def test_trusted_x_real_ip_is_the_logged_remote_ip(env_gateway: Gateway) -> None:
    status, _, _ = env_gateway.request("GET", "/api/nowhere", headers={"X-Real-Ip": "203.0.113.7"})
    assert status == 404
    assert wait_for_log(env_gateway, "GET /env/api/nowhere (203.0.113.7)")


def wait_for_log(gateway: Gateway, text: str, timeout: float = 5.0) -> bool:
    """True once `text` shows in the gateway's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in gateway.log():
            return True
        time.sleep(0.05)
    return False


def kernel_environ(gateway: Gateway) -> dict[str, str]:
    """The environment of the gateway's only kernel process, read from /proc."""
    (pid,) = child_pids(gateway.process.pid)
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {name.decode(): value.decode(errors="replace") for name, value in pairs}


def test_the_token_never_reaches_a_kernel(env_gateway: Gateway) -> None:
    body = {"name": "python3", "env": {"KG_AUTH_TOKEN": TOKEN, "KERNEL_COLOUR": "blue"}}
    status, model = env_gateway.json("POST", "/api/kernels", body)
    assert status == 201, model
    environ = kernel_environ(env_gateway)
    assert (environ.get("GW_VISIBLE"), environ.get("KERNEL_COLOUR")) == ("inherited", "blue")
    assert "KG_AUTH_TOKEN" not in environ
    assert [name for name, value in environ.items() if TOKEN in value] == []


def test_max_kernels_from_env_refuses_a_second_kernel(env_gateway: Gateway) -> None:
    status, body = env_gateway.json("POST", "/api/kernels", {"name": "python3"})
    assert status == 403, body


def test_connection_files_stay_out_of_the_working_folder(env_gateway: Gateway) -> None:
    (pid,) = child_pids(env_gateway.process.pid)
    workdir = Path(f"/proc/{env_gateway.process.pid}/cwd").resolve()
    assert sorted(path.name for path in workdir.iterdir()) == []
    connection_file = Path(Path(f"/proc/{pid}/cmdline").read_text().split("\0")[-2])
    assert connection_file.parent != workdir
    assert connection_file.stat().st_mode & 0o077 == 0


def test_the_token_never_shows_in_the_debug_log(env_gateway: Gateway) -> None:
    env_gateway.token = ""
    try:
        env_gateway.request("GET", f"/api/kernels?token={TOKEN}")
        env_gateway.request("HEAD", f"/api/kernels?token={TOKEN}&x=1")
        env_gateway.request("GET", f"/api/nowhere?%74oken={TOKEN}")  # tornado decodes names
        env_gateway.request("GET", f"/api/nowhere?a=1;token={TOKEN}")
        env_gateway.request("GET", f"/api/nowhere?a=b&token={TOKEN}")
    finally:
        env_gateway.token = TOKEN
    assert wait_for_log(env_gateway, "/env/api/nowhere?a=b&token=[secret]")
    log = env_gateway.log()
    assert "DEBUG" in log or "[D " in log or "Connecting to" in log
    assert TOKEN not in log


@pytest.fixture(scope="module")
def file_gateway(
    module_gateway_factory: GatewayFactory, tmp_path_factory: pytest.TempPathFactory
) -> Gateway:
    """A gateway whose config file, KG_BASE_URL and --base_url all disagree."""
    config_dir = tmp_path_factory.mktemp("config")
    (config_dir / "jupyter_kernel_gateway_config.py").write_text(
        "c.KernelGatewayApp.base_url = '/file'\n"
        "c.KernelGatewayApp.allow_origin = 'https://file.example'\n"
    )
    env = {"JUPYTER_CONFIG_DIR": str(config_dir), "KG_BASE_URL": "/env", "KG_MAX_AGE": "60"}
    return module_gateway_factory("--base_url=/gw", env=env)


def test_command_line_beats_config_file_beats_env(file_gateway: Gateway) -> None:
    status, headers, _ = file_gateway.request("GET", "/api")
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "https://file.example"
    assert headers["Access-Control-Max-Age"] == "60"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/gw/api", 200),
        ("/gw/api/", 200),
        ("/gw/api/kernelspecs", 200),
        ("/gw/api/kernelspecs/python3", 200),
        ("/api", 404),
        ("/api/kernelspecs", 404),
        ("/file/api", 404),
        ("/env/api", 404),
        ("/gwapi", 404),
    ],
)
def test_base_url_prefixes_every_route(file_gateway: Gateway, path: str, status: int) -> None:
    file_gateway.base_url = "/"
    try:
        got, headers, body = file_gateway.request("GET", path)
    finally:
        file_gateway.base_url = "/gw"
    assert got == status
    assert headers["Content-Type"].startswith("application/json")
    if status == 404:
        assert set(json.loads(body)) == {"reason", "message"}


def test_untrusted_x_real_ip_is_ignored(file_gateway: Gateway) -> None:
    file_gateway.request("GET", "/api/nowhere", headers={"X-Real-Ip": "203.0.113.8"})
    assert wait_for_log(file_gateway, "GET /gw/api/nowhere (127.0.0.1)")
    assert "203.0.113.8" not in file_gateway.log()


API_VALUES = [
    "jupyter-websocket",
    "kernel_gateway.jupyter_websocket",
    "notebook-http",
    "kernel_gateway.notebook_http",
]


@pytest.fixture(scope="module")
def api_gateways(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Gateway]]:
    """One gateway per api value, started together."""
    notebook = write_notebook(
        tmp_path_factory.mktemp("notebook") / "hello.ipynb", '# GET /hello\nprint("hello")'
    )
    with serving(tmp_path_factory) as start:
        gateways = {
            api: start(f"--api={api}", f"--seed_uri={notebook}", wait=False) for api in API_VALUES
        }
        for gateway in gateways.values():
            wait_until_serving(gateway, "/api")
        yield gateways


@pytest.mark.parametrize("api", API_VALUES)
def test_api_accepts_short_and_module_names(api_gateways: dict[str, Gateway], api: str) -> None:
    gateway = api_gateways[api]
    if "websocket" in api:
        status, specs = gateway.json("GET", "/api/kernelspecs")
        assert (status, "python3" in specs["kernelspecs"]) == (200, True)  # type: ignore[index]
        assert gateway.request("GET", "/hello")[0] == 404
    else:
        assert gateway.request("GET", "/hello")[:1] == (200,)
        assert gateway.request("GET", "/hello")[2].strip() == b"hello"
        assert gateway.request("GET", "/api/kernelspecs")[0] == 404
    assert "mode) at http://127.0.0.1" in gateway.log()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made with openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed, and the cryptography package is not either")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    request = "req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"
    san = ["-addext", "subjectAltName=IP:127.0.0.1"]
    files = ["-keyout", str(key), "-out", str(cert)]
    subprocess.run([openssl, *request.split(), *san, *files], check=True, capture_output=True)
    return cert, key


def https_get(url: str, context: ssl.SSLContext, deadline: float) -> bytes:
    """GET `url` over TLS, retrying until the server listens or `deadline` passes."""
    while True:
        try:
            with urllib.request.urlopen(url, context=context, timeout=10) as response:
                return bytes(response.read())
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
        except urllib.error.URLError as err:
            if not isinstance(err.reason, ConnectionRefusedError) or time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def test_tls_with_a_client_certificate(
    gateway_factory: GatewayFactory, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    gateway = gateway_factory(
        f"--certfile={cert}", f"--keyfile={key}", f"--client-ca={cert}", wait=False
    )
    url = f"https://127.0.0.1:{gateway.port}/api"
    context = ssl.create_default_context(cafile=str(cert))
    context.load_cert_chain(str(cert), str(key))
    body = https_get(url, context, time.monotonic() + 60)
    assert json.loads(body) == {"version": __version__}
    anonymous = ssl.create_default_context(cafile=str(cert))
    with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
        https_get(url, anonymous, time.monotonic())
    assert f"at https://127.0.0.1:{gateway.port}/" in gateway.log()


def test_every_option_has_a_kg_variable_named_in_its_help() -> None:
    from kernel_gateway.config import class_options
    from kernel_gateway.gatewayapp import UNUSED_SERVER_OPTIONS, KernelGatewayApp
    from kernel_gateway.jupyter_websocket import JupyterWebsocketPersonality
    from kernel_gateway.notebook_http import NotebookHTTPPersonality
    from kernel_gateway.services.kernels.manager import MappingKernelManager

    without_variable = {
        "kernel_manager_class",
        "kernel_spec_manager_class",
        "comment_prefix",
        *UNUSED_SERVER_OPTIONS,  # accepted from KG 3 config files, no effect
    }
    classes = [
        KernelGatewayApp,
        JupyterWebsocketPersonality,
        NotebookHTTPPersonality,
        MappingKernelManager,
    ]
    unnamed = [
        f"{cls.__name__}.{name}"
        for cls in classes
        for name, trait in class_options(cls).items()
        if name not in without_variable
        and not (
            str(trait.metadata.get("env", "")).startswith("KG_")
            and f"({trait.metadata['env']} env var" in trait.help
        )
    ]
    assert unnamed == []


def test_kernel_pool_size_is_the_number_of_warm_kernels(gateway_factory: GatewayFactory) -> None:
    gateway = gateway_factory("--KernelGatewayApp.kernel_pool_size=1")  # filled before serving
    assert len(child_pids(gateway.process.pid)) == 1


def test_a_connection_that_never_finishes_its_headers_is_closed(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = gateway_factory("--KernelGatewayApp.http_idle_timeout=1")
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as slow:
        slow.sendall(b"GET /api HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # ...and nothing more
        started = time.monotonic()
        assert slow.recv(1024) == b""  # closed by the gateway
        assert time.monotonic() - started > 0.5  # after the idle timeout, not at once
    assert gateway.request("GET", "/api")[0] == 200


UNPARSEABLE_REQUESTS = {
    "garbage request line": b"GARBAGE\r\n\r\n",
    "header without a colon": b"GET /api HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",
    "bad content length": b"POST /api/kernels HTTP/1.1\r\nHost: x\r\nContent-Length: ab\r\n\r\n",
    "bad chunk size": b"POST /api/kernels HTTP/1.1\r\nHost: x\r\n"
    b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
}


@pytest.mark.parametrize("request_bytes", UNPARSEABLE_REQUESTS.values(), ids=UNPARSEABLE_REQUESTS)
def test_a_request_that_is_not_http_gets_a_json_400_and_the_gateway_serves_on(
    env_gateway: Gateway, request_bytes: bytes
) -> None:
    with socket.create_connection(("127.0.0.1", env_gateway.port), timeout=10) as sock:
        sock.sendall(request_bytes)
        answer = b""
        while chunk := sock.recv(65536):  # then the gateway closes the connection
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 Bad Request\r\n"), answer
    assert b"\r\nContent-Type: application/json" in head
    assert json.loads(body) == {
        "reason": "Bad Request",
        "message": "The request is not valid HTTP/1.1",
    }
    assert env_gateway.request("GET", "/api")[0] == 200
