"""REST handlers of jupyter-websocket mode: kernels, sessions and the API document.

Shapes and status codes follow jupyter_server's REST API (what JupyterLab and
jupyter-kernel-gateway 3 clients expect). Listing kernels or sessions needs `list_kernels`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..base.handlers import AccessPolicy, GatewayHandler
from ..errors import BadRequest, Forbidden
from ..services.kernels.manager import MappingKernelManager, client_env
from ..services.sessions import SessionManager, parse_new_session, parse_session_changes
from ..serving import RequestTracker
from .hub import KernelHubs
from .swagger import api_document


@dataclass(frozen=True)
class ModeOptions:
    """The mode's own options, as its handlers need them."""

    list_kernels: bool = False
    env_whitelist: tuple[str, ...] = ()


class KernelsAPIHandler(GatewayHandler):
    """Base of the kernel and session handlers: their collaborators, injected per route."""

    def initialize(  # type: ignore[override]
        self,
        policy: AccessPolicy,
        tracker: RequestTracker | None = None,
        *,
        kernel_manager: MappingKernelManager,
        sessions: SessionManager,
        hubs: KernelHubs,
        mode: ModeOptions,
    ) -> None:
        super().initialize(policy, tracker)
        self.kernel_manager = kernel_manager
        self.sessions = sessions
        self.hubs = hubs
        self.mode = mode

    def check_listing(self) -> None:
        if not self.mode.list_kernels:
            raise Forbidden("Listing is disabled (set KG_LIST_KERNELS=True to allow it)")

    def body_object(self) -> dict[str, Any]:
        """The JSON body, which must be an object; an empty body is `{}`."""
        body = self.json_body()
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise BadRequest("The request body must be a JSON object")
        return body

    def created(self, model: dict[str, Any]) -> None:
        """201 with the new resource's model and its URL in Location."""
        self.set_header("Location", f"{self.request.path.rstrip('/')}/{model['id']}")
        self.write_json(model, 201)


class KernelsHandler(KernelsAPIHandler):
    """`/api/kernels`: list (if allowed) and start kernels."""

    def get(self) -> None:
        self.check_listing()
        self.write_json(self.kernel_manager.kernel_models())

    async def post(self) -> None:
        body = self.body_object()
        name = body.get("name")
        if name is not None and not isinstance(name, str):
            raise BadRequest("name must be a string")
        env = body.get("env", {})
        if not isinstance(env, dict):
            raise BadRequest("env must be an object of variable names to values")
        allowed = client_env(env, self.mode.env_whitelist)
        kernel_id = await self.kernel_manager.start_kernel(
            kernel_name=name or None, env=allowed, wait_ready=False
        )
        self.created(self.kernel_manager.kernel_model(kernel_id))


class KernelHandler(KernelsAPIHandler):
    """`/api/kernels/:id`: a kernel's model, or shut it down."""

    def get(self, kernel_id: str) -> None:
        self.write_json(self.kernel_manager.kernel_model(kernel_id))

    async def delete(self, kernel_id: str) -> None:
        await self.kernel_manager.shutdown_kernel(kernel_id)  # its websockets hear it is gone
        self.set_status(204)
        self.finish()


class KernelActionHandler(KernelsAPIHandler):
    """`/api/kernels/:id/interrupt` (204) and `/api/kernels/:id/restart` (200 + model)."""

    async def post(self, kernel_id: str, action: str) -> None:
        if action == "interrupt":
            await self.kernel_manager.interrupt_kernel(kernel_id)
            self.set_status(204)
            self.finish()
            return
        await self.kernel_manager.restart_kernel(kernel_id)
        self.write_json(self.kernel_manager.kernel_model(kernel_id))


class SessionsHandler(KernelsAPIHandler):
    """`/api/sessions`: list (if allowed) and create sessions."""

    def get(self) -> None:
        self.check_listing()
        self.write_json(self.sessions.list())

    async def post(self) -> None:
        request = parse_new_session(self.json_body())
        self.created(await self.sessions.create(request))


class SessionHandler(KernelsAPIHandler):
    """`/api/sessions/:id`: read, change or delete one session."""

    def get(self, session_id: str) -> None:
        self.write_json(self.sessions.get(session_id))

    async def patch(self, session_id: str) -> None:
        changes = parse_session_changes(self.json_body())
        model = await self.sessions.update(session_id, changes)
        self.write_json(model)

    async def delete(self, session_id: str) -> None:
        await self.sessions.delete(session_id)
        self.set_status(204)
        self.finish()


class APIDocumentHandler(GatewayHandler):
    """`/api/swagger.json` and `/api/swagger.yaml`: the API document, based where it is served."""

    def initialize(  # type: ignore[override]
        self,
        policy: AccessPolicy,
        tracker: RequestTracker | None = None,
        *,
        renderer: Callable[[dict[str, Any]], str],
        content_type: str,
    ) -> None:
        super().initialize(policy, tracker)
        self.renderer = renderer
        self.content_type = content_type

    def get(self) -> None:
        base_url = self.request.path.rsplit("/api/", 1)[0] or "/"
        self.set_header("Content-Type", self.content_type)
        document = api_document(base_url, token_required=bool(self.policy.auth_token))
        self.finish(self.renderer(document))
