"""AppProxyHandler: `/apps/<slug>/...` of a served app, forwarded to the server its kernel runs.

Every path under the app's prefix goes to its server, `_api/` and `public/` included: the
server owns the app's URL space (the app's model stays at `/_api/apps/<slug>`). A request
starts the app on demand and holds it (as an endpoint request does) until its answer is
sent, or until its websocket closes: so proxied traffic keeps the app from its idle stop.
While the server restarts, requests wait for it, up to app_start_timeout (then 503).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..base.handlers import AccessPolicy
from ..base.proxy import DEFAULT_TIMEOUT, ProxyHandler
from ..base.websocket import OpenWebSockets
from ..errors import NotFound
from ..services.proxy import Upstream
from ..serving import RequestTracker
from .app import Live, NotebookApp

AppFinder = Callable[[str | None], NotebookApp]


def is_served(find: AppFinder, slug: str) -> bool:
    """True if `slug` names an app whose version serves a web server (the route's test)."""
    try:
        app = find(slug)
    except NotFound:
        return False
    return app.version is not None and app.version.settings.serve is not None


class AppProxyHandler(ProxyHandler):
    """HTTP and websockets of a served app, to its server."""

    live: Live | None = None
    app: NotebookApp
    _ws_closed = False

    def initialize(  # type: ignore[override]
        self,
        policy: AccessPolicy,
        tracker: RequestTracker | None = None,
        *,
        find: AppFinder,
        websockets: OpenWebSockets,
        timeout: float = DEFAULT_TIMEOUT,
        **_: Any,
    ) -> None:
        super().initialize(policy, tracker, timeout, websockets)
        self.find = find

    async def resolve(self) -> tuple[Upstream, str]:
        """The app's server, once it answers (the app started if need be); 503 otherwise."""
        self.app = self.find(self.path_kwargs["slug"])
        live = await self.app.acquire()
        self.live = live
        if live.server is None:  # reloaded meanwhile into an app of endpoints
            raise NotFound(f"No resource at {self.request.path}")
        upstream = await live.server.ready(live.server.start_timeout)
        return upstream, self.app.mount_url

    def on_finish(self) -> None:
        super().on_finish()
        if self.get_status() == 101 and not self._ws_closed:
            return  # the websocket is open: the app stays held until it closes
        live, self.live = self.live, None
        if live is not None:
            self.app.release(live)

    def on_close(self) -> None:
        self._ws_closed = True
        super().on_close()  # which calls on_finish
