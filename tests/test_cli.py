"""The command line from outside: entry points, --help-all, config files, precedence, bad values,
unknown api, port in use."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import EXAMPLES, free_port, gateway_env, run_cli
from kernel_helpers import dying_kernel_argv, write_kernel_spec

BIN = Path(sys.executable).parent

# (option, KG_* variable) as --help-all must show them.
OPTIONS = [
    ("KernelGatewayApp.ip", "KG_IP"),
    ("KernelGatewayApp.port", "KG_PORT"),
    ("KernelGatewayApp.port_retries", "KG_PORT_RETRIES"),
    ("KernelGatewayApp.base_url", "KG_BASE_URL"),
    ("KernelGatewayApp.auth_token", "KG_AUTH_TOKEN"),
    ("KernelGatewayApp.allow_origin", "KG_ALLOW_ORIGIN"),
    ("KernelGatewayApp.allow_credentials", "KG_ALLOW_CREDENTIALS"),
    ("KernelGatewayApp.allow_headers", "KG_ALLOW_HEADERS"),
    ("KernelGatewayApp.allow_methods", "KG_ALLOW_METHODS"),
    ("KernelGatewayApp.expose_headers", "KG_EXPOSE_HEADERS"),
    ("KernelGatewayApp.max_age", "KG_MAX_AGE"),
    ("KernelGatewayApp.max_kernels", "KG_MAX_KERNELS"),
    ("KernelGatewayApp.prespawn_count", "KG_PRESPAWN_COUNT"),
    ("KernelGatewayApp.default_kernel_name", "KG_DEFAULT_KERNEL_NAME"),
    ("KernelGatewayApp.force_kernel_name", "KG_FORCE_KERNEL_NAME"),
    ("KernelGatewayApp.seed_uri", "KG_SEED_URI"),
    ("KernelGatewayApp.api", "KG_API"),
    ("KernelGatewayApp.certfile", "KG_CERTFILE"),
    ("KernelGatewayApp.keyfile", "KG_KEYFILE"),
    ("KernelGatewayApp.client_ca", "KG_CLIENT_CA"),
    ("KernelGatewayApp.ssl_version", "KG_SSL_VERSION"),
    ("KernelGatewayApp.trust_xheaders", "KG_TRUST_XHEADERS"),
    ("KernelGatewayApp.ws_ping_interval", "KG_WS_PING_INTERVAL_SECS"),
    ("KernelGatewayApp.env_process_whitelist", "KG_ENV_PROCESS_WHITELIST"),
    ("KernelGatewayApp.kernel_pool_size", "KG_KERNEL_POOL_SIZE"),
    ("KernelGatewayApp.shutdown_grace_period", "KG_SHUTDOWN_GRACE_PERIOD"),
    ("KernelGatewayApp.kernel_proxy_ports", "KG_KERNEL_PROXY_PORTS"),
    ("KernelGatewayApp.kernel_proxy_timeout", "KG_KERNEL_PROXY_TIMEOUT"),
    ("JupyterWebsocketPersonality.list_kernels", "KG_LIST_KERNELS"),
    ("JupyterWebsocketPersonality.env_whitelist", "KG_ENV_WHITELIST"),
    ("NotebookHTTPPersonality.allow_notebook_download", "KG_ALLOW_NOTEBOOK_DOWNLOAD"),
    ("NotebookHTTPPersonality.static_path", "KG_STATIC_PATH"),
    ("NotebookHTTPPersonality.cell_parser", "KG_CELL_PARSER"),
    ("MappingKernelManager.cull_idle_timeout", "KG_CULL_IDLE_TIMEOUT"),
    ("MappingKernelManager.cull_interval", "KG_CULL_INTERVAL"),
    ("MappingKernelManager.cull_connected", "KG_CULL_CONNECTED"),
    ("MappingKernelManager.cull_busy", "KG_CULL_BUSY"),
    ("MappingKernelManager.transport_encryption", "KG_TRANSPORT_ENCRYPTION"),
    ("KernelGatewayApp.log_requests", "KG_LOG_REQUESTS"),
]

# The class options of jupyter-kernel-gateway 3.0.1's --help-all, less the jupyter_server
# machinery we don't have (authorizer_class, cookie_secret, cookie_secret_file,
# identity_provider_class, kernel_websocket_connection_class).
KG_APP_OPTIONS = [
    "allow_credentials",
    "allow_headers",
    "allow_methods",
    "allow_origin",
    "answer_yes",
    "api",
    "auth_token",
    "base_url",
    "certfile",
    "client_ca",
    "config_file",
    "config_file_name",
    "default_kernel_name",
    "env_process_whitelist",
    "expose_headers",
    "force_kernel_name",
    "generate_config",
    "ip",
    "kernel_manager_class",
    "kernel_spec_manager_class",
    "keyfile",
    "log_datefmt",
    "log_format",
    "log_level",
    "logging_config",
    "max_age",
    "max_kernels",
    "port",
    "port_retries",
    "prespawn_count",
    "seed_uri",
    "show_config",
    "show_config_json",
    "ssl_version",
    "trust_xheaders",
    "ws_ping_interval",
]
KG_OPTIONS = [
    *(f"KernelGatewayApp.{name}" for name in KG_APP_OPTIONS),
    "NotebookHTTPPersonality.allow_notebook_download",
    "NotebookHTTPPersonality.cell_parser",
    "NotebookHTTPPersonality.comment_prefix",
    "NotebookHTTPPersonality.static_path",
    "JupyterWebsocketPersonality.env_whitelist",
    "JupyterWebsocketPersonality.list_kernels",
]
KG_ALIASES = [
    "ip",
    "port",
    "port_retries",
    "api",
    "seed_uri",
    "keyfile",
    "certfile",
    "client-ca",
    "ssl_version",
    "config",
    "log-level",
]


def option_blocks(help_text: str) -> dict[str, str]:
    """`--Class.option` -> its help block, from --help-all output."""
    blocks = re.split(r"^--", help_text, flags=re.MULTILINE)
    return {block.split("=", 1)[0].split()[0]: block for block in blocks[1:] if block.strip()}


@pytest.fixture(scope="module")
def help_all() -> str:
    result = run_cli("--help-all")
    assert result.returncode == 0, result.stdout
    return result.stdout


@pytest.mark.parametrize(
    "command",
    [
        (str(BIN / "jupyter-kernelgateway"),),
        (str(BIN / "jupyter"), "kernelgateway"),
        (sys.executable, "-m", "kernel_gateway"),
    ],
    ids=["console-script", "jupyter-subcommand", "python-m"],
)
def test_every_entry_point_prints_the_same_help(command: tuple[str, ...], help_all: str) -> None:
    env = {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = run_cli("--help-all", command=command, env=env)
    assert (result.returncode, result.stdout) == (0, help_all)


@pytest.mark.parametrize(("option", "variable"), OPTIONS)
def test_help_all_lists_option_with_its_variable(help_all: str, option: str, variable: str) -> None:
    block = option_blocks(help_all).get(option, "")
    assert variable in " ".join(block.split()), f"--{option} should name {variable}"


def test_help_all_has_every_option_of_kernel_gateway_3(help_all: str) -> None:
    blocks = option_blocks(help_all)
    assert [option for option in KG_OPTIONS if option not in blocks] == []
    assert [alias for alias in KG_ALIASES if alias not in blocks] == []


def test_help_shows_two_examples_and_points_to_help_all() -> None:
    result = run_cli("--help")
    assert result.returncode == 0, result.stdout
    examples = result.stdout.split("Examples\n--------\n", 1)[1]
    commands = [line.strip() for line in examples.splitlines() if "jupyter kernelgateway" in line]
    assert commands == [
        "jupyter kernelgateway --port=8888 --auth_token=secret",
        "jupyter kernelgateway --api=notebook-http --seed_uri=etc/api_examples/hello.ipynb",
        "Every option, with its KG_* variable: jupyter kernelgateway --help-all",
    ]


def test_version_is_printed() -> None:
    from kernel_gateway import __version__

    result = run_cli("--version")
    assert (result.returncode, result.stdout.strip()) == (0, __version__)


def test_generate_config_writes_the_config_file(tmp_path: Path) -> None:
    result = run_cli("--generate-config", env={"JUPYTER_CONFIG_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stdout
    written = (tmp_path / "jupyter_kernel_gateway_config.py").read_text()
    for line in (
        "# c.KernelGatewayApp.port = 8888",
        "# c.KernelGatewayApp.auth_token = ''",
        "# c.JupyterWebsocketPersonality.list_kernels = False",
        "# c.NotebookHTTPPersonality.cell_parser = 'kernel_gateway.notebook_http.cell.parser'",
        "# c.MappingKernelManager.cull_idle_timeout = 0",
    ):
        assert line in written


def shown_config(*argv: str, env: dict[str, str], config_dir: Path) -> dict[str, object]:
    """The merged configuration the app reports with --show-config-json."""
    env = {"JUPYTER_CONFIG_DIR": str(config_dir), **env}
    result = run_cli("--show-config-json", *argv, env=env)
    assert result.returncode == 0, result.stdout
    config: dict[str, object] = json.loads(result.stdout)
    return config


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A JUPYTER_CONFIG_DIR whose jupyter_kernel_gateway_config.py sets base_url and port."""
    (tmp_path / "jupyter_kernel_gateway_config.py").write_text(
        "c.KernelGatewayApp.base_url = '/file'\n"
        "c.KernelGatewayApp.port = 7001\n"
        "c.JupyterWebsocketPersonality.list_kernels = False\n"
    )
    return tmp_path


def test_precedence_is_command_line_then_file_then_env_then_default(config_dir: Path) -> None:
    env = {
        "KG_BASE_URL": "/env",
        "KG_PORT": "7002",
        "KG_IP": "0.0.0.0",
        "KG_LIST_KERNELS": "TRUE",
        "KG_CULL_IDLE_TIMEOUT": "60",
    }
    config = shown_config("--port=7003", env=env, config_dir=config_dir)
    assert config == {
        "KernelGatewayApp": {"base_url": "/file", "port": 7003, "ip": "0.0.0.0"},
        "JupyterWebsocketPersonality": {"list_kernels": False},
        "MappingKernelManager": {"cull_idle_timeout": 60},
    }


def test_env_applies_when_nothing_else_sets_an_option(tmp_path: Path) -> None:
    env = {"KG_BASE_URL": "/env", "KG_ENV_PROCESS_WHITELIST": "A, B", "KG_TRUST_XHEADERS": "1"}
    config = shown_config(env=env, config_dir=tmp_path)
    assert config == {
        "KernelGatewayApp": {
            "base_url": "/env",
            "env_process_whitelist": ["A", "B"],
            "trust_xheaders": True,
        }
    }


def test_config_option_reads_a_file_anywhere_instead(tmp_path: Path, config_dir: Path) -> None:
    other = tmp_path / "elsewhere"
    other.mkdir()
    path = other / "gateway_settings.py"
    path.write_text("c.KernelGatewayApp.max_kernels = 3\n")
    config = shown_config(f"--config={path}", env={"KG_PORT": "7002"}, config_dir=config_dir)
    assert config["KernelGatewayApp"] == {"max_kernels": 3, "config_file": str(path), "port": 7002}


BAD_VALUES = [
    ({"KG_PORT": "abc"}, (), "Invalid value 'abc' for environment variable KG_PORT"),
    (
        {"KG_LIST_KERNELS": "maybe"},
        (),
        "Invalid value 'maybe' for environment variable KG_LIST_KERNELS: "
        "expected true, false, 1 or 0",
    ),
    ({"KG_PRESPAWN_COUNT": "two"}, (), "environment variable KG_PRESPAWN_COUNT"),
    ({"KG_CULL_IDLE_TIMEOUT": "soon"}, (), "environment variable KG_CULL_IDLE_TIMEOUT"),
    ({"KG_SHUTDOWN_GRACE_PERIOD": "x"}, (), "environment variable KG_SHUTDOWN_GRACE_PERIOD"),
    (
        {"KG_KERNEL_PROXY_PORTS": "9000-8000"},
        (),
        "Invalid value '9000-8000' for environment variable KG_KERNEL_PROXY_PORTS: expected a "
        "list of ports and port ranges such as 8000-9999,12000",
    ),
    (
        {},
        ("--KernelGatewayApp.kernel_proxy_ports=8000,http",),
        "Invalid port list '8000,http': 'http' is not a port number",
    ),
    ({}, ("--max_kernels=abc",), "The 'max_kernels' trait of a KernelGatewayApp instance"),
    (
        {},
        ("--api=kernel_gateway.nowhere",),
        "Unknown api 'kernel_gateway.nowhere'; valid values: jupyter-websocket, "
        "notebook-http, kernel_gateway.jupyter_websocket, kernel_gateway.notebook_http",
    ),
    ({"KG_API": "web-socket"}, (), "Unknown api 'web-socket'; valid values: jupyter-websocket"),
    ({}, ("--api=",), "Unknown api ''; valid values"),
    ({}, ("--api=json",), "Module json does not define create_personality"),
    ({}, ("--seed_uri=/nonexistent/seed.ipynb",), "Cannot read seed notebook"),
    ({}, ("--api=notebook-http",), "notebook-http mode serves a notebook"),
    ({"KG_PORT": "70000"}, (), "environment variable KG_PORT: expected an int from 0 to 65535"),
    (
        {},
        ("--prespawn_count=-1",),
        "The value of the 'prespawn_count' trait of a KernelGatewayApp instance should not be "
        "less than 0",
    ),
    (
        {"KG_REQUEST_TIMEOUT": "-5"},
        (),
        "Invalid value '-5' for environment variable KG_REQUEST_TIMEOUT: expected a finite "
        "number of seconds, 0 or more",
    ),
    (
        {"KG_SHUTDOWN_GRACE_PERIOD": "nan"},
        (),
        "environment variable KG_SHUTDOWN_GRACE_PERIOD: expected a finite number of seconds",
    ),
    (
        {},
        (
            "--api=notebook-http",
            f"--seed_uri={EXAMPLES / 'hello.ipynb'}",
            "--NotebookHTTPPersonality.max_queue_wait=-1",
        ),
        "The value of the 'max_queue_wait' trait of a NotebookHTTPPersonality instance should "
        "not be less than 0",
    ),
    (
        {"KG_MAX_BODY_SIZE": "-1"},
        (),
        "environment variable KG_MAX_BODY_SIZE: expected an int of 0 or more",
    ),
    (
        {},
        ("--MappingKernelManager.cull_interval=0",),
        "The value of the 'cull_interval' trait of a MappingKernelManager instance should not "
        "be less than 1",
    ),
    ({"KG_CULL_IDLE_TIMEOUT": "-1"}, (), "KG_CULL_IDLE_TIMEOUT: expected an int of 0 or more"),
    ({"KG_PORT_RETRIES": "-1"}, (), "KG_PORT_RETRIES: expected an int of 0 or more"),
    ({"KG_MAX_KERNELS": "-2"}, (), "KG_MAX_KERNELS: expected an int of 0 or more"),
    ({"KG_KERNEL_POOL_SIZE": "-2"}, (), "KG_KERNEL_POOL_SIZE: expected an int of 0 or more"),
    ({"KG_WS_PING_INTERVAL_SECS": "-2"}, (), "KG_WS_PING_INTERVAL_SECS: expected an int of 0"),
    ({"KG_HTTP_IDLE_TIMEOUT": "-2"}, (), "KG_HTTP_IDLE_TIMEOUT: expected a finite number"),
    ({"KG_KERNEL_PROXY_TIMEOUT": "-1"}, (), "KG_KERNEL_PROXY_TIMEOUT: expected a finite number"),
    (
        {"KG_TRANSPORT_ENCRYPTION": "sometimes"},
        (),
        "Invalid value 'sometimes' for environment variable KG_TRANSPORT_ENCRYPTION: expected "
        "any of ['disabled', 'auto', 'required']",
    ),
    (
        {},
        ("--JupyterWebsocketPersonality.list_kernels=maybe",),
        "The 'list_kernels' trait of a JupyterWebsocketPersonality instance expected a boolean",
    ),
]


@pytest.fixture(scope="module")
def bad_value_runs(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[int, str]]:
    """(exit code, output) of every BAD_VALUES run, started all at once to save time."""
    config_dir = tmp_path_factory.mktemp("config")
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "kernel_gateway", f"--port={free_port()}", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=gateway_env({"JUPYTER_CONFIG_DIR": str(config_dir), **env}),
        )
        for env, argv, _ in BAD_VALUES
    ]
    return [(process.wait(60), process.communicate()[0]) for process in processes]


@pytest.mark.parametrize("case", range(len(BAD_VALUES)), ids=[c[2][:40] for c in BAD_VALUES])
def test_a_bad_value_exits_non_zero_naming_it(
    case: int, bad_value_runs: list[tuple[int, str]]
) -> None:
    returncode, output = bad_value_runs[case]
    assert returncode == 1, output
    assert BAD_VALUES[case][2] in output
    assert "Traceback" not in output
    assert len(output.splitlines()) == 1, output  # one line says it all


def test_a_port_out_of_range_stops_the_gateway_naming_it() -> None:
    result = run_cli("--port=84836", timeout=30)
    assert (result.returncode, result.stdout.count("\n")) == (1, 1), result.stdout
    assert (
        "The value of the 'port' trait of a KernelGatewayApp instance should not be greater "
        "than 65535, but a value of 84836 was specified" in result.stdout
    )


def test_a_seed_that_is_not_a_notebook_exits_non_zero(tmp_path: Path) -> None:
    seed = tmp_path / "seed.ipynb"
    seed.write_text("{not json")
    result = run_cli(f"--port={free_port()}", f"--seed_uri={seed}", timeout=30)
    assert result.returncode == 1
    assert f"Seed notebook {seed} is not JSON" in result.stdout


def test_a_pool_kernel_that_always_dies_starting_exits_non_zero_saying_so(tmp_path: Path) -> None:
    launches = tmp_path / "launches"
    write_kernel_spec(tmp_path, "always_dies", dying_kernel_argv(launches, deaths=99))
    result = run_cli(
        f"--port={free_port()}",
        "--api=notebook-http",
        f"--seed_uri={EXAMPLES / 'hello.ipynb'}",
        "--KernelGatewayApp.default_kernel_name=always_dies",
        env={"JUPYTER_PATH": str(tmp_path)},
        timeout=60,
    )
    assert result.returncode == 1, result.stdout
    assert (
        "A kernel of the pool failed to start: Kernel 'always_dies' died while starting"
        in result.stdout
    )
    assert "Traceback" not in result.stdout
    assert launches.read_text().splitlines() == ["launch", "launch"]


def test_prespawn_count_over_max_kernels_is_refused_before_any_kernel_starts(
    tmp_path: Path,
) -> None:
    launches = tmp_path / "launches"
    write_kernel_spec(tmp_path, "counted", dying_kernel_argv(launches, deaths=0))
    result = run_cli(
        f"--port={free_port()}",
        "--prespawn_count=3",
        "--KernelGatewayApp.max_kernels=2",
        "--KernelGatewayApp.default_kernel_name=counted",
        env={"JUPYTER_PATH": str(tmp_path)},
        timeout=60,
    )
    assert result.returncode == 1, result.stdout
    refusals = [line for line in result.stdout.splitlines() if "prespawn_count" in line]
    assert len(refusals) == 1, result.stdout
    assert "prespawn_count (3) must be at most max_kernels (2)" in refusals[0]
    assert "Traceback" not in result.stdout
    assert not launches.exists()  # no kernel was launched


def test_port_in_use_without_retries_exits_at_once() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = run_cli(f"--port={port}", "--port_retries=0", timeout=30)
        elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert f"Port {port} is in use on 127.0.0.1 (port_retries=0)" in result.stdout
    assert elapsed < 15


def consecutive_free_ports(count: int) -> int:
    """A port that, with the `count - 1` after it, was free a moment ago."""
    for _ in range(50):
        first = free_port()
        sockets: list[socket.socket] = []
        try:
            for port in range(first, first + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no run of free ports")


def test_port_in_use_tries_the_next_ports_then_fails() -> None:
    first = consecutive_free_ports(3)
    taken = [socket.socket(), socket.socket()]
    try:
        for offset, sock in enumerate(taken):
            sock.bind(("127.0.0.1", first + offset))
            sock.listen()
        failed = run_cli(f"--port={first}", "--port_retries=1", timeout=30)
        assert failed.returncode == 1
        assert f"Ports {first} to {first + 1} are in use" in failed.stdout
        process = subprocess.Popen(
            [sys.executable, "-m", "kernel_gateway", f"--port={first}", "--port_retries=2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=gateway_env(),
        )
        try:
            assert process.stdout is not None
            lines = []
            for line in process.stdout:
                lines.append(line)
                if "Jupyter Kernel Gateway" in line:
                    break
            assert f"http://127.0.0.1:{first + 2}/" in line
            assert warnings_in("".join(lines)) == [
                f"[W KernelGatewayApp] Ports {first} to {first + 1} are in use; listening on "
                f"port {first + 2} instead (port_retries=2)"
            ]
        finally:
            process.send_signal(signal.SIGTERM)
            out, _ = process.communicate(timeout=30)
        assert process.returncode == 0, out
    finally:
        for sock in taken:
            sock.close()


LOG_LINE = re.compile(r"^\[([DIWEC]) \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} (\S+)\] ")


def warnings_in(output: str) -> list[str]:
    """The WARNING lines of a gateway's output, their timestamps dropped."""
    return [
        LOG_LINE.sub(r"[\1 \2] ", line)
        for line in output.splitlines()
        if LOG_LINE.match(line) and line.startswith("[W ")
    ]


def test_jupyter_server_options_of_kg3_config_files_load_with_one_warning_each(
    tmp_path: Path,
) -> None:
    (tmp_path / "jupyter_kernel_gateway_config.py").write_text(
        "c.KernelGatewayApp.authorizer_class = 'my.Authorizer'\n"
        "c.KernelGatewayApp.cookie_secret = b'x' * 32\n"
        "c.KernelGatewayApp.port = 7001\n"
    )
    result = run_cli("--show-config-json", env={"JUPYTER_CONFIG_DIR": str(tmp_path)})

    assert result.returncode == 0, result.stdout
    assert warnings_in(result.stdout) == [
        "[W KernelGatewayApp] KernelGatewayApp.authorizer_class has no effect: "
        "access is decided by auth_token and the CORS/origin options",
        "[W KernelGatewayApp] KernelGatewayApp.cookie_secret has no effect: "
        "the gateway issues no cookies",
    ]


def test_an_unknown_option_is_warned_about_once(tmp_path: Path) -> None:
    result = run_cli(
        "--show-config-json",
        "--KernelGatewayApp.list_kernels=True",
        env={"JUPYTER_CONFIG_DIR": str(tmp_path), "KG_PORT": "7002"},
    )

    assert result.returncode == 0, result.stdout
    assert warnings_in(result.stdout) == [
        "[W KernelGatewayApp] Config option `list_kernels` not recognized by "
        "`KernelGatewayApp`.  Did you mean `max_kernels`?"
    ]
