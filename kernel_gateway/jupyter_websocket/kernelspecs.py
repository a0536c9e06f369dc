"""Kernel spec handlers: `/api/kernelspecs`, `/api/kernelspecs/:name` and their files.

Models follow jupyter_server: `{"name", "spec", "resources"}`, resources being URLs (under
`/kernelspecs/:name/`) of the spec's `kernel.js`, `kernel.css` and `logo-*` files.
"""

from __future__ import annotations

import mimetypes
import os
from typing import Any

from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

from ..base.handlers import AccessPolicy, GatewayHandler
from ..errors import NotFound, UnknownKernelSpec
from ..serving import RequestTracker

RESOURCE_FILES = ("kernel.js", "kernel.css")


def resource_urls(prefix: str, name: str, resource_dir: str) -> dict[str, str]:
    """URLs of a spec's resources by key: `kernel.js`, `kernel.css`, `logo-64x64`, ..."""
    try:
        files = sorted(os.listdir(resource_dir))
    except OSError:
        return {}
    urls = {}
    for filename in files:
        key = filename if filename in RESOURCE_FILES else None
        if filename.startswith("logo-"):
            key = os.path.splitext(filename)[0]
        if key is not None:
            urls[key] = f"{prefix}/kernelspecs/{name}/{filename}"
    return urls


def spec_model(prefix: str, name: str, spec: dict[str, Any], resource_dir: str) -> dict[str, Any]:
    """A spec's REST model."""
    return {"name": name, "spec": spec, "resources": resource_urls(prefix, name, resource_dir)}


class KernelSpecsAPIHandler(GatewayHandler):
    """Base of the spec handlers: the spec manager and the default kernel name, per route."""

    def initialize(  # type: ignore[override]
        self,
        policy: AccessPolicy,
        tracker: RequestTracker | None = None,
        *,
        kernel_spec_manager: KernelSpecManager,
        default_kernel_name: str,
    ) -> None:
        super().initialize(policy, tracker)
        self.spec_manager = kernel_spec_manager
        self.default_kernel_name = default_kernel_name

    def prefix(self, marker: str) -> str:
        """The base URL this request came in under (the path before `marker`)."""
        return self.request.path.rsplit(marker, 1)[0]

    def find_spec(self, name: str) -> Any:
        try:
            return self.spec_manager.get_kernel_spec(name)
        except NoSuchKernel as err:
            raise UnknownKernelSpec(name) from err


class KernelSpecsHandler(KernelSpecsAPIHandler):
    """`GET /api/kernelspecs`: every spec, and the default one."""

    def get(self) -> None:
        prefix = self.prefix("/api/kernelspecs")
        specs = {
            name: spec_model(prefix, name, found["spec"], found["resource_dir"])
            for name, found in self.spec_manager.get_all_specs().items()
        }
        self.write_json({"default": self.default_kernel_name, "kernelspecs": specs})


class KernelSpecHandler(KernelSpecsAPIHandler):
    """`GET /api/kernelspecs/:name`: one spec (404 for an unknown name)."""

    def get(self, name: str) -> None:
        spec = self.find_spec(name)
        prefix = self.prefix("/api/kernelspecs/")
        self.write_json(spec_model(prefix, name, spec.to_dict(), spec.resource_dir))


class KernelSpecResourceHandler(KernelSpecsAPIHandler):
    """`GET /kernelspecs/:name/:file`: a file of the spec's directory, never outside it."""

    def get(self, name: str, filename: str) -> None:
        root = os.path.realpath(self.find_spec(name).resource_dir)
        path = os.path.realpath(os.path.join(root, filename))
        if not path.startswith(root + os.sep) or not os.path.isfile(path):
            raise NotFound(f"Kernel spec {name} has no file {filename}")
        with open(path, "rb") as file:
            data = file.read()
        content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        self.set_header("Content-Type", content_type)
        self.set_header("Cache-Control", "max-age=3600")
        self.finish(data)
