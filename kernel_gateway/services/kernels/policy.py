"""The rules every kernel the gateway starts follows: names, limits, environment, seed code."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...errors import BadRequest

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
    """The part of a client's requested env that may reach a kernel: KERNEL_* and whitelisted.

    Values are strings (numbers are taken as their text). Raises BadRequest for any other
    value, or for a variable no process environment can hold (see `check_env`).
    """
    env: dict[str, str] = {}
    for name, value in requested.items():
        if not (name.startswith("KERNEL_") or name in whitelist) or name in SECRET_VARIABLES:
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise BadRequest(f"env value of {name} must be a string, not {json.dumps(value)}")
        env[name] = str(value)
    check_env(env)
    return env


def check_env(env: Mapping[str, str]) -> None:
    """Raise BadRequest for a variable that can't go into a process environment."""
    for name, value in env.items():
        if not name or "=" in name or "\0" in name or "\0" in value:
            raise BadRequest(f"env variable {name!r} has an empty name, '=' or a NUL character")
        try:
            os.fsencode(name)
            os.fsencode(value)
        except UnicodeError as err:
            raise BadRequest(f"env variable {name!r} is not encodable: {err}") from err


def kernel_env(policy: KernelPolicy, requested: Mapping[str, str]) -> dict[str, str]:
    """A kernel's whole environment: PATH, whitelisted process variables, the client's part."""
    inherited = ("PATH", *policy.env_process_whitelist)
    env = {name: os.environ[name] for name in inherited if name in os.environ}
    env = {name: value for name, value in env.items() if name not in SECRET_VARIABLES}
    env.update(requested)
    env["KERNEL_GATEWAY"] = "1"
    return env
