"""A small HTTP client for streamed answers: raw chunks, Server-Sent Events, peak RSS."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from conftest import Gateway


def open_stream(
    gateway: Gateway, path: str, method: str = "GET", accept: str = "text/event-stream"
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    """Send one request and return its connection and response, headers read, body not."""
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=60)
    connection.request(method, path, headers={"Accept": accept})
    return connection, connection.getresponse()


def events(response: http.client.HTTPResponse) -> Iterator[tuple[str, Any]]:
    """The events of an event stream as they arrive: (name, decoded data), or (":", comment)."""
    pending = b""
    while True:
        while b"\n\n" not in pending:
            data = response.read1(65536)
            if not data:
                return
            pending += data
        block, pending = pending.split(b"\n\n", 1)
        lines = block.decode().split("\n")
        if lines[0].startswith(":"):
            yield ":", lines[0][1:].strip()
            continue
        fields = dict(line.split(": ", 1) for line in lines)
        yield fields["event"], json.loads(fields["data"])


def read_all(response: http.client.HTTPResponse) -> tuple[bytes, bool]:
    """The whole body, and whether it ended properly (False: cut without its last chunk)."""
    body = b""
    try:
        while data := response.read1(65536):
            body += data
    except http.client.IncompleteRead as err:
        return body + err.partial, False
    return body, True


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in bytes."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) * 1024
    return values


def reset_peak(pid: int) -> None:
    """Set a process's VmHWM back to its current RSS (Linux: clear_refs 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
