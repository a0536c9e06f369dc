"""A small web app that the kernel proxy tests run inside a kernel (this source is sent there).

`serve()` starts it on a free loopback port, in a thread of the kernel, and returns the port.
Routes:
- `/echo?key=k`: any method; what arrived, the body hashed as it streams in
- `/progress?key=k`: body bytes `/echo?key=k` has received so far; streams whose client left
- `/stream?key=k`: a first line at once, the last once `/release?key=k` was posted
- `/hang`: never answers
- `/status/N`: answers with status N (and a body, but for 204 and 304)
- `/ws`: a websocket echo; "close please" makes it close with 4001
- `/wsinfo`: what the websocket side saw: its requests and the close codes
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from typing import Any

from tornado import httpserver, netutil, web, websocket


class State:
    """What the handlers share."""

    def __init__(self) -> None:
        self.releases: dict[str, asyncio.Event] = {}
        self.received: dict[str, int] = {}
        self.streams_cut = 0
        self.ws_requests: list[dict[str, Any]] = []
        self.closes: list[list[Any]] = []


class Handler(web.RequestHandler):
    def initialize(self, state: State) -> None:
        self.state = state


@web.stream_request_body
class EchoHandler(Handler):
    def prepare(self) -> None:
        self.digest = hashlib.sha256()
        self.size = 0
        self.key = self.get_query_argument("key", "")

    def data_received(self, chunk: bytes) -> None:
        self.digest.update(chunk)
        self.size += len(chunk)
        self.state.received[self.key] = self.size

    def answer(self) -> None:
        self.set_header("X-Upstream", "echo")
        self.set_header("Keep-Alive", "timeout=5")
        self.write(
            {
                "method": self.request.method,
                "path": self.request.path,
                "query": self.request.query,
                "headers": [list(pair) for pair in self.request.headers.get_all()],
                "size": self.size,
                "sha256": self.digest.hexdigest(),
            }
        )

    get = post = put = patch = delete = options = head = answer  # type: ignore[assignment]


class ProgressHandler(Handler):
    def get(self) -> None:
        received = self.state.received.get(self.get_query_argument("key", ""), 0)
        self.write({"received": received, "streams_cut": self.state.streams_cut})


class StreamHandler(Handler):
    async def get(self) -> None:
        self.write("first\n")
        await self.flush()
        key = self.get_query_argument("key")
        await self.state.releases.setdefault(key, asyncio.Event()).wait()
        self.write("last\n")

    def on_connection_close(self) -> None:
        self.state.streams_cut += 1


class ReleaseHandler(Handler):
    def post(self) -> None:
        self.state.releases.setdefault(self.get_query_argument("key"), asyncio.Event()).set()


class StatusHandler(Handler):
    def get(self, code: str) -> None:
        self.set_status(int(code))
        self.set_header("X-Upstream", "status")
        if int(code) not in (204, 304):
            self.write(f"the app's own {code}\n")


class HangHandler(Handler):
    async def get(self) -> None:
        await asyncio.Event().wait()


class EchoSocket(websocket.WebSocketHandler):
    def initialize(self, state: State) -> None:
        self.state = state

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return subprotocols[0] if subprotocols else None

    def open(self) -> None:
        headers = [list(pair) for pair in self.request.headers.get_all()]
        self.state.ws_requests.append({"uri": self.request.uri, "headers": headers})

    def on_message(self, message: str | bytes) -> None:
        if message == "close please":
            self.close(4001, "bye")
        else:
            self.write_message(message, binary=isinstance(message, bytes))

    def on_close(self) -> None:
        self.state.closes.append([self.close_code, self.close_reason])


class WebSocketInfoHandler(Handler):
    def get(self) -> None:
        self.write({"requests": self.state.ws_requests, "closes": self.state.closes})


def application(state: State) -> web.Application:
    routes = [
        ("/echo", EchoHandler),
        ("/progress", ProgressHandler),
        ("/stream", StreamHandler),
        ("/release", ReleaseHandler),
        ("/hang", HangHandler),
        (r"/status/(\d+)", StatusHandler),
        ("/ws", EchoSocket),
        ("/wsinfo", WebSocketInfoHandler),
    ]
    return web.Application(
        [(path, handler, {"state": state}) for path, handler in routes],
        log_function=lambda handler: None,  # the kernel's stderr is the gateway's log
    )


def serve() -> int:
    """Start the app in a thread with its own event loop; return its port."""
    started = threading.Event()
    ports: list[int] = []

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)

        async def start() -> None:
            sockets = netutil.bind_sockets(0, "127.0.0.1")
            httpserver.HTTPServer(application(State())).add_sockets(sockets)
            ports.append(sockets[0].getsockname()[1])
            started.set()

        loop.run_until_complete(start())
        loop.run_forever()

    threading.Thread(target=run, daemon=True, name="upstream-app").start()
    started.wait(30)
    return ports[0]
