"""Reloading and deploying apps: reload under load, broken versions, removal, PUT/DELETE with
a token or a signature, zips, ephemeral apps, restarts, max_kernels. Gateways are shared
within the module where the tests don't disturb one another."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from app_helpers import model, notebook, poll, signed_headers, write_app, zip_of
from conftest import ROOT, Gateway, GatewayFactory

APPS = ROOT / "etc" / "apps"

TOKEN = "deploy-token"
KEY = "deploy-key"
NB = {"Content-Type": "application/x-ipynb+json"}


def version_app(tag: str) -> tuple[str, ...]:
    return (f"TAG = {tag!r}", "# GET /tag\nprint(TAG)")


@pytest.fixture(scope="module")
def apps_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("deploy")
    write_app(folder / "counter.ipynb", *version_app("v1"))
    write_app(folder / "doomed.ipynb", "# GET /x\nprint('x')")
    write_app(folder / "resting.ipynb", *version_app("rest1"))
    return folder


@pytest.fixture(scope="module")
def gateway(module_gateway_factory: GatewayFactory, apps_dir: Path) -> Gateway:
    return module_gateway_factory(
        "--api=notebook-http",
        f"--NotebookHTTPPersonality.apps_dir={apps_dir}",
        f"--auth_token={TOKEN}",
        f"--NotebookHTTPPersonality.deploy_key={KEY}",
        "--NotebookHTTPPersonality.ephemeral_ttl=2",
        "--NotebookHTTPPersonality.max_app_size=100000",
        ready_path="/_api/apps",
    )


def test_a_reload_under_load_fails_no_request(gateway: Gateway, apps_dir: Path) -> None:
    assert gateway.request("GET", "/apps/counter/tag")[::2] == (200, b"v1\n")
    answers: list[tuple[int, bytes]] = []
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            status, _, body = gateway.request("GET", "/apps/counter/tag")
            answers.append((status, body))

    threads = [threading.Thread(target=loop) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        poll(lambda: len(answers) > 5, what="requests before the reload")
        write_app(apps_dir / "counter.ipynb", *version_app("v2"))
        poll(lambda: answers and answers[-1][1] == b"v2\n", what="the new version")
        seen = len(answers)
        poll(lambda: len(answers) > seen + 5, what="requests after the reload")
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert [a for a in answers if a[0] != 200] == []
    assert {body for _, body in answers} == {b"v1\n", b"v2\n"}
    poll(lambda: model(gateway, "counter")["kernels"] == 1, what="the old pool to go")


def test_a_broken_version_keeps_the_old_one(gateway: Gateway, apps_dir: Path) -> None:
    write_app(apps_dir / "counter.ipynb", *version_app("v3"))
    poll(lambda: gateway.request("GET", "/apps/counter/tag")[2] == b"v3\n", what="v3")
    write_app(apps_dir / "counter.ipynb", "# POST\nprint(1)")
    error = poll(lambda: model(gateway, "counter")["error"], what="the error")
    assert 'cell 1 "# POST": empty path after POST' in error
    write_app(apps_dir / "counter.ipynb", "raise RuntimeError('seed broke')", "# GET /tag\n1")
    poll(lambda: "seed broke" in (model(gateway, "counter")["error"] or ""), what="seed error")
    assert gateway.request("GET", "/apps/counter/tag")[::2] == (200, b"v3\n")
    write_app(apps_dir / "counter.ipynb", *version_app("v4"))
    poll(lambda: gateway.request("GET", "/apps/counter/tag")[2] == b"v4\n", what="v4")
    assert model(gateway, "counter")["error"] is None


def test_a_broken_version_of_a_stopped_app_keeps_the_old_one(
    gateway: Gateway, apps_dir: Path
) -> None:
    assert model(gateway, "resting")["state"] == "stopped"
    write_app(apps_dir / "resting.ipynb", "# GET\nprint(1)")
    poll(lambda: model(gateway, "resting")["error"], what="the error")
    assert model(gateway, "resting")["state"] == "stopped"
    assert gateway.request("GET", "/apps/resting/tag")[::2] == (200, b"rest1\n")


def test_post_reload_and_a_removed_app(gateway: Gateway, apps_dir: Path) -> None:
    status, body = gateway.json("POST", "/_api/apps/doomed/reload")
    assert (status, body["slug"]) == (200, "doomed")
    (apps_dir / "doomed.ipynb").unlink()
    poll(lambda: gateway.request("GET", "/apps/doomed/x")[0] == 404, what="a 404")
    assert gateway.request("GET", "/_api/apps/doomed")[0] == 404


def test_put_and_delete_with_the_token(gateway: Gateway, apps_dir: Path) -> None:
    body = json.dumps(notebook(*version_app("put1")))
    status, headers, raw = gateway.request("PUT", "/_api/apps/putme", body, NB)
    assert (status, headers["Location"]) == (201, "/_api/apps/putme"), raw
    assert json.loads(raw)["slug"] == "putme"
    assert gateway.request("GET", "/apps/putme/tag")[::2] == (200, b"put1\n")
    body = json.dumps(notebook(*version_app("put2")))
    assert gateway.request("PUT", "/_api/apps/putme", body, NB)[0] == 200
    assert gateway.request("GET", "/apps/putme/tag")[::2] == (200, b"put2\n")
    status, answer = gateway.json("PUT", "/_api/apps/putme", body, headers={"Content-Type": "a/b"})
    assert (status, answer["message"].startswith("Deploy a notebook or a zip")) == (400, True)
    assert gateway.request("DELETE", "/_api/apps/putme")[0] == 204
    assert gateway.request("GET", "/apps/putme/tag")[0] == 404
    assert not (apps_dir / "putme.ipynb").exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (json.dumps(notebook("# POST\nprint(1)")), 'cell 1 "# POST": empty path after POST'),
        ('{"cells": 1}', "not a valid app"),
        ("not json", "not a valid app"),
    ],
)
def test_a_bad_notebook_is_400_and_nothing_written(
    gateway: Gateway, apps_dir: Path, body: str, message: str
) -> None:
    before = sorted(p.name for p in apps_dir.iterdir())
    status, answer = gateway.json("PUT", "/_api/apps/badone", body, headers=NB)
    assert status == 400
    assert message in answer["message"]
    assert sorted(p.name for p in apps_dir.iterdir()) == before


def test_anonymous_deploys_are_refused(gateway: Gateway) -> None:
    body = json.dumps(notebook(*version_app("anon")))
    status, _, _ = gateway.request("PUT", "/_api/apps/anon", body, {**NB, "Authorization": ""})
    assert status == 401


def signed_put(gateway: Gateway, path: str, body: bytes, **kw: object) -> int:
    headers = {**NB, "Authorization": "", **signed_headers(KEY, "PUT", path, body, **kw)}
    return gateway.request("PUT", path, body, headers)[0]


def test_signed_deploys(gateway: Gateway) -> None:
    body = json.dumps(notebook(*version_app("signed"))).encode()
    headers = {**NB, "Authorization": "", **signed_headers(KEY, "PUT", "/_api/apps/signed", body)}
    assert gateway.request("PUT", "/_api/apps/signed", body, headers)[0] == 201
    assert gateway.request("PUT", "/_api/apps/signed", body, headers)[0] == 401  # replayed

    now = int(time.time())
    assert signed_put(gateway, "/_api/apps/signed", body, at=now - 400) == 401  # stale
    assert signed_put(gateway, "/_api/apps/signed", body, at=now + 400) == 401  # future
    wrong_body = {**NB, "Authorization": "", **signed_headers(KEY, "PUT", "/x", body)}
    assert gateway.request("PUT", "/_api/apps/signed", body, wrong_body)[0] == 401  # wrong path
    other = {**NB, "Authorization": "", **signed_headers(KEY, "PUT", "/_api/apps/signed", b"{}")}
    assert gateway.request("PUT", "/_api/apps/signed", body, other)[0] == 401  # wrong body
    assert gateway.request("GET", "/apps/signed/tag")[::2] == (200, b"signed\n")


def test_the_signing_script_deploys(gateway: Gateway) -> None:
    script = ROOT / "etc" / "apps" / "sign_deploy.py"
    args = [sys.executable, str(script), gateway.http_url, "scripted", str(APPS / "hello.ipynb")]
    env = {**os.environ, "KG_DEPLOY_KEY": KEY}
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith('201 {"slug": "scripted"')
    assert gateway.request("GET", "/apps/scripted/hello/sig")[::2] == (200, b"Hello, sig!\n")


def test_a_zip_with_data_files_serves_them(gateway: Gateway) -> None:
    app = notebook("# GET /data\nprint(open('data.txt').read())")
    body = zip_of(
        {
            "app.ipynb": json.dumps(app).encode(),
            "data.txt": b"from the zip",
            "public/page.html": b"<p>hi</p>",
        }
    )
    status, _, raw = gateway.request(
        "PUT", "/_api/apps/zipped", body, {"Content-Type": "application/zip"}
    )
    assert status == 201, raw
    assert gateway.request("GET", "/apps/zipped/data")[::2] == (200, b"from the zip\n")
    assert gateway.request("GET", "/apps/zipped/public/page.html")[::2] == (200, b"<p>hi</p>")


@pytest.mark.parametrize(
    ("files", "links", "status"),
    [
        ({"../escape.txt": b"x"}, {}, 400),
        ({}, {"public/passwd": "/etc/passwd"}, 400),
        ({"big.bin": b"x" * 60_000, "big2.bin": b"x" * 60_000}, {}, 400),  # unpacked size
        ({"big.bin": os.urandom(120_000)}, {}, 413),  # the upload itself
    ],
)
def test_bad_zips_are_refused_and_nothing_written(
    gateway: Gateway,
    apps_dir: Path,
    files: dict[str, bytes],
    links: dict[str, str],
    status: int,
) -> None:
    files["app.ipynb"] = json.dumps(notebook("# GET /x\nprint(1)")).encode()
    before = sorted(p.name for p in apps_dir.iterdir())
    headers = {"Content-Type": "application/zip"}
    assert gateway.request("PUT", "/_api/apps/badzip", zip_of(files, links), headers)[0] == status
    assert sorted(p.name for p in apps_dir.iterdir()) == before
    assert not (apps_dir.parent / "escape.txt").exists()


def test_an_ephemeral_app_expires(gateway: Gateway, apps_dir: Path) -> None:
    body = json.dumps(notebook(*version_app("eph")))
    status, created = gateway.json("POST", "/_api/apps", body, headers=NB)
    assert status == 201
    assert re.fullmatch(r"[0-9a-f]{32}", created["slug"])
    assert created["url"] == f"/apps/{created['slug']}/"
    assert created["expires_at"].endswith("Z")
    assert gateway.request("GET", created["url"] + "tag")[::2] == (200, b"eph\n")
    gone = f"/_api/apps/{created['slug']}"  # asking the app itself would keep it alive
    poll(lambda: gateway.request("GET", gone)[0] == 404, what="expiry")
    assert gateway.request("GET", created["url"] + "tag")[0] == 404
    assert not (apps_dir / created["slug"]).exists()


def test_deploys_outlive_a_restart(gateway_factory: GatewayFactory, tmp_path: Path) -> None:
    args = (
        "--api=notebook-http",
        f"--NotebookHTTPPersonality.apps_dir={tmp_path}",
        f"--auth_token={TOKEN}",
    )
    first = gateway_factory(*args, ready_path="/_api/apps")
    body = json.dumps(notebook(*version_app("kept")))
    assert first.request("PUT", "/_api/apps/kept", body, NB)[0] == 201
    status, created = first.json("POST", "/_api/apps", body, headers=NB)
    assert status == 201
    assert first.stop() == 0
    env = {"KG_APPS_DIR": str(tmp_path), "KG_APPS_START": "eager"}  # the variables work too
    second = gateway_factory("--api=notebook-http", f"--auth_token={TOKEN}", env=env)
    slugs = sorted(app["slug"] for app in second.json("GET", "/_api/apps")[1])
    assert slugs == sorted(["kept", created["slug"]])
    assert model(second, "kept")["state"] == "running"  # eager: started at boot
    assert second.request("GET", f"/apps/{created['slug']}/tag")[::2] == (200, b"kept\n")


def test_without_token_or_key_deploys_are_forbidden(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    for slug in ("a", "b", "c"):
        write_app(
            tmp_path / f"{slug}.ipynb",
            "import os, time",
            "# GET /pid\nprint(os.getpid())",
            "# GET /sleep\ntime.sleep(3)\nprint(1)",
        )
    gateway = gateway_factory(
        "--api=notebook-http",
        f"--NotebookHTTPPersonality.apps_dir={tmp_path}",
        "--max_kernels=2",
        "--base_url=/kg",
        ready_path="/_api/apps",
    )
    status, body = gateway.json("PUT", "/_api/apps/x", json.dumps(notebook()), headers=NB)
    assert status == 403
    assert "KG_DEPLOY_KEY" in body["message"]
    status, swagger = gateway.json("GET", "/apps/a/_api/spec/swagger.json")
    assert (status, swagger["basePath"]) == (200, "/kg/apps/a")
    # max_kernels: the least recently used idle app makes room; none idle: 503 + Retry-After
    assert gateway.request("GET", "/apps/a/pid")[0] == 200
    assert gateway.request("GET", "/apps/b/pid")[0] == 200
    assert gateway.request("GET", "/apps/c/pid")[0] == 200
    assert [model(gateway, s)["state"] for s in "abc"] == ["stopped", "running", "running"]
    with ThreadPoolExecutor(2) as pool:
        busy = [pool.submit(gateway.request, "GET", f"/apps/{s}/sleep") for s in "bc"]
        poll(lambda: all(model(gateway, s)["busy"] for s in "bc"), what="b and c busy")
        status, headers, _ = gateway.request("GET", "/apps/a/pid")
        assert (status, headers.get("Retry-After")) == (503, "5")
        assert [f.result()[0] for f in busy] == [200, 200]
    assert gateway.request("GET", "/apps/a/pid")[0] == 200


def test_watch_seed_reloads_the_root_notebook(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    seed = write_app(tmp_path / "seed.ipynb", *version_app("root1"))
    gateway = gateway_factory(
        "--api=notebook-http",
        f"--seed_uri={seed}",
        "--NotebookHTTPPersonality.watch_seed=True",
        ready_path="/tag",
    )
    assert gateway.request("GET", "/tag")[::2] == (200, b"root1\n")
    write_app(seed, *version_app("root2"), "# GET /added\nprint('new path')")
    poll(lambda: gateway.request("GET", "/tag")[2] == b"root2\n", what="the new root version")
    assert gateway.request("GET", "/added")[::2] == (200, b"new path\n")
    write_app(seed, "# POST\nprint(1)")
    poll(lambda: "empty path after POST" in gateway.log(), what="the logged error")
    assert gateway.request("GET", "/tag")[::2] == (200, b"root2\n")


def test_a_redeployed_folder_stays_until_its_requests_are_done(
    gateway: Gateway, apps_dir: Path, tmp_path: Path
) -> None:
    flag = tmp_path / "go"
    code = f"# GET /read\nwhile not os.path.exists({str(flag)!r}):\n    time.sleep(0.05)\n"
    code += "print(open('data.txt').read())"

    def upload(data: bytes) -> int:
        app = json.dumps(notebook("import os, time", code)).encode()
        body = zip_of({"app.ipynb": app, "data.txt": data})
        return gateway.request(
            "PUT", "/_api/apps/folder", body, {"Content-Type": "application/zip"}
        )[0]

    assert upload(b"one") == 201
    with ThreadPoolExecutor(1) as pool:
        reading = pool.submit(gateway.request, "GET", "/apps/folder/read")
        poll(lambda: model(gateway, "folder")["busy"] == 1, what="the read in flight")
        assert upload(b"two") == 200  # the new version serves from here on
        flag.touch()
        assert reading.result()[::2] == (200, b"one\n")  # its folder was kept for it
    assert gateway.request("GET", "/apps/folder/read")[::2] == (200, b"two\n")
    poll(lambda: not list(apps_dir.glob(".retired-*")), what="the old folder to go")
