"""The rules every kernel the gateway starts follows: names, limits, environment, seed code."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SECRET_VARIABLES = frozenset({"KG_AUTH_TOKEN"})


@dataclass(frozen=True)
class KernelPolicy:
    """The app's rules for every kernel it starts."""

    max_kernels: int | None = None
    default_kernel_name: str = ""
    force_kernel_name: str = ""
    env_process_whitelist: tuple[str, ...] = ()
    seed_cells: tuple[str, ...] = ()


def client_env(requested: Mapping[str, Any], whitelist: Sequence[str]) -> dict[str, str]:
    """The part of a client's requested env that may reach a kernel: KERNEL_* and whitelisted."""
    return {
        name: str(value)
        for name, value in requested.items()
        if (name.startswith("KERNEL_") or name in whitelist) and name not in SECRET_VARIABLES
    }


def kernel_env(policy: KernelPolicy, requested: Mapping[str, str]) -> dict[str, str]:
    """A kernel's whole environment: PATH, whitelisted process variables, the client's part."""
    inherited = ("PATH", *policy.env_process_whitelist)
    env = {name: os.environ[name] for name in inherited if name in os.environ}
    env = {name: value for name, value in env.items() if name not in SECRET_VARIABLES}
    env.update(requested)
    env["KERNEL_GATEWAY"] = "1"
    return env
