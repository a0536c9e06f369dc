"""`/_api/apps`: list, show, reload, deploy and delete apps. Thin: the registry does it all.

Deploys run arbitrary code, so PUT, DELETE and POST (an ephemeral app) need the gateway's
token or a request signed with deploy_key; with neither configured they are refused (403).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..base.handlers import GatewayHandler, check_origin, check_token, check_uri
from ..errors import Forbidden, PayloadTooLarge
from .apps.registry import AppRegistry
from .apps.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureChecker
from .apps.upload import Upload

DEPLOY_METHODS = ("PUT", "DELETE", "POST")
ENABLE_DEPLOYS = (
    "Deploys are disabled: set a token (--auth_token, KG_AUTH_TOKEN) or a signing key "
    "(--NotebookHTTPPersonality.deploy_key, KG_DEPLOY_KEY) to enable them"
)


@dataclass(frozen=True)
class DeployAccess:
    """Who may deploy: the signature checker (None without deploy_key), and the base path."""

    signatures: SignatureChecker | None
    base_path: str
    max_app_size: int


class AppsAPIHandler(GatewayHandler):
    """Base of the /_api/apps handlers: the registry, and deploy access checks."""

    def initialize(  # type: ignore[override]
        self, registry: AppRegistry, access: DeployAccess, **base: Any
    ) -> None:
        super().initialize(**base)
        self.registry = registry
        self.access = access

    def authorize(self) -> None:
        """Token for reading; for deploys, a valid signature or the token (never neither)."""
        if self.request.method not in DEPLOY_METHODS:
            super().authorize()
            return
        check_uri(self.request)
        check_origin(self.request, self.policy)
        if len(self.request.body) > self.access.max_app_size:
            raise PayloadTooLarge(f"The app is over {self.access.max_app_size} bytes")
        headers = self.request.headers
        signed = TIMESTAMP_HEADER in headers or SIGNATURE_HEADER in headers
        checker = self.access.signatures
        if checker is not None and (signed or not self.policy.auth_token):
            checker.verify(
                headers.get(TIMESTAMP_HEADER),
                headers.get(SIGNATURE_HEADER),
                self.request.method or "",
                self.request.uri or "",
                self.request.body,
            )
            return
        if not self.policy.auth_token:
            raise Forbidden(ENABLE_DEPLOYS)
        check_token(self.request, self.policy)

    def upload(self) -> Upload:
        return Upload.of(self.request.body, self.request.headers.get("Content-Type"))

    def app_url(self, slug: str) -> str:
        return f"{self.access.base_path}/apps/{slug}/"


class AppsHandler(AppsAPIHandler):
    """`GET /_api/apps` lists the apps; `POST /_api/apps` creates an ephemeral one."""

    def get(self) -> None:
        self.write_json([model.to_json() for model in self.registry.models()])

    async def post(self) -> None:
        model = await self.registry.create_ephemeral(self.upload())
        self.set_header("Location", f"{self.access.base_path}/_api/apps/{model.slug}")
        body = {"slug": model.slug, "url": self.app_url(model.slug), "expires_at": model.expires_at}
        self.write_json(body, status=201)


class AppHandler(AppsAPIHandler):
    """`GET`, `PUT` (create or replace) and `DELETE` one app."""

    def get(self, slug: str) -> None:
        self.write_json(self.registry.model(slug).to_json())

    async def put(self, slug: str) -> None:
        model, created = await self.registry.deploy(slug, self.upload())
        if created:
            self.set_header("Location", f"{self.access.base_path}/_api/apps/{slug}")
        self.write_json(model.to_json(), status=201 if created else 200)

    async def delete(self, slug: str) -> None:
        await self.registry.delete(slug)
        self.set_status(204)
        self.finish()


class AppReloadHandler(AppsAPIHandler):
    """`POST /_api/apps/<slug>/reload`: read the notebook again and serve it."""

    def authorize(self) -> None:
        GatewayHandler.authorize(self)

    async def post(self, slug: str) -> None:
        self.write_json((await self.registry.reload(slug)).to_json())
