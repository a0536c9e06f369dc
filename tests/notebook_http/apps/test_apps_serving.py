"""Many apps under /apps/<slug> beside the root notebook: routing, specs, files, isolation,
start on demand and its time-out, idle stop. One gateway serves the whole module."""

from __future__ import annotations

import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from app_helpers import model, poll, write_app
from conftest import EXAMPLES, ROOT, Gateway, GatewayFactory, child_pids

APPS = ROOT / "etc" / "apps"
TOKEN = "apps-token"


@pytest.fixture(scope="module")
def apps_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("apps")
    shutil.copytree(APPS, folder, dirs_exist_ok=True)
    os.symlink("/etc/hostname", folder / "datasets" / "public" / "outside")
    write_app(folder / "slow.ipynb", "import time\ntime.sleep(60)", "# GET /x\nprint('x')")
    write_app(
        folder / "idle.ipynb",
        "import os",
        "# GET /pid\nprint(os.getpid())",
        metadata={"kernel_gateway": {"idle_stop": 1}},
    )
    write_app(
        folder / "sleeper.ipynb",
        "import os, signal, time",
        "# GET /sleep\nwhile not os.path.exists('release'):\n    time.sleep(0.05)\nprint('woke')",
        "# GET /die\nos.kill(os.getpid(), signal.SIGKILL)",
        metadata={"kernel_gateway": {"request_timeout": 30}},
    )
    write_app(
        folder / "timeboxed.ipynb",
        "import time",
        "# GET /slow\ntime.sleep(60)",
        metadata={"kernel_gateway": {"request_timeout": 1, "max_queue_wait": 0.5}},
    )
    write_app(folder / "badmeta.ipynb", "# GET /x\nprint(1)", metadata={"kernel_gateway": {"x": 1}})
    write_app(folder / "Bad Name.ipynb", "# GET /x\nprint(1)")
    return folder


@pytest.fixture(scope="module")
def gateway(module_gateway_factory: GatewayFactory, apps_dir: Path) -> Gateway:
    return module_gateway_factory(
        "--api=notebook-http",
        f"--seed_uri={EXAMPLES / 'hello.ipynb'}",
        f"--NotebookHTTPPersonality.apps_dir={apps_dir}",
        f"--auth_token={TOKEN}",
        "--NotebookHTTPPersonality.app_start_timeout=4",
        "--NotebookHTTPPersonality.allow_notebook_download=True",
        "--allow_origin=https://example.org",
        ready_path="/hello/world",
    )


def test_the_apps_are_listed_and_bad_ones_named(gateway: Gateway) -> None:
    status, apps = gateway.json("GET", "/_api/apps")
    assert status == 200
    by_slug = {app["slug"]: app for app in apps}
    assert sorted(by_slug) == [
        "badmeta",
        "chat",
        "datasets",
        "hello",
        "idle",
        "notes",
        "sleeper",
        "slow",
        "timeboxed",
    ]
    assert by_slug["hello"]["endpoints"] == [{"method": "GET", "path": "/hello/:name"}]
    assert by_slug["hello"]["state"] in ("stopped", "starting", "running")
    assert len(by_slug["hello"]["version"]) == 16
    assert by_slug["badmeta"]["state"] == "failed"
    assert "metadata.kernel_gateway.x is not a setting" in by_slug["badmeta"]["error"]
    assert "Skipping Bad Name.ipynb" in gateway.log()
    status, body = gateway.json("GET", "/apps/badmeta/x")
    assert status == 503
    assert "metadata.kernel_gateway.x" in body["message"]


def test_the_root_notebook_is_unchanged(gateway: Gateway) -> None:
    assert gateway.request("GET", "/hello/world")[::2] == (200, b"hello world\n")
    status, swagger = gateway.json("GET", "/_api/spec/swagger.json")
    assert status == 200
    assert "basePath" not in swagger
    assert sorted(swagger["paths"]) == ["/hello", "/hello/{name}"]


def test_an_app_serves_its_endpoints_and_specs_under_its_prefix(gateway: Gateway) -> None:
    assert gateway.request("GET", "/apps/hello/hello/ann")[::2] == (200, b"Hello, ann!\n")
    status, swagger = gateway.json("GET", "/apps/hello/_api/spec/swagger.json")
    assert (status, swagger["basePath"], list(swagger["paths"])) == (
        200,
        "/apps/hello",
        ["/hello/{name}"],
    )
    status, openapi = gateway.json("GET", "/apps/hello/_api/spec/openapi.json")
    assert (status, openapi["servers"]) == (200, [{"url": "/apps/hello"}])
    status, source = gateway.json("GET", "/apps/hello/_api/source")
    assert (status, source["metadata"]["title"]) == (200, "Hello")
    assert model(gateway, "hello")["state"] == "running"


def test_mode_rules_hold_in_an_app(gateway: Gateway) -> None:
    status, headers, _ = gateway.request("POST", "/apps/hello/hello/ann")
    assert (status, headers["Allow"]) == (405, "GET, OPTIONS")
    assert gateway.request("GET", "/apps/hello/nothing")[0] == 404
    assert gateway.request("GET", "/apps/nope/x")[0] == 404
    status, _, _ = gateway.request("GET", "/apps/hello/hello/ann", headers={"Authorization": ""})
    assert status == 401
    status, headers, _ = gateway.request(
        "OPTIONS", "/apps/hello/hello/ann", headers={"Authorization": ""}
    )
    assert (status, headers["Access-Control-Allow-Origin"]) == (204, "https://example.org")
    status, headers, _ = gateway.request("GET", "/apps/hello/hello/ann")
    assert (status, headers["Access-Control-Allow-Origin"]) == (200, "https://example.org")


def test_an_app_has_its_own_timeouts(gateway: Gateway) -> None:
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(gateway.request, "GET", "/apps/timeboxed/slow")
        poll(lambda: model(gateway, "timeboxed")["busy"] == 1, what="the slow request")
        status, headers, _ = gateway.request("GET", "/apps/timeboxed/slow")
        assert (status, headers["Retry-After"]) == (503, "1")  # max_queue_wait 0.5
        status, _, body = slow.result()
        assert (status, b"1.0 seconds" in body) == (504, True)  # request_timeout 1


def test_an_app_runs_in_its_folder_and_serves_its_public_files(gateway: Gateway) -> None:
    status, headers, body = gateway.request("GET", "/apps/datasets/rows")
    assert (status, headers["Content-Type"]) == (200, "application/json"), body
    assert body == b'[{"name": "apples", "amount": "3"}, {"name": "pears", "amount": "4.5"}]\n'
    assert gateway.request("POST", "/apps/datasets/summary")[0] == 200
    status, _, body = gateway.request("GET", "/apps/datasets/public/summary.json")
    assert (status, body) == (200, b'{"rows": 2, "total": 7.5}')
    status, _, body = gateway.request("GET", "/apps/datasets/public/about.txt")
    assert (status, body) == (200, b"Datasets app: GET rows, POST summary.\n")


@pytest.mark.parametrize(
    "path",
    [
        "/apps/datasets/public/outside",  # a symlink out of public/
        "/apps/datasets/public/%2e%2e/data.csv",
        "/apps/datasets/public/..%2fdata.csv",
        "/apps/hello/public/anything",  # a lone notebook has no folder
    ],
)
def test_nothing_outside_public_is_served(gateway: Gateway, path: str) -> None:
    status, _, body = gateway.request("GET", path)
    assert status in (403, 404), body
    assert b"apples" not in body


def test_a_hung_and_a_killed_kernel_leave_other_apps_alone(
    gateway: Gateway, apps_dir: Path
) -> None:
    gateway.request("GET", "/apps/hello/hello/warm")
    with ThreadPoolExecutor(1) as pool:
        sleeping = pool.submit(gateway.request, "GET", "/apps/sleeper/sleep")
        poll(lambda: model(gateway, "sleeper")["busy"] == 1, what="the sleeper to be busy")
        for name in ("a", "b", "c"):
            assert gateway.request("GET", f"/apps/hello/hello/{name}")[0] == 200
        assert not sleeping.done()  # the other app answered while this one hung
        (apps_dir / "release").touch()  # the sleeper's cwd is the apps folder
        assert sleeping.result()[::2] == (200, b"woke\n")
    assert gateway.request("GET", "/apps/sleeper/die", timeout=30)[0] == 503
    assert gateway.request("GET", "/apps/hello/hello/after")[::2] == (200, b"Hello, after!\n")


def test_an_app_that_does_not_start_in_time_fails_with_503(gateway: Gateway) -> None:
    status, body = gateway.json("GET", "/apps/slow/x")
    assert status == 503
    assert "did not start within 4 s" in body["message"]
    slow = model(gateway, "slow")
    assert (slow["state"], slow["kernels"]) == ("failed", 0)
    assert "did not start within 4 s" in slow["error"]
    assert gateway.json("GET", "/apps/slow/x")[0] == 503  # failed until changed or reloaded

    def no_stray_kernel() -> bool:  # the root notebook's kernel, and those of the apps
        kernels = 1 + sum(app["kernels"] for app in gateway.json("GET", "/_api/apps")[1])
        return len(child_pids(gateway.process.pid)) == kernels

    poll(no_stray_kernel, what="the slow app's kernel to be shut down")


def test_an_idle_app_stops_and_starts_again_on_demand(gateway: Gateway) -> None:
    status, _, first = gateway.request("GET", "/apps/idle/pid")
    assert status == 200
    poll(lambda: model(gateway, "idle")["state"] == "stopped", what="the idle app to stop")
    assert model(gateway, "idle")["kernels"] == 0
    started = time.monotonic()
    status, _, second = gateway.request("GET", "/apps/idle/pid")
    assert status == 200
    assert second != first, time.monotonic() - started


def test_each_app_has_its_api_page_over_its_own_spec(gateway: Gateway) -> None:
    anonymous = Gateway(gateway.process, gateway.port, gateway.log_path)

    status, headers, page = gateway.request("GET", "/apps/hello/_api/docs")
    asset = anonymous.request("GET", "/_api/docs/assets/swagger-ui-bundle.js")

    assert (status, headers["Content-Type"]) == (200, "text/html; charset=UTF-8")
    assert b'data-spec="/apps/hello/_api/spec/swagger.json"' in page
    assert b'src="/_api/docs/assets/swagger-ui-bundle.js"' in page
    assert b"://" not in page  # nothing from a CDN
    assert (asset[0], asset[1]["Content-Type"].split(";")[0]) == (200, "text/javascript")
    assert anonymous.request("GET", "/apps/hello/_api/docs")[0] == 401
    assert gateway.json("GET", "/apps/nothing-here/_api/docs")[0] == 404
