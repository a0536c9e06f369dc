"""What the gateway tells its operator: start-up lines and access lines, one format for all."""

from __future__ import annotations

import re
import time

import pytest
from conftest import EXAMPLES, Gateway, GatewayFactory

from kernel_gateway import __version__

# "[I 2026-12-06 09:24:07.012 KernelGatewayApp] text": level, timestamp, logger
LOG_LINE = re.compile(r"^\[[DIWEC] \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} KernelGatewayApp\] ")
KERNEL_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def wait_for_line(gateway: Gateway, pattern: str, timeout: float = 10.0) -> str:
    """The first log line matching `pattern`, once it is written."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in gateway.log().splitlines():
            if re.search(pattern, line):
                return line
        time.sleep(0.05)
    raise AssertionError(f"no line matching {pattern!r} in:\n{gateway.log()}")


def gateway_lines(gateway: Gateway) -> list[str]:
    """The gateway's own log lines (not the kernels' output), timestamps dropped."""
    return [LOG_LINE.sub("", line) for line in gateway.log().splitlines() if LOG_LINE.match(line)]


@pytest.fixture(scope="module")
def quiet(module_gateway_factory: GatewayFactory) -> Gateway:
    """notebook-http with default logging, base_url given without slashes."""
    return module_gateway_factory(
        "--api=notebook-http",
        f"--seed_uri={EXAMPLES / 'hello.ipynb'}",
        "--base_url=api2",
        ready_path="/hello",
    )


def test_start_up_says_kernels_listening_url_endpoints_and_spec(quiet: Gateway) -> None:
    lines = [re.sub(KERNEL_ID, "ID", line) for line in gateway_lines(quiet)]
    lines = [re.sub(r"in \d+ ms", "in N ms", line) for line in lines]
    lines = [line for line in lines if not re.match(r"\d{3} ", line)]  # readiness probes
    url = f"http://127.0.0.1:{quiet.port}/api2"
    started = "Kernel python3 ID started in N ms and seeded (1 cell); ZeroMQ traffic encrypted"
    start = lines.index(f"{started} (CurveZMQ)")
    assert lines[start + 1 : start + 8] == [
        "Kernel pool of 1: requests take the fast path (a request runner in each IPython kernel)",
        f"Jupyter Kernel Gateway {__version__} (notebook-http mode) at {url}/",
        f"Endpoint GET {url}/hello/:name",
        f"Endpoint GET {url}/hello",
        f"API spec: {url}/_api/spec/swagger.json (Swagger 2.0), "
        f"{url}/_api/spec/openapi.json (OpenAPI 3.1)",
        f"API page: {url}/_api/docs",
        f"Health: {url}/healthz, readiness: {url}/readyz, metrics: {url}/metrics",
    ]
    assert "without encryption" not in quiet.log()  # ipykernel's warning for plain TCP


def test_errors_are_access_lines_in_the_app_format_and_successes_stay_quiet(
    quiet: Gateway,
) -> None:
    assert quiet.request("GET", "/hello")[0] == 200
    assert quiet.request("GET", "/nowhere")[0] == 404
    line = wait_for_line(quiet, r"404 GET /api2/nowhere")
    assert re.fullmatch(
        r"\[W [-\d]+ [:.\d]+ KernelGatewayApp\] 404 GET /api2/nowhere \(127\.0\.0\.1\) [.\d]+ms",
        line,
    ), line
    assert not [line for line in quiet.log().splitlines() if "200 GET /api2/hello" in line]


def test_log_requests_puts_successes_at_info(gateway_factory: GatewayFactory) -> None:
    gateway = gateway_factory(
        "--api=notebook-http",
        f"--seed_uri={EXAMPLES / 'hello.ipynb'}",
        "--log_requests=True",
        ready_path="/hello",
    )
    assert gateway.request("GET", "/hello/ada")[0] == 200
    line = wait_for_line(gateway, r"200 GET /hello/ada")
    assert re.fullmatch(
        r"\[I [-\d]+ [:.\d]+ KernelGatewayApp\] 200 GET /hello/ada \(127\.0\.0\.1\) [.\d]+ms", line
    ), line


def test_plain_kernels_print_the_warning_encrypted_ones_dont(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = gateway_factory("--prespawn_count=1", env={"KG_TRANSPORT_ENCRYPTION": "disabled"})
    wait_for_line(gateway, "Kernel is running over TCP without encryption")
    line = wait_for_line(gateway, r"Kernel python3 .* started in")
    assert line.endswith("ZeroMQ traffic in plain text (transport_encryption is disabled)")
