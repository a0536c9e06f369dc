"""The seam between the app and a mode ("personality"): handlers, start, stop.

The app builds the shared pieces (kernel manager, access policy, seed notebook) and hands them
to the personality named by `api`; the personality returns its route table and owns its mode's
lifecycle. Route patterns are relative: the app prefixes `base_url`.
"""

from __future__ import annotations

import importlib
from abc import ABCMeta, abstractmethod
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from traitlets.config import LoggingConfigurable
from traitlets.traitlets import MetaHasTraits

from .base.handlers import AccessPolicy
from .base.routing import WhenPath
from .errors import StartupError
from .seed import Notebook
from .services.kernels.manager import MappingKernelManager
from .services.kernels.pool import KernelPool
from .services.proxy import PortRanges

Route = tuple[str | WhenPath, type, dict[str, Any]]

API_MODULES = {
    "jupyter-websocket": "kernel_gateway.jupyter_websocket",
    "notebook-http": "kernel_gateway.notebook_http",
}


@dataclass(frozen=True)
class GatewayContext:
    """What the app shares with its personality."""

    kernel_manager: MappingKernelManager
    policy: AccessPolicy
    seed_notebook: Notebook | None  # parsed, every cell's source one string
    seed_uri: str | None
    prespawn_count: int | None
    default_kernel_name: str
    kernel_pool_size: int = 0
    kernel_proxy_ports: PortRanges = field(default_factory=PortRanges)
    kernel_proxy_timeout: float = 30.0
    seed_text: str | None = None  # the seed notebook as its file has it
    base_url: str = "/"


class _PersonalityMeta(MetaHasTraits, ABCMeta):
    """Lets a personality be both a traitlets Configurable and an ABC."""


class Personality(LoggingConfigurable, metaclass=_PersonalityMeta):
    """A gateway mode. The app calls `start()`, serves `handlers()`, then calls `stop()`."""

    mode_name = "custom"

    def __init__(self, context: GatewayContext, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.context = context

    @abstractmethod
    def handlers(self) -> list[Route]:
        """The mode's routes: (relative pattern, handler class, initialize kwargs)."""

    @abstractmethod
    async def start(self) -> None:
        """Prepare before the server listens (prespawn, seeding); raise StartupError to stop."""

    def summary(self, url: str) -> list[str]:
        """Lines the app logs once it listens at `url` (no trailing slash): what is served."""
        return []

    def missing(self) -> list[str]:
        """What the mode lacks to serve now, in short fixed words (readiness); empty when ready."""
        return []

    def pools(self) -> dict[str, KernelPool]:
        """The mode's kernel pools by app name (`/` for the root notebook), for metrics."""
        return {}

    def server_body_limit(self) -> int:
        """The largest request body the server reads, in bytes."""
        return 100 * 1024 * 1024

    @abstractmethod
    async def stop(self) -> None:
        """Release what `start` took; the app shuts the kernels down afterwards."""


def api_module(api: str) -> ModuleType:
    """The personality module that `api` names; StartupError for an unknown one."""
    module_name = API_MODULES.get(api, api)
    valid = ", ".join([*API_MODULES, *API_MODULES.values()])
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name and module_name != err.name and not module_name.startswith(err.name + "."):
            raise StartupError(f"Cannot import api module {module_name}: {err}") from err
        raise StartupError(f"Unknown api {api!r}; valid values: {valid}") from err
    except ImportError as err:
        raise StartupError(f"Cannot import api module {module_name}: {err}") from err
    except (ValueError, TypeError) as err:  # an empty or relative module name
        raise StartupError(f"Unknown api {api!r}; valid values: {valid}") from err
    if not hasattr(module, "create_personality"):
        raise StartupError(f"Module {module_name} does not define create_personality")
    return module
