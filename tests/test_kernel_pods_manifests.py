"""etc/kubernetes/kernel-pods/ (kernels as pods) stays consistent with the gateway and
gateway_provisioners: every KG_* variable is one of our options, every GP_* variable one the
provisioners read, names and ports refer to what the manifests define, and the probes' paths
answer on a real gateway."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gateway_provisioners
import pytest
import yaml
from conftest import ROOT, Gateway, GatewayFactory

from kernel_gateway.gatewayapp import KernelGatewayApp

MANIFESTS = ROOT / "etc" / "kubernetes" / "kernel-pods"


def documents() -> list[dict[str, Any]]:
    return [
        doc
        for path in sorted(MANIFESTS.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in documents() if doc["kind"] == kind}


def containers() -> Iterator[dict[str, Any]]:
    for deployment in of_kind("Deployment").values():
        yield from deployment["spec"]["template"]["spec"]["containers"]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container["env"]}


def option_variables() -> set[str]:
    """Every KG_* variable an option of ours reads."""
    return {
        str(trait.metadata["env"])
        for cls in KernelGatewayApp().classes
        for trait in cls.class_traits(config=True).values()
        if trait.metadata.get("env")
    }


def provisioner_sources() -> str:
    package = Path(gateway_provisioners.__file__).parent
    return "".join(path.read_text() for path in package.rglob("*.py"))


def test_every_kg_variable_is_one_of_our_options() -> None:
    used = {name for c in containers() for name in env_of(c) if name.startswith("KG_")}
    assert used, "the manifests configure the gateway"
    assert used - option_variables() == set()


def test_every_gp_variable_is_read_by_gateway_provisioners() -> None:
    used = {name for c in containers() for name in env_of(c) if name.startswith("GP_")}
    sources = provisioner_sources()
    assert {name for name in used if f'"{name}"' not in sources} == set()


def test_ports_and_grace_period_agree() -> None:
    (container,) = containers()
    env = env_of(container)
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports["http"] == int(env["KG_PORT"])
    assert ports["kernel-response"] == int(env["GP_RESPONSE_PORT"])
    (deployment,) = of_kind("Deployment").values()
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > float(env["KG_SHUTDOWN_GRACE_PERIOD"])


def test_the_accounts_and_roles_named_are_defined_and_bound() -> None:
    (container,) = containers()
    env = env_of(container)
    (deployment,) = of_kind("Deployment").values()
    gateway_account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    assert {gateway_account, env["GP_DEFAULT_KERNEL_SERVICE_ACCOUNT_NAME"]} <= set(
        of_kind("ServiceAccount")
    )
    bound = {
        (subject["name"], binding["roleRef"]["name"])
        for binding in of_kind("RoleBinding").values()
        for subject in binding["subjects"]
    }
    (role,) = {name for account, name in bound if account == gateway_account}
    rules = of_kind("Role")[role]["rules"]
    pod_verbs = {verb for rule in rules if "pods" in rule["resources"] for verb in rule["verbs"]}
    assert {"create", "delete", "get", "list", "watch"} <= pod_verbs


def test_the_service_and_ingress_reach_the_gateways_port() -> None:
    (deployment,) = of_kind("Deployment").values()
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    (service,) = of_kind("Service").values()
    assert service["spec"]["selector"].items() <= labels.items()
    assert [port["targetPort"] for port in service["spec"]["ports"]] == ["http"]
    (ingress,) = of_kind("Ingress").values()
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": service["metadata"]["name"], "port": {"name": "http"}}


@pytest.fixture(scope="module")
def gateway(module_gateway_factory: GatewayFactory) -> Gateway:
    return module_gateway_factory()


@pytest.mark.parametrize("probe", ["readinessProbe", "livenessProbe"])
def test_the_probes_paths_answer_on_a_gateway(gateway: Gateway, probe: str) -> None:
    (container,) = containers()
    assert gateway.request("GET", container[probe]["httpGet"]["path"])[0] == 200
