"""etc/kubernetes agrees with the gateway: env names, port, probe paths, grace period; and a
gateway started with the Deployment's own environment answers the probes it names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, Gateway, GatewayFactory

from kernel_gateway.config import class_options
from kernel_gateway.gatewayapp import KernelGatewayApp

MANIFESTS = ROOT / "etc" / "kubernetes"


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    """Each manifest by kind."""
    docs = [yaml.safe_load(path.read_text()) for path in sorted(MANIFESTS.glob("*.yaml"))]
    return {doc["kind"]: doc for doc in docs}


def pod(documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return documents["Deployment"]["spec"]["template"]["spec"]


def container(documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (gateway,) = pod(documents)["containers"]
    return gateway


def env(documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        item["name"]: item.get("value", item.get("valueFrom"))
        for item in container(documents)["env"]
    }


def gateway_variables() -> set[str]:
    """Every KG_* variable an option of the gateway reads."""
    return {
        trait.metadata["env"]
        for cls in KernelGatewayApp().classes
        for trait in class_options(cls).values()
        if "env" in trait.metadata
    }


def test_every_variable_is_one_the_gateway_reads(documents: dict[str, dict[str, Any]]) -> None:
    assert sorted(set(env(documents)) - gateway_variables()) == []


def test_port_probes_and_scrape_agree(documents: dict[str, dict[str, Any]]) -> None:
    gateway = container(documents)
    (port,) = gateway["ports"]
    template = documents["Deployment"]["spec"]["template"]
    service = documents["Service"]
    probes = {
        kind: (gateway[kind]["httpGet"]["path"], gateway[kind]["httpGet"]["port"])
        for kind in ("readinessProbe", "livenessProbe")
    }

    assert int(env(documents)["KG_PORT"]) == port["containerPort"] == 8888
    assert probes == {"readinessProbe": ("/readyz", "http"), "livenessProbe": ("/healthz", "http")}
    assert service["spec"]["ports"][0]["targetPort"] == port["name"]
    assert service["spec"]["selector"] == documents["Deployment"]["spec"]["selector"]["matchLabels"]
    assert template["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(port["containerPort"]),
        "prometheus.io/path": "/metrics",
    }
    assert documents["ServiceMonitor"]["spec"]["endpoints"][0]["port"] == port["name"]


def test_the_kubelet_waits_longer_than_the_drain(documents: dict[str, dict[str, Any]]) -> None:
    pause = int(container(documents)["lifecycle"]["preStop"]["exec"]["command"][1])
    grace = float(env(documents)["KG_SHUTDOWN_GRACE_PERIOD"])

    assert pod(documents)["terminationGracePeriodSeconds"] >= pause + grace + 10


def test_the_secret_and_notebook_are_the_ones_referenced(
    documents: dict[str, dict[str, Any]],
) -> None:
    token = env(documents)["KG_AUTH_TOKEN"]["secretKeyRef"]
    (volume,) = pod(documents)["volumes"]
    (mount,) = container(documents)["volumeMounts"]
    seed = Path(env(documents)["KG_SEED_URI"])

    assert token["name"] == documents["Secret"]["metadata"]["name"]
    assert token["key"] in documents["Secret"]["stringData"]
    assert volume["configMap"]["name"] == documents["ConfigMap"]["metadata"]["name"]
    assert (mount["name"], mount["mountPath"]) == (volume["name"], str(seed.parent))
    assert seed.name in documents["ConfigMap"]["data"]


def test_a_gateway_run_as_the_deployment_says_answers_its_probes(
    documents: dict[str, dict[str, Any]], gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    notebook = tmp_path / "api.ipynb"
    notebook.write_text(documents["ConfigMap"]["data"]["api.ipynb"])
    token = documents["Secret"]["stringData"]["token"]
    variables = {name: value for name, value in env(documents).items() if isinstance(value, str)}
    variables |= {"KG_SEED_URI": str(notebook), "KG_AUTH_TOKEN": token, "KG_IP": "127.0.0.1"}
    gateway = container(documents)
    gw = gateway_factory(env=variables, ready_path=gateway["readinessProbe"]["httpGet"]["path"])
    anonymous = Gateway(gw.process, gw.port, gw.log_path)  # as the kubelet and Prometheus call

    answers = [
        anonymous.request("GET", gateway[kind]["httpGet"]["path"])[0]
        for kind in ("readinessProbe", "livenessProbe")
    ]
    scraped = anonymous.request("GET", "/metrics")[0]
    gw.token = token
    hello = gw.request("GET", "/hello/k8s")

    assert answers == [200, 200]
    assert scraped == 200
    assert (hello[0], hello[2]) == (200, b"hello k8s\n")
