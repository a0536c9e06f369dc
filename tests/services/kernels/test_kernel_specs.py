"""Which kernelspecs can be launched, and the start-up message when one can't."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import EXAMPLES, free_port, run_cli
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

from kernel_gateway.errors import StartupError
from kernel_gateway.services.kernels import specs as specs_module
from kernel_gateway.services.kernels.specs import check_kernel, install_hint, provisioner_of

IPYKERNEL_ARGV = ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"]


def write_spec(root: Path, name: str, provisioner: str | None) -> Path:
    """A kernelspec `name` under `root`/kernels, naming `provisioner` if given; returns root."""
    folder = root / "kernels" / name
    folder.mkdir(parents=True)
    metadata = {"kernel_provisioner": {"provisioner_name": provisioner}} if provisioner else {}
    spec = {"argv": IPYKERNEL_ARGV, "display_name": name, "language": "python"}
    (folder / "kernel.json").write_text(json.dumps({**spec, "metadata": metadata}))
    return root


def specs_with(root: Path) -> KernelSpecManager:
    specs = KernelSpecManager()
    specs.kernel_dirs = [*specs.kernel_dirs, str(root / "kernels")]
    return specs


def test_the_provisioner_a_spec_names_or_the_local_one() -> None:
    named = KernelSpec(metadata={"kernel_provisioner": {"provisioner_name": "yarn-provisioner"}})
    assert [provisioner_of(named), provisioner_of(KernelSpec())] == [
        "yarn-provisioner",
        "local-provisioner",
    ]


def test_install_hints_name_the_package_when_known() -> None:
    assert [install_hint("kubernetes-provisioner"), install_hint("my-provisioner")] == [
        "pip install 'gateway_provisioners[k8s]'",
        "install the package that provides it (an entry point in "
        "jupyter_client.kernel_provisioners)",
    ]


def test_a_missing_provisioner_is_named_with_its_package_and_the_known_kernels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test extra installs gateway_provisioners (the SSH tests use it): here it is absent."""
    installed = specs_module.installed_provisioners() - {"distributed-provisioner"}
    monkeypatch.setattr(specs_module, "installed_provisioners", lambda: installed)
    specs = specs_with(write_spec(tmp_path, "remote", "distributed-provisioner"))
    with pytest.raises(StartupError) as caught:
        check_kernel(specs, "remote")
    assert str(caught.value) == (
        "Kernel 'remote' needs the kernel provisioner 'distributed-provisioner', which is not "
        "installed: pip install 'gateway_provisioners'; known kernels: python3"
    )
    check_kernel(specs, "python3")  # raises nothing


def test_an_unknown_kernel_lists_the_known_ones(tmp_path: Path) -> None:
    specs = specs_with(write_spec(tmp_path, "other", None))
    with pytest.raises(StartupError) as caught:
        check_kernel(specs, "nosuch")
    assert (
        str(caught.value) == "No kernel named 'nosuch' is installed; known kernels: other, python3"
    )


def test_the_gateway_stops_with_one_critical_line(tmp_path: Path) -> None:
    write_spec(tmp_path, "remote", "ssh-provisioner")
    result = run_cli(
        f"--port={free_port()}",
        "--api=notebook-http",
        f"--seed_uri={EXAMPLES / 'hello.ipynb'}",
        "--force_kernel_name=remote",
        env={"JUPYTER_PATH": str(tmp_path)},
    )
    assert result.returncode == 1, result.stdout
    assert result.stdout.count("\n") == 1, result.stdout
    assert result.stdout.startswith("[C ")
    assert result.stdout.endswith(
        "] Kernel 'remote' needs the kernel provisioner 'ssh-provisioner', which is not "
        "installed: install the package that provides it (an entry point in "
        "jupyter_client.kernel_provisioners); known kernels: python3\n"
    )


def test_required_encryption_with_a_kernel_that_cannot_stops_the_gateway(tmp_path: Path) -> None:
    write_spec(tmp_path, "plain", None)  # declares no supported_encryption
    result = run_cli(
        f"--port={free_port()}",
        "--prespawn_count=1",
        "--default_kernel_name=plain",
        env={"JUPYTER_PATH": str(tmp_path), "KG_TRANSPORT_ENCRYPTION": "required"},
    )
    assert result.returncode == 1, result.stdout
    assert result.stdout.count("\n") == 1, result.stdout
    assert result.stdout.endswith(
        "] A kernel failed to start: Kernel 'plain' can't encrypt its connections (its "
        "kernelspec's metadata.supported_encryption does not list 'curve') and "
        "transport_encryption is 'required' (KG_TRANSPORT_ENCRYPTION): use a kernel that "
        "supports CurveZMQ, or set it to 'auto'\n"
    )
