"""Helpers of the apps tests: notebooks written as apps, polling a gateway until it agrees."""

from __future__ import annotations

import io
import json
import stat
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conftest import Gateway, notebook_json

from kernel_gateway.notebook_http.apps.signature import sign


def notebook(*sources: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """An nbformat 4 notebook with one code cell per source."""
    return notebook_json(*sources, metadata=metadata)


def write_app(path: Path, *sources: str, metadata: dict[str, Any] | None = None) -> Path:
    """Write an app notebook atomically (as an editor would), creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(notebook(*sources, metadata=metadata)))
    temporary.replace(path)
    return path


def zip_of(files: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    """A zip of `files`, and of symlinks named by `links` (name -> target)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


def poll(check: Callable[[], Any], timeout: float = 60.0, what: str = "a condition") -> Any:
    """Call `check` until it returns something truthy; return that, or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def model(gateway: Gateway, slug: str) -> dict[str, Any]:
    status, body = gateway.json("GET", f"/_api/apps/{slug}")
    assert status == 200, body
    assert isinstance(body, dict)
    return body


def signed_headers(
    key: str, method: str, path: str, body: bytes, at: int | None = None
) -> dict[str, str]:
    """The X-KG-* headers of a deploy signed with `key`."""
    timestamp = str(int(time.time()) if at is None else at)
    return {
        "X-KG-Timestamp": timestamp,
        "X-KG-Signature": sign(key.encode(), timestamp, method, path, body),
    }
