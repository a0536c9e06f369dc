"""Swagger 2.0 and OpenAPI 3.1 documents built from endpoints, validated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from openapi_spec_validator import validate

from kernel_gateway.notebook_http.cell.parser import parse_notebook
from kernel_gateway.notebook_http.endpoints import Endpoint
from kernel_gateway.notebook_http.swagger import parser as swagger_parser
from kernel_gateway.notebook_http.swagger.builders import (
    build_openapi,
    build_swagger,
    documented_content_type,
    documented_statuses,
    template_path,
)
from kernel_gateway.notebook_http.swagger.gateway_responses import (
    ERROR_SCHEMA,
    GATEWAY_ERRORS,
    complete_responses,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "etc" / "api_examples"
ENDPOINTS = (
    Endpoint(method="GET", path="/hello", source="# GET /hello", cell_index=2),
    Endpoint(
        method="PUT",
        path="/users/:id",
        source="# PUT /users/:id",
        response_info='print({"status": 201, "headers": {"Content-Type": "application/json"}})',
        description="## Replace a user\nWith the body.",
        cell_index=4,
        operation_id="putUser",
    ),
    Endpoint(method="DELETE", path="/users/:id", source="# DELETE /users/:id", cell_index=5),
)
ID_SWAGGER = [{"name": "id", "in": "path", "required": True, "type": "string"}]
ID_OPENAPI = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
SWAGGER_ERRORS = {
    s: {"description": text, "schema": {"$ref": "#/definitions/Error"}}
    for s, text in GATEWAY_ERRORS.items()
}
OPENAPI_ERRORS = {
    s: {
        "description": text,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    for s, text in GATEWAY_ERRORS.items()
}


def test_build_swagger_whole_value() -> None:
    spec = build_swagger(ENDPOINTS, "users")
    assert spec == {
        "swagger": "2.0",
        "info": {"title": "users", "version": "0.0.0"},
        "paths": {
            "/hello": {"get": {"responses": {"200": {"description": "OK"}, **SWAGGER_ERRORS}}},
            "/users/{id}": {
                "put": {
                    "responses": {"201": {"description": "Created"}, **SWAGGER_ERRORS},
                    "parameters": ID_SWAGGER,
                    "produces": ["application/json"],
                    "summary": "Replace a user",
                    "description": "## Replace a user\nWith the body.",
                    "operationId": "putUser",
                },
                "delete": {
                    "responses": {"200": {"description": "OK"}, **SWAGGER_ERRORS},
                    "parameters": ID_SWAGGER,
                },
            },
        },
        "definitions": {"Error": ERROR_SCHEMA},
    }
    validate(spec)


def test_build_openapi_whole_value() -> None:
    spec = build_openapi(ENDPOINTS, "users")
    assert spec == {
        "openapi": "3.1.0",
        "info": {"title": "users", "version": "0.0.0"},
        "paths": {
            "/hello": {"get": {"responses": {"200": {"description": "OK"}, **OPENAPI_ERRORS}}},
            "/users/{id}": {
                "put": {
                    "responses": {
                        "201": {"description": "Created", "content": {"application/json": {}}},
                        **OPENAPI_ERRORS,
                    },
                    "parameters": ID_OPENAPI,
                    "summary": "Replace a user",
                    "description": "## Replace a user\nWith the body.",
                    "operationId": "putUser",
                },
                "delete": {
                    "responses": {"200": {"description": "OK"}, **OPENAPI_ERRORS},
                    "parameters": ID_OPENAPI,
                },
            },
        },
        "components": {"schemas": {"Error": ERROR_SCHEMA}},
    }
    validate(spec)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (None, ()),
        ("print(json.dumps({'headers': {}}))", ()),
        ('print(json.dumps({"status": 201}))', (201,)),
        ("status = 200\nif not FOUND:\n    status = 404\n", (200, 404)),
        ("cat(toJSON(list(status=418)))", (418,)),
        ('println(JSON.json(Dict("status" => 202)))', (202,)),
        ('{"status": 99, "status": 1000, "xstatus": 300}', ()),
        ("status = code", ()),
    ],
)
def test_documented_statuses(code: str | None, expected: tuple[int, ...]) -> None:
    assert documented_statuses(code) == expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (None, None),
        ('{"headers": {"Content-Type": "Image/PNG"}}', "image/png"),
        ("{'content-type': 'application/json; charset=utf-8'}", "application/json"),
        ('list(`Content-Type` = "text/csv")', "text/csv"),
        ('{"Content-Type": kind}', None),
    ],
)
def test_documented_content_type(code: str | None, expected: str | None) -> None:
    assert documented_content_type(code) == expected


def test_template_path() -> None:
    assert template_path("/a/:x/b/:y_2") == "/a/{x}/b/{y_2}"


def test_base_spec_of_the_requested_version_is_returned_completed() -> None:
    base = {"swagger": "2.0", "info": {"title": "Mine", "version": "2"}, "paths": {}}
    built = build_swagger(ENDPOINTS, "ignored", base)
    assert built == base
    assert built is not base
    with_operation = {
        **base,
        "paths": {"/a": {"get": {"responses": {"200": {"description": "A"}}}}},
    }
    assert build_swagger(ENDPOINTS, "ignored", with_operation) == complete_responses(with_operation)


def test_other_version_is_built_keeping_the_base_info() -> None:
    base = {"openapi": "3.0.3", "info": {"title": "Mine", "version": "2"}, "paths": {}}
    assert build_openapi(ENDPOINTS, "ignored", base) == base
    swagger = build_swagger(ENDPOINTS[:1], "ignored", base)
    assert swagger == {
        "swagger": "2.0",
        "info": {"title": "Mine", "version": "2"},
        "paths": {
            "/hello": {"get": {"responses": {"200": {"description": "OK"}, **SWAGGER_ERRORS}}}
        },
        "definitions": {"Error": ERROR_SCHEMA},
    }


@pytest.mark.parametrize(
    "name", ["hello.ipynb", "params.ipynb", "crud.ipynb", "picture.ipynb", "errors.ipynb"]
)
def test_examples_build_valid_documents(name: str) -> None:
    nb = nbformat.read(EXAMPLES / name, as_version=4)
    endpoints = parse_notebook(nb).endpoints
    validate(build_swagger(endpoints, Path(name).stem))
    validate(build_openapi(endpoints, Path(name).stem))


def test_crud_example_documents_its_statuses() -> None:
    nb = nbformat.read(EXAMPLES / "crud.ipynb", as_version=4)
    paths = build_openapi(parse_notebook(nb).endpoints, "crud")["paths"]
    gateway = sorted(GATEWAY_ERRORS)
    assert {m: sorted(op["responses"]) for m, op in paths["/items/{id}"].items()} == {
        "get": sorted(["200", "404", *gateway]),
        "put": sorted(["200", "404", *gateway]),
        "delete": sorted(["204", "404", *gateway]),
    }
    json_content: dict[str, Any] = {"application/json": {}}
    assert paths["/items"]["post"]["responses"] == {
        "201": {"description": "Created", "content": json_content},
        "400": {"description": "Bad Request", "content": json_content},
        **{s: r for s, r in OPENAPI_ERRORS.items() if s != "400"},
    }
    assert paths["/items/{id}"]["delete"]["responses"]["204"] == {"description": "No Content"}


def test_swagger_base_operations_are_converted_to_openapi() -> None:
    nb = nbformat.read(EXAMPLES / "openapi.ipynb", as_version=4)
    parsed = swagger_parser.parse_notebook(nb)
    swagger = build_swagger(parsed.endpoints, "openapi", parsed.spec)
    assert swagger == complete_responses(parsed.spec or {})
    validate(swagger)
    openapi = build_openapi(parsed.endpoints, "openapi", parsed.spec)
    validate(openapi)
    assert sorted(openapi["paths"]) == ["/pets", "/pets/{petId}"]
    pet = {"schema": {"$ref": "#/components/schemas/Pet"}}
    new_pet = {
        "allOf": [
            {"$ref": "#/components/schemas/Pet"},
            {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
        ]
    }
    error = {"schema": {"$ref": "#/components/schemas/Error"}}
    assert openapi["paths"]["/pets"]["post"] == {
        "summary": "Add a pet from a JSON body",
        "description": (
            "Add a pet; 400, with nothing stored, when the body is not an object with a string "
            '`name`:\n`curl -X POST -H "Content-Type: application/json" -d \'{"name": "Rex"}\' '
            "http://127.0.0.1:8888/pets`\n\nAdd a pet from a JSON body"
        ),
        "operationId": "addPet",
        "requestBody": {"content": {"application/json": pet}, "required": True},
        "responses": {
            "201": {
                "description": "The new pet, with its id",
                "content": {"application/json": {"schema": new_pet}},
            },
            "400": {
                "description": "The body is not a pet, or not JSON",
                "content": {"application/json": error},
            },
            **{s: r for s, r in OPENAPI_ERRORS.items() if s != "400"},
        },
    }
    assert openapi["components"] == {
        "schemas": {
            "Pet": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string"}},
            },
            "Error": ERROR_SCHEMA,
        }
    }
