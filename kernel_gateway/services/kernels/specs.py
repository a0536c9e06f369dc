"""Whether a kernelspec can be launched, and if not, a message that says what to do.

jupyter_client answers `NoSuchKernel` alike for a name it doesn't know and for a spec whose
`kernel_provisioner` plug-in isn't installed (after a warning of its own). At start-up the
gateway checks the kernel it will launch first, and stops with one line naming the kernel,
the kernels that can be launched, and for a missing provisioner the package providing it.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager, NoSuchKernel

from ...errors import StartupError

PROVISIONER_GROUP = "jupyter_client.kernel_provisioners"
LOCAL_PROVISIONER = "local-provisioner"
# provisioner name -> the pip requirement that installs it
PROVISIONER_PACKAGES = {
    "yarn-provisioner": "gateway_provisioners[yarn]",
    "distributed-provisioner": "gateway_provisioners",
    "kubernetes-provisioner": "gateway_provisioners[k8s]",
    "docker-provisioner": "gateway_provisioners[docker]",
    "docker-swarm-provisioner": "gateway_provisioners[docker]",
}


def installed_provisioners() -> set[str]:
    """Names of the kernel provisioners installed (jupyter_client's entry points)."""
    return {entry.name for entry in entry_points(group=PROVISIONER_GROUP)}


def provisioner_of(spec: KernelSpec) -> str:
    """The provisioner a kernelspec names (jupyter_client's local one when it names none)."""
    stanza: Any = (spec.metadata or {}).get("kernel_provisioner") or {}
    name = stanza.get("provisioner_name") if isinstance(stanza, dict) else None
    return str(name or LOCAL_PROVISIONER)


def install_hint(provisioner: str) -> str:
    """What to install for a missing provisioner."""
    package = PROVISIONER_PACKAGES.get(provisioner)
    if package:
        return f"pip install '{package}'"
    return f"install the package that provides it (an entry point in {PROVISIONER_GROUP})"


def launchable_specs(specs: KernelSpecManager) -> dict[str, KernelSpec]:
    """The kernelspecs found, by name, with their provisioner installed or not."""
    found = {}
    for name, folder in sorted(specs.find_kernel_specs().items()):
        try:
            found[name] = KernelSpec.from_resource_dir(folder)
        except (OSError, ValueError):  # ipykernel's built-in spec has no kernel.json
            try:
                found[name] = specs.get_kernel_spec(name)
            except NoSuchKernel:
                continue
    return found


def check_kernel(specs: KernelSpecManager, name: str) -> None:
    """Raise StartupError when kernel `name` can't be launched: unknown, or its provisioner
    isn't installed. Kernels another spec manager finds by name alone pass."""
    found = launchable_specs(specs)
    installed = installed_provisioners() | {LOCAL_PROVISIONER}
    known = ", ".join(n for n, spec in found.items() if provisioner_of(spec) in installed)
    spec = found.get(name.lower())
    if spec is None:
        try:
            specs.get_kernel_spec(name)
            return
        except NoSuchKernel:
            raise StartupError(
                f"No kernel named {name!r} is installed; known kernels: {known or 'none'}"
            ) from None
    provisioner = provisioner_of(spec)
    if provisioner not in installed:
        raise StartupError(
            f"Kernel {name!r} needs the kernel provisioner {provisioner!r}, which is not "
            f"installed: {install_hint(provisioner)}; known kernels: {known or 'none'}"
        )
