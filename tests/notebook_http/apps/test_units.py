"""The pure parts of apps: deploy signatures, per-app settings, folder scanning, zip staging."""

from __future__ import annotations

import io
import json
import stat
import time
import zipfile
from pathlib import Path

import pytest

from kernel_gateway.errors import BadRequest, StartupError, Unauthorized
from kernel_gateway.notebook_http.app import NotebookApp
from kernel_gateway.notebook_http.apps.deploy import stage_zip
from kernel_gateway.notebook_http.apps.scan import AppScanner, AppSource
from kernel_gateway.notebook_http.apps.settings import AppSettings, read_settings
from kernel_gateway.notebook_http.apps.signature import SignatureChecker, sign
from kernel_gateway.notebook_http.version import AppVersion, ParseOptions, build_version

NOW = 1_800_000_000


def signed(body: bytes = b"{}", path: str = "/_api/apps/a", at: int = NOW) -> tuple[str, str]:
    return str(at), sign(b"key", str(at), "PUT", path, body)


def test_a_good_signature_is_accepted_once() -> None:
    checker = SignatureChecker("key", 300)
    checker.verify(*signed(), "PUT", "/_api/apps/a", b"{}", now=NOW + 10)
    with pytest.raises(Unauthorized, match="already used"):
        checker.verify(*signed(), "PUT", "/_api/apps/a", b"{}", now=NOW + 11)


def test_used_signatures_are_remembered_across_restarts(tmp_path: Path) -> None:
    now = int(time.time())  # the journal is read at the real time
    journal = tmp_path / ".kg-used-signatures"
    journal.write_text(f"{now - 1} expired\n")
    headers = signed(at=now)
    SignatureChecker("key", 300, journal).verify(*headers, "PUT", "/_api/apps/a", b"{}", now)
    restarted = SignatureChecker("key", 300, journal)
    with pytest.raises(Unauthorized, match="already used"):
        restarted.verify(*headers, "PUT", "/_api/apps/a", b"{}", now=now + 1)
    assert "expired" not in journal.read_text()
    assert "sha256=" not in journal.read_text()  # hashes of signatures, not signatures


@pytest.mark.parametrize(
    ("headers", "method", "path", "body", "reason"),
    [
        (signed(at=NOW - 301), "PUT", "/_api/apps/a", b"{}", "older than 300"),
        (signed(at=NOW + 301), "PUT", "/_api/apps/a", b"{}", "ahead"),
        (signed(), "PUT", "/_api/apps/a", b"{ }", "does not match"),
        (signed(), "PUT", "/_api/apps/b", b"{}", "does not match"),
        (signed(), "DELETE", "/_api/apps/a", b"{}", "does not match"),
        (("abc", "sha256=00"), "PUT", "/_api/apps/a", b"{}", "Unix seconds"),
        ((None, None), "PUT", "/_api/apps/a", b"{}", "needs X-KG-Timestamp"),
    ],
)
def test_bad_signatures_are_refused(
    headers: tuple[str | None, str | None], method: str, path: str, body: bytes, reason: str
) -> None:
    with pytest.raises(Unauthorized, match=reason):
        SignatureChecker("key", 300).verify(*headers, method, path, body, now=NOW)


def test_settings_from_metadata() -> None:
    metadata = {"kernel_gateway": {"prespawn_count": 2, "idle_stop": 30, "request_timeout": 1.5}}
    assert read_settings(metadata, AppSettings(max_queue_wait=4)) == AppSettings(
        pool_size=2, request_timeout=1.5, max_queue_wait=4, idle_stop=30.0
    )
    assert read_settings({}, AppSettings()) == AppSettings()


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"pool": 2}, "metadata.kernel_gateway.pool is not a setting"),
        ({"prespawn_count": 0}, "metadata.kernel_gateway.prespawn_count must be an integer"),
        ({"prespawn_count": True}, "metadata.kernel_gateway.prespawn_count must be an integer"),
        ({"idle_stop": -1}, "metadata.kernel_gateway.idle_stop must be a number"),
        ({"request_timeout": "5"}, "metadata.kernel_gateway.request_timeout must be a number"),
    ],
)
def test_bad_settings_name_the_key(section: dict, message: str) -> None:
    with pytest.raises(StartupError, match=message):
        read_settings({"kernel_gateway": section}, AppSettings())


def test_scan_finds_notebooks_and_folders(tmp_path: Path) -> None:
    (tmp_path / "one.ipynb").write_text("{}")
    (tmp_path / "two").mkdir()
    (tmp_path / "two" / "main.ipynb").write_text("{}")
    (tmp_path / "three").mkdir()
    (tmp_path / "three" / "app.ipynb").write_text("{}")
    (tmp_path / "three" / "other.ipynb").write_text("{}")
    (tmp_path / "Bad Name.ipynb").write_text("{}")
    (tmp_path / ".upload-1").mkdir()
    (tmp_path / "empty").mkdir()
    assert AppScanner(tmp_path).scan() == {
        "one": AppSource("one", tmp_path / "one.ipynb"),
        "three": AppSource("three", tmp_path / "three" / "app.ipynb", tmp_path / "three"),
        "two": AppSource("two", tmp_path / "two" / "main.ipynb", tmp_path / "two"),
    }


def zipped(*entries: tuple[str, bytes], link: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            archive.writestr(name, data)
        if link is not None:
            info = zipfile.ZipInfo(link)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def test_a_zip_is_unpacked_into_a_hidden_folder(tmp_path: Path) -> None:
    staged = stage_zip(tmp_path, zipped(("app.ipynb", b"{}"), ("public/a.txt", b"a")), 1000)
    assert staged.parent == tmp_path
    assert staged.name.startswith(".")
    assert sorted(str(p.relative_to(staged)) for p in staged.rglob("*")) == [
        "app.ipynb",
        "public",
        "public/a.txt",
    ]


def test_a_zip_of_the_folder_itself_is_unwrapped(tmp_path: Path) -> None:
    staged = stage_zip(tmp_path, zipped(("mine/app.ipynb", b"{}")), 1000)
    assert [p.name for p in staged.iterdir()] == ["app.ipynb"]
    assert [p.name for p in tmp_path.iterdir()] == [staged.name]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (zipped(("app.ipynb", b"{}"), ("../evil.py", b"x")), "outside the app folder"),
        (zipped(("app.ipynb", b"{}"), ("/abs.py", b"x")), "outside the app folder"),
        (zipped(("app.ipynb", b"{}"), link="public/pw"), "is a link"),
        (zipped(("app.ipynb", b"{}"), ("big.bin", b"x" * 2000)), "more than max_app_size"),
        (zipped(("data.csv", b"a,b")), "no app.ipynb"),
        (b"not a zip", "not a zip file"),
    ],
)
def test_bad_zips_leave_nothing(tmp_path: Path, body: bytes, reason: str) -> None:
    with pytest.raises(BadRequest, match=reason):
        stage_zip(tmp_path, body, 1000)
    assert list(tmp_path.iterdir()) == []


def version_of(*sources: str, mount: str | None = "/apps/x") -> AppVersion:
    cells = [{"cell_type": "code", "source": source, "metadata": {}} for source in sources]
    notebook = {"nbformat": 4, "metadata": {}, "cells": cells}
    options = ParseOptions(
        "kernel_gateway.notebook_http.cell.parser", {}, 100, False, AppSettings()
    )
    return build_version(notebook, "abc", options, "x", mount)


def test_a_version_routes_raw_paths_and_documents_its_prefix() -> None:
    version = version_of("# GET /users/:id\nprint(1)", "# GET /users/me\nprint(2)")
    route, params = version.match("/users/a%2Fb") or (None, None)
    assert (route.path if route else None, params) == ("/users/:id", {"id": "a/b"})
    route, params = version.match("/users/me/") or (None, None)
    assert (route.path if route else None, params) == ("/users/me", {})
    assert version.match("/users") is None
    assert json.loads(version.swagger)["basePath"] == "/apps/x"
    assert json.loads(version.openapi)["servers"] == [{"url": "/apps/x"}]
    root = version_of("# GET /a\nprint(1)", mount=None)
    assert "basePath" not in json.loads(root.swagger)


def test_state_changes_are_announced() -> None:
    app = NotebookApp("x", None, 1)  # type: ignore[arg-type]  # no kernel is started here
    seen: list[tuple[str, str, str]] = []
    app.state_listeners.append(lambda changed, old, new: seen.append((changed.slug, old, new)))
    app.set_version(version_of("# GET /a\nprint(1)"))
    app.reject("version def: broken")  # the version before serves on
    app.fail("seed failed")
    assert seen == [("x", "failed", "stopped"), ("x", "stopped", "failed")]
    assert app.model().error == "seed failed"
