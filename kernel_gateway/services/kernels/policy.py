"""The rules every kernel the gateway starts follows: names, limits, environment, seed code."""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

from ...errors import BadRequest, UnknownKernelSpec

SECRET_VARIABLES = frozenset({"KG_AUTH_TOKEN", "KG_DEPLOY_KEY"})
MAX_VARIABLE_BYTES = 128 * 1024  # NAME=value and its NUL: the kernel's MAX_ARG_STRLEN
MAX_ENV_BYTES = 1024 * 1024
LAUNCH_TIMEOUT = "KERNEL_LAUNCH_TIMEOUT"  # what jupyter_server's gateway client sends
KERNEL_NAME = re.compile(r"[a-z0-9._-]+", re.IGNORECASE)  # what jupyter_client allows


@dataclass(frozen=True)
class KernelPolicy:
    """The app's rules for every kernel it starts."""

    max_kernels: int | None = None
    default_kernel_name: str = ""
    force_kernel_name: str = ""
    env_process_whitelist: tuple[str, ...] = ()
    seed_cells: tuple[str, ...] = ()
    seed_positions: tuple[int, ...] = ()  # of the seed cells in their notebook (LaunchSpec)


def chosen_kernel_name(policy: KernelPolicy, requested: str | None, fallback: str) -> str:
    """The kernel name to start: forced, requested, the policy's default, else `fallback`."""
    return policy.force_kernel_name or requested or policy.default_kernel_name or fallback


def existing_kernel_name(spec_manager: KernelSpecManager, name: str) -> str:
    """`name` if a kernel spec has it; UnknownKernelSpec otherwise."""
    if not KERNEL_NAME.fullmatch(name):  # no spec has it: don't look it up (or log it)
        raise UnknownKernelSpec(name)
    try:
        spec_manager.get_kernel_spec(name)
    except NoSuchKernel as err:
        raise UnknownKernelSpec(name) from err
    return name


def client_env(requested: Mapping[str, Any], whitelist: Sequence[str]) -> dict[str, str]:
    """The part of a client's requested env that may reach a kernel: KERNEL_* and whitelisted.

    Raises BadRequest for a value that is not a string (in any variable, passed on or not:
    the env is a map of strings), or for a variable no process environment can hold (see
    `check_env`).
    """
    for name, value in requested.items():
        if not isinstance(value, str):
            raise BadRequest(
                f"env value of {shown_name(name)} must be a string, not {json.dumps(value)[:80]}"
            )
    env = {
        name: value
        for name, value in requested.items()
        if (name.startswith("KERNEL_") or name in whitelist) and name not in SECRET_VARIABLES
    }
    check_env(env)
    return env


def shown_name(name: str) -> str:
    """A variable's name as error messages quote it (cut after 80 characters)."""
    return repr(name) if len(name) <= 80 else repr(name[:80]) + "..."


def check_env(env: Mapping[str, str]) -> None:
    """Raise BadRequest for a variable that can't go into a process environment, or for
    variables too long for one (Linux takes at most 128 KiB per NAME=value string)."""
    total = 0
    for name, value in env.items():
        shown = shown_name(name)
        if not name or "=" in name or "\0" in name or "\0" in value:
            raise BadRequest(f"env variable {shown} has an empty name, '=' or a NUL character")
        try:
            size = len(os.fsencode(name)) + len(os.fsencode(value)) + 2
        except UnicodeError as err:
            raise BadRequest(f"env variable {shown} is not encodable: {err}") from err
        if size > MAX_VARIABLE_BYTES:
            raise BadRequest(f"env variable {shown} is {size} bytes; at most {MAX_VARIABLE_BYTES}")
        total += size
    if total > MAX_ENV_BYTES:
        raise BadRequest(f"The env is {total} bytes; at most {MAX_ENV_BYTES}")
    launch_timeout(env)


def launch_timeout(env: Mapping[str, str]) -> float | None:
    """The seconds a kernel's launch may take, as its env asks (KERNEL_LAUNCH_TIMEOUT), or None.

    Raises BadRequest for a value that is not a positive number.
    """
    raw = env.get(LAUNCH_TIMEOUT, "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise BadRequest(f"{LAUNCH_TIMEOUT} must be a positive number of seconds, not {raw[:40]!r}")
    return seconds


def kernel_env(policy: KernelPolicy, requested: Mapping[str, str]) -> dict[str, str]:
    """A kernel's whole environment: PATH, whitelisted process variables, the client's part."""
    inherited = ("PATH", *policy.env_process_whitelist)
    env = {name: os.environ[name] for name in inherited if name in os.environ}
    env = {name: value for name, value in env.items() if name not in SECRET_VARIABLES}
    env.update(requested)
    env["KERNEL_GATEWAY"] = "1"
    return env
