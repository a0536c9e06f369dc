"""JSON logs and request ids from outside: each line parsed, one id per request end to end,
and the token in no log line."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from conftest import Gateway, GatewayFactory, write_notebook

TOKEN = "json-logs-secret-token"
NEW_ID = re.compile(r"[0-9a-f]{32}")


def records(gateway: Gateway) -> list[dict[str, Any]]:
    """The gateway's log lines, each parsed as JSON (kernels' own stderr lines left out)."""
    lines = [line for line in gateway.log().splitlines() if not line.startswith("[IPKernelApp]")]
    return [json.loads(line) for line in lines if line.strip()]


def test_json_lines_carry_the_request_id_and_never_the_token(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    notebook = write_notebook(
        tmp_path / "api.ipynb", '# GET /hello/:name\nprint("hi")', "# GET /fail\n1/0"
    )
    gateway = gateway_factory(
        "--api=notebook-http",
        f"--seed_uri={notebook}",
        f"--auth_token={TOKEN}",
        "--log-level=DEBUG",
        env={"KG_LOG_FORMAT": "json"},
        ready_path="/readyz",
    )
    client_id = "client-id_1.x"
    hello = gateway.request("GET", "/hello/ada", headers={"X-Request-Id": client_id})
    insane = gateway.request("GET", "/hello/bob", headers={"X-Request-Id": "a b"})
    missing = gateway.request("GET", f"/nope?token={TOKEN}", headers={"Authorization": ""})
    failed = gateway.request("GET", "/fail")
    assert gateway.stop() == 0
    logged = records(gateway)
    by_id = {
        answer[1]["X-Request-Id"]: [
            r for r in logged if r.get("request_id") == answer[1]["X-Request-Id"]
        ]
        for answer in (hello, insane, missing, failed)
    }

    assert [answer[0] for answer in (hello, insane, missing, failed)] == [200, 200, 404, 500]
    assert all({"ts", "level", "logger", "message"} <= set(record) for record in logged)
    assert TOKEN not in gateway.log()
    assert hello[1]["X-Request-Id"] == client_id
    assert NEW_ID.fullmatch(insane[1]["X-Request-Id"])
    (access,) = by_id[client_id]
    kernel_id = access.pop("kernel_id")
    assert re.fullmatch(r"[0-9a-f-]{36}", kernel_id)
    assert isinstance(access.pop("duration_ms"), float)
    del access["ts"], access["message"]
    assert access == {
        "level": "DEBUG",
        "logger": "KernelGatewayApp",
        "method": "GET",
        "path": "/hello/ada",
        "status": 200,
        "request_id": client_id,
        "app": "/",
        "endpoint": "/hello/:name",
    }
    not_found = by_id[missing[1]["X-Request-Id"]]
    assert [(r["logger"], r["level"]) for r in not_found] == [
        ("tornado.general", "DEBUG"),
        ("KernelGatewayApp", "WARNING"),
    ]
    assert not_found[1]["path"] == "/nope?token=[secret]"
    failure = by_id[failed[1]["X-Request-Id"]]
    assert [(r["logger"], r["level"]) for r in failure] == [  # the cell's error, then access
        ("tornado.application", "WARNING"),
        ("KernelGatewayApp", "ERROR"),
    ]


def test_every_response_carries_a_request_id(gateway_factory: GatewayFactory) -> None:
    gateway = gateway_factory(f"--auth_token={TOKEN}")
    longest = "x" * 128
    anonymous = Gateway(gateway.process, gateway.port, gateway.log_path)

    answers = {
        "ok": gateway.request("GET", "/api", headers={"X-Request-Id": longest}),
        "too long": gateway.request("GET", "/api", headers={"X-Request-Id": longest + "x"}),
        "unauthorized": anonymous.request("GET", "/api/kernels", headers={"X-Request-Id": "u-1"}),
        "preflight": anonymous.request("OPTIONS", "/api/kernels"),
        "probe": anonymous.request("GET", "/healthz"),
        "websocket refused": anonymous.request("GET", "/api/kernels/x/channels"),
    }
    ids = {name: answer[1].get("X-Request-Id", "") for name, answer in answers.items()}

    assert ids["ok"] == longest
    assert ids["unauthorized"] == "u-1"
    assert answers["unauthorized"][0] == 401
    assert [
        name
        for name in ("too long", "preflight", "probe", "websocket refused")
        if not NEW_ID.fullmatch(ids[name])
    ] == []
