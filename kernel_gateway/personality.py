"""The seam between the app and a mode ("personality"): handlers, start, stop.

The app builds the shared pieces (kernel manager, access policy, seed notebook) and hands them
to the personality named by `api`; the personality returns its route table and owns its mode's
lifecycle. Route patterns are relative: the app prefixes `base_url`.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from traitlets.config import LoggingConfigurable
from traitlets.traitlets import MetaHasTraits

from .base.handlers import AccessPolicy
from .seed import Notebook
from .services.kernels.manager import MappingKernelManager
from .services.kernels.pool import KernelPool
from .services.proxy import PortRanges

Route = tuple[str, type, dict[str, Any]]


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
