"""/metrics from outside: parsed with prometheus_client's own parser after known traffic."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import uuid
from pathlib import Path

import pytest
from conftest import Gateway, GatewayFactory, write_notebook
from probes import DEADLINE, blocking_endpoint, poll
from prometheus_client.parser import text_string_to_metric_families
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

TOKEN = "metrics-secret"
LABELS = ("endpoint", "method", "handler", "app")
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(gateway: Gateway) -> Samples:
    """Every sample of /metrics by (name, sorted labels)."""
    status, headers, body = gateway.request("GET", "/metrics")
    assert status == 200, body
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def series(samples: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples of one metric by their labels."""
    return {labels: number for (sample, labels), number in samples.items() if sample == name}


@pytest.fixture
def notebook_gateway(gateway_factory: GatewayFactory, tmp_path: Path) -> Gateway:
    notebook = write_notebook(
        tmp_path / "api.ipynb",
        '# GET /hello/:name\nimport json\nprint("hello", json.loads(REQUEST)["path"]["name"])',
        "# GET /fail\nraise ValueError('no')",
        "# GET /slow\nimport time\ntime.sleep(60)",
        "# GET /pid\nimport os\nprint(os.getpid())",
        blocking_endpoint(tmp_path),
    )
    return gateway_factory(
        "--api=notebook-http",
        f"--seed_uri={notebook}",
        f"--auth_token={TOKEN}",
        "--NotebookHTTPPersonality.request_timeout=3",
        "--NotebookHTTPPersonality.max_queue_wait=1",
        ready_path="/readyz",
    )


def test_notebook_http_metrics_count_known_traffic_exactly(
    notebook_gateway: Gateway, tmp_path: Path
) -> None:
    gateway = notebook_gateway
    answers = [gateway.request("GET", f"/hello/{name}")[0] for name in ("ada", "bob", "cy")]
    answers.append(gateway.request("POST", "/hello/ada")[0])
    answers.append(gateway.request("GET", "/fail")[0])
    blocked: list[int] = []
    thread = threading.Thread(target=lambda: blocked.append(gateway.request("GET", "/block")[0]))
    thread.start()
    poll((tmp_path / "running").exists, bool, "the only kernel to be busy")
    busy = scrape(gateway)
    answers.append(gateway.request("GET", "/hello/dee")[0])  # no kernel within 1 s: 503
    (tmp_path / "release").touch()
    thread.join(DEADLINE)
    answers.append(gateway.request("GET", "/slow")[0])
    samples = scrape(gateway)

    assert (answers, blocked) == ([200, 200, 200, 405, 500, 503, 504], [200])
    assert [
        value(busy, f"kernel_gateway_pool_{gauge}", app="/")
        for gauge in ("kernels", "busy", "queued")
    ] == [1.0, 1.0, 0.0]
    requests = "kernel_gateway_endpoint_requests_total"
    assert series(samples, requests) == {
        (("app", "/"), ("endpoint", endpoint), ("method", method), ("status_code", status)): n
        for endpoint, method, status, n in [
            ("/hello/:name", "GET", "200", 3.0),
            ("/hello/:name", "POST", "405", 1.0),
            ("/hello/:name", "GET", "503", 1.0),
            ("/fail", "GET", "500", 1.0),
            ("/block", "GET", "200", 1.0),
            ("/slow", "GET", "504", 1.0),
        ]
    }
    assert value(samples, "kernel_gateway_queue_rejections_total", app="/") == 1.0
    assert series(samples, "kernel_gateway_endpoint_timeouts_total") == {
        (("app", "/"), ("endpoint", "/slow")): 1.0
    }
    assert value(samples, "kernel_gateway_queue_wait_seconds_count", app="/") == 6.0
    executed = value(
        samples, "kernel_gateway_execution_duration_seconds_count", app="/", endpoint="/hello/:name"
    )
    assert executed == 3.0
    hello_bytes = len(b"hello ada\nhello bob\nhello cy\n")
    assert value(
        samples, "kernel_gateway_response_bytes_total", app="/", endpoint="/hello/:name"
    ) == float(hello_bytes)
    handled = value(
        samples,
        "http_request_duration_seconds_count",
        handler="EndpointHandler",
        method="GET",
        status_code="200",
    )
    assert handled == 4.0
    assert value(samples, "kernel_gateway_kernel_starts_total", kernel_name="python3") == 1.0
    assert value(samples, "kernel_gateway_kernel_start_duration_seconds_sum", kernel_name="python3")
    assert value(samples, "kernel_currently_running_total", type="python3") == 1.0


def test_a_dead_pool_kernel_counts_as_a_death_and_a_new_start(notebook_gateway: Gateway) -> None:
    gateway = notebook_gateway
    pid = int(gateway.request("GET", "/pid")[2])

    os.kill(pid, signal.SIGKILL)
    samples = poll(
        lambda: scrape(gateway),
        lambda s: (
            value(s, "kernel_gateway_pool_kernels", app="/") == 1.0
            and value(s, "kernel_gateway_kernel_starts_total", kernel_name="python3") == 2.0
        ),
        "a replacement kernel",
    )

    assert value(samples, "kernel_gateway_kernel_deaths_total", kernel_name="python3") == 1.0
    assert value(samples, "kernel_currently_running_total", type="python3") == 1.0


def test_metrics_need_the_token_and_labels_stay_bounded_after_fuzzing(
    notebook_gateway: Gateway,
) -> None:
    gateway = notebook_gateway
    marks = [uuid.uuid4().hex for _ in range(20)]
    for index, mark in enumerate(marks):
        method = ("GET", "POST", "DELETE", f"X{mark[:6].upper()}")[index % 4]
        paths = (f"/hello/{mark}", f"/{mark}", f"/hello/{mark}?token={mark}", f"/_api/{mark}")
        gateway.request(method, paths[index % 4])
        gateway.request("GET", f"/{mark}", headers={"Authorization": f"token {mark}"})
    unauthorized = Gateway(gateway.process, gateway.port, gateway.log_path).request(
        "GET", "/metrics"
    )
    after = scrape(gateway)

    texts = " ".join(f"{name} {labels}" for name, labels in after)
    values = {key: {v for _, labels in after for k, v in labels if k == key} for key in LABELS}
    assert [mark for mark in marks if mark[:6] in texts.lower()] == []
    assert unauthorized[0] == 401
    assert values["endpoint"] <= {"/hello/:name", "/fail", "/slow", "/pid", "/block"}
    assert values["method"] <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"}
    assert values["handler"] <= {
        "EndpointHandler",
        "NotFoundHandler",
        "MetricsHandler",
        "ReadinessHandler",
        "HealthHandler",
    }
    assert values["app"] == {"/"}


async def test_websocket_mode_metrics_restarts_websockets_and_warm_pool(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = gateway_factory(
        "--KernelGatewayApp.kernel_pool_size=1",
        f"--auth_token={TOKEN}",
        "--KernelGatewayApp.metrics_auth=False",
    )
    anonymous = Gateway(gateway.process, gateway.port, gateway.log_path)
    status, model = gateway.json("POST", "/api/kernels", {"name": "python3"})
    kernel_id = model["id"]  # type: ignore[index]
    url = f"{gateway.ws_url}/api/kernels/{kernel_id}/channels?token={TOKEN}"
    conn = await websocket_connect(HTTPRequest(url, request_timeout=30))
    try:
        attached = await asyncio.to_thread(
            poll,
            lambda: scrape(anonymous),
            lambda s: (
                value(s, "kernel_gateway_websocket_connections") == 1.0
                and value(s, "kernel_gateway_warm_pool_size") == 1.0
            ),
            "the websocket and a refilled warm pool",
        )
    finally:
        conn.close()
    restarted = gateway.request("POST", f"/api/kernels/{kernel_id}/restart")[0]
    samples = scrape(anonymous)

    assert (status, restarted) == (201, 200)
    assert value(attached, "kernel_gateway_kernel_starts_total", kernel_name="python3") == 2.0
    assert value(attached, "kernel_currently_running_total", type="python3") == 1.0
    restarts = "jupyter_kernel_restarts_total"
    assert series(samples, restarts) == {(("kernel_name", "python3"), ("source", "user")): 1.0}


def test_culled_kernels_are_counted(gateway_factory: GatewayFactory) -> None:
    gateway = gateway_factory(
        "--MappingKernelManager.cull_idle_timeout=1", "--MappingKernelManager.cull_interval=1"
    )
    status, _ = gateway.json("POST", "/api/kernels", {"name": "python3"})

    samples = poll(
        lambda: scrape(gateway),
        lambda s: value(s, "kernel_gateway_kernel_culls_total", kernel_name="python3") == 1.0,
        "a cull",
    )

    assert status == 201
    assert series(samples, "kernel_currently_running_total") == {}


def test_metrics_can_be_turned_off(gateway_factory: GatewayFactory) -> None:
    gateway = gateway_factory("--KernelGatewayApp.enable_metrics=False")

    assert gateway.request("GET", "/metrics")[0] == 404
