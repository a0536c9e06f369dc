"""A headless Chromium driven over the DevTools protocol, with tornado's websocket client.

`chromium()` starts Debian's `chromium` with a fresh profile, no background networking and a
DevTools port picked by Chromium itself; `Page.evaluate` runs JavaScript in an opened page.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tornado.websocket import WebSocketClientConnection, websocket_connect

DEVTOOLS = re.compile(r"DevTools listening on (ws://\S+)")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--remote-debugging-port=0",
)


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class DevTools:
    """One DevTools websocket: commands by id; the events read meanwhile are kept."""

    def __init__(self, conn: WebSocketClientConnection) -> None:
        self.conn = conn
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    async def send(self, method: str, session: str | None = None, **params: Any) -> Any:
        """Send a command; return its result, or raise with its error."""
        command_id = next(self.ids)
        message: dict[str, Any] = {"id": command_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        await self.conn.write_message(json.dumps(message))
        while True:
            raw = await self.conn.read_message()
            if raw is None:
                raise ConnectionError("the browser closed the DevTools connection")
            reply = json.loads(raw)
            if "method" in reply:
                self.events.append(reply)
            elif reply.get("id") == command_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]


class Page:
    """A browser tab attached over the flat DevTools session protocol."""

    def __init__(self, devtools: DevTools, session: str) -> None:
        self.devtools = devtools
        self.session = session

    async def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page."""
        result = await self.devtools.send(
            "Runtime.evaluate", self.session, expression=expression, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, what: str, timeout: float = 60.0) -> Any:
        """Poll `expression` until it is truthy; its value. Fails after `timeout` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = await self.evaluate(expression)
            if value:
                return value
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}")


def launch(profile: Path) -> subprocess.Popen[str]:
    """Start Chromium in a session of its own (so its helpers go with it), stderr piped."""
    binary = chromium_path()
    assert binary is not None
    return subprocess.Popen(
        [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


@asynccontextmanager
async def chromium(profile: Path) -> AsyncIterator[DevTools]:
    """A headless Chromium with a fresh profile; its process group is killed at exit."""
    process = await asyncio.to_thread(launch, profile)
    try:
        url = await asyncio.wait_for(asyncio.to_thread(devtools_url, process), 60)
        conn = await websocket_connect(url, max_message_size=64 * 1024 * 1024)
        try:
            yield DevTools(conn)
        finally:
            conn.close()
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        await asyncio.to_thread(process.wait)
        if process.stderr is not None:
            process.stderr.close()


def devtools_url(process: subprocess.Popen[str]) -> str:
    """Read Chromium's stderr until it names its DevTools websocket."""
    assert process.stderr is not None
    for line in process.stderr:
        found = DEVTOOLS.search(line)
        if found:
            return found.group(1)
    raise RuntimeError(f"chromium exited with {process.wait()} before DevTools listened")


async def open_page(devtools: DevTools, url: str) -> Page:
    """Open a new tab, attach to it, record its network requests, then go to `url`."""
    target = await devtools.send("Target.createTarget", url="about:blank")
    attached = await devtools.send(
        "Target.attachToTarget", targetId=target["targetId"], flatten=True
    )
    page = Page(devtools, attached["sessionId"])
    await devtools.send("Network.enable", page.session)
    await devtools.send("Page.navigate", page.session, url=url)
    return page


def requested_urls(devtools: DevTools) -> list[str]:
    """Every URL the pages asked for so far (from Network.requestWillBeSent events)."""
    return [
        event["params"]["request"]["url"]
        for event in devtools.events
        if event["method"] == "Network.requestWillBeSent"
    ]
