"""Whether an HTTP server answers at an upstream: one GET, any status line counts."""

from __future__ import annotations

import asyncio
import contextlib

from .upstream import Upstream

STATUS_LINE_LIMIT = 1024


async def answers(upstream: Upstream, path: str, timeout: float) -> bool:
    """True if the server at `upstream` answers `GET path` with an HTTP status line within
    `timeout` seconds, whatever the status (a 404 or a 500 is still a server that answers)."""
    try:
        return await asyncio.wait_for(_ask(upstream, path), timeout)
    except (OSError, asyncio.TimeoutError, ValueError):
        return False


async def _ask(upstream: Upstream, path: str) -> bool:
    if upstream.socket_path:
        reader, writer = await asyncio.open_unix_connection(upstream.socket_path)
    else:
        reader, writer = await asyncio.open_connection(upstream.host, upstream.port)
    try:
        request = f"GET {path} HTTP/1.1\r\nHost: {upstream.authority}\r\nConnection: close\r\n"
        writer.write(f"{request}User-Agent: kernel-gateway-probe\r\n\r\n".encode())
        await writer.drain()
        line = await reader.readline()
        return line[:STATUS_LINE_LIMIT].startswith(b"HTTP/")
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
