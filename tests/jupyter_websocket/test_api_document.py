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
    assert "&id" not in as_yaml(document)  # shared parts are written out, not aliased


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
        ("GET", "/api/kernels/{kernel_id}/proxy/{port}/{path}"),
        ("GET", "/api/sessions"),
        ("POST", "/api/sessions"),
        ("GET", "/api/sessions/{session_id}"),
        ("PATCH", "/api/sessions/{session_id}"),
        ("DELETE", "/api/sessions/{session_id}"),
    }


def operations(document: dict) -> dict[str, dict]:
    return {op["operationId"]: op for item in document["paths"].values() for op in item.values()}


def test_every_operation_documents_400_and_its_path_parameters() -> None:
    for path, item in api_document()["paths"].items():
        for operation in item.values():
            assert operation["responses"]["400"]["schema"] == {"$ref": "#/definitions/Error"}
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert names == {part[1:-1] for part in path.split("/") if part.startswith("{")}


def test_the_token_is_documented_only_when_the_gateway_has_one() -> None:
    open_document = api_document(token_required=False)
    guarded = api_document(token_required=True)
    validate(guarded)

    assert "security" not in open_document
    assert "securityDefinitions" not in open_document
    assert not [op for op in operations(open_document).values() if "401" in op["responses"]]
    assert guarded["security"] == [{"tokenHeader": []}, {"tokenParam": []}]
    assert set(guarded["securityDefinitions"]) == {"tokenHeader", "tokenParam"}
    assert all("401" in op["responses"] for op in operations(guarded).values())


def test_bodies_and_their_required_fields() -> None:
    document = api_document()
    bodies = {
        op_id: [p for p in op.get("parameters", []) if p["in"] == "body"]
        for op_id, op in operations(document).items()
    }
    assert {op_id: (b[0]["required"], b[0]["schema"]) for op_id, b in bodies.items() if b} == {
        "startKernel": (False, {"$ref": "#/definitions/NewKernel"}),
        "createSession": (True, {"$ref": "#/definitions/NewSession"}),
        "updateSession": (True, {"$ref": "#/definitions/SessionChanges"}),
    }
    assert document["definitions"]["NewSession"]["required"] == ["path", "type"]


def test_kernel_starts_document_a_failed_launch() -> None:
    ops = operations(api_document())
    for op_id in ("startKernel", "restartKernel", "createSession", "updateSession"):
        assert "500" in ops[op_id]["responses"], op_id
