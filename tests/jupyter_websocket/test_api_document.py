"""The mode's API document: valid Swagger 2.0, the same in JSON and YAML."""

from __future__ import annotations

import json

import yaml
from openapi_spec_validator import validate

from kernel_gateway.jupyter_websocket.swagger import api_document, as_json, as_yaml


def test_document_is_valid_swagger_2() -> None:
    validate(api_document())


def test_json_and_yaml_render_the_same_document() -> None:
    document = api_document("/base/")
    assert json.loads(as_json(document)) == document
    assert yaml.safe_load(as_yaml(document)) == document


def test_base_path_follows_base_url() -> None:
    assert api_document()["basePath"] == "/"
    assert api_document("/a/b/")["basePath"] == "/a/b"


def test_documented_operations() -> None:
    operations = {
        (method.upper(), path) for path, item in api_document()["paths"].items() for method in item
    }
    assert operations == {
        ("GET", "/api"),
        ("GET", "/api/swagger.json"),
        ("GET", "/api/swagger.yaml"),
        ("GET", "/api/kernelspecs"),
        ("GET", "/api/kernelspecs/{kernel_name}"),
        ("GET", "/kernelspecs/{kernel_name}/{file}"),
        ("GET", "/api/kernels"),
        ("POST", "/api/kernels"),
        ("GET", "/api/kernels/{kernel_id}"),
        ("DELETE", "/api/kernels/{kernel_id}"),
        ("POST", "/api/kernels/{kernel_id}/interrupt"),
        ("POST", "/api/kernels/{kernel_id}/restart"),
        ("GET", "/api/kernels/{kernel_id}/channels"),
        ("GET", "/api/sessions"),
        ("POST", "/api/sessions"),
        ("GET", "/api/sessions/{session_id}"),
        ("PATCH", "/api/sessions/{session_id}"),
        ("DELETE", "/api/sessions/{session_id}"),
    }


def test_every_operation_documents_401_and_its_path_parameters() -> None:
    for path, item in api_document()["paths"].items():
        for operation in item.values():
            assert "401" in operation["responses"]
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert names == {part[1:-1] for part in path.split("/") if part.startswith("{")}
