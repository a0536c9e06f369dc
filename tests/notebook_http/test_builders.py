"""Swagger 2.0 and OpenAPI 3.1 documents built from endpoints, validated."""

from __future__ import annotations

from dataclasses import replace
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
    EVENTS_DESCRIPTION,
    GATEWAY_ERRORS,
    STREAM_KEY,
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
EVENTS = {"text/event-stream": {"schema": {"type": "string"}}}
PRODUCES = ["text/plain", "text/event-stream", "application/json"]
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
            "/hello": {
                "get": {
                    "responses": {"200": {"description": "OK"}, **SWAGGER_ERRORS},
                    "produces": PRODUCES,
                }
            },
            "/users/{id}": {
                "put": {
                    "responses": {"201": {"description": "Created"}, **SWAGGER_ERRORS},
                    "parameters": ID_SWAGGER,
                    "produces": ["application/json", "text/event-stream"],
                    "summary": "Replace a user",
                    "description": "## Replace a user\nWith the body.",
                    "operationId": "putUser",
                },
                "delete": {
                    "responses": {"200": {"description": "OK"}, **SWAGGER_ERRORS},
                    "parameters": ID_SWAGGER,
                    "produces": PRODUCES,
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
            "/hello": {
                "get": {
                    "responses": {"200": {"description": "OK", "content": EVENTS}, **OPENAPI_ERRORS}
                }
            },
            "/users/{id}": {
                "put": {
                    "responses": {
                        "200": {"description": EVENTS_DESCRIPTION, "content": EVENTS},
                        "201": {"description": "Created", "content": {"application/json": {}}},
                        **OPENAPI_ERRORS,
                    },
                    "parameters": ID_OPENAPI,
                    "summary": "Replace a user",
                    "description": "## Replace a user\nWith the body.",
                    "operationId": "putUser",
                },
                "delete": {
                    "responses": {
                        "200": {"description": "OK", "content": EVENTS},
                        **OPENAPI_ERRORS,
                    },
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
            "/hello": {
                "get": {
                    "responses": {"200": {"description": "OK"}, **SWAGGER_ERRORS},
                    "produces": PRODUCES,
                }
            }
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
        "delete": sorted(["200", "204", "404", *gateway]),  # 200: its Server-Sent Events
    }
    json_content: dict[str, Any] = {"application/json": {}}
    assert paths["/items"]["post"]["responses"] == {
        "200": {"description": EVENTS_DESCRIPTION, "content": EVENTS},
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
            "200": {"description": EVENTS_DESCRIPTION, "content": EVENTS},
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


def test_a_stream_endpoint_produces_its_declared_type_and_no_events() -> None:
    info = "print(json.dumps({'status': 201, 'headers': {'Content-Type': 'application/x-ndjson'}}))"
    endpoints = [
        Endpoint(method="GET", path="/rows", source="# STREAM GET /rows", stream=True),
        Endpoint("POST", "/rows", "# STREAM POST /rows", response_info=info, stream=True),
    ]
    swagger = build_swagger(endpoints, "rows")["paths"]["/rows"]
    openapi = build_openapi(endpoints, "rows")["paths"]["/rows"]
    assert {m: (op["produces"], op[STREAM_KEY]) for m, op in swagger.items()} == {
        "get": (["text/plain", "application/json"], True),
        "post": (["application/x-ndjson", "application/json"], True),
    }
    assert {m: list(op["responses"]) for m, op in openapi.items()} == {
        "get": ["200", *GATEWAY_ERRORS],
        "post": ["201", *GATEWAY_ERRORS],
    }
    assert openapi["get"]["responses"]["200"]["content"] == {"text/plain": {}}
    assert openapi["post"]["responses"]["201"]["content"] == {"application/x-ndjson": {}}
    validate(build_swagger(endpoints, "rows"))
    validate(build_openapi(endpoints, "rows"))


def test_the_notebook_document_marks_its_stream_operations() -> None:
    nb = nbformat.read(EXAMPLES / "openapi.ipynb", as_version=4)
    parsed = swagger_parser.parse_notebook(nb)
    endpoints = [replace(e, stream=e.operation_id == "listPets") for e in parsed.endpoints]
    paths = build_swagger(endpoints, "openapi", parsed.spec)["paths"]
    marked = {op["operationId"]: op.get(STREAM_KEY, False) for op in paths["/pets"].values()}
    assert marked == {"listPets": True, "addPet": False}
    assert "text/event-stream" not in paths["/pets"]["get"].get("produces", [])
    assert "text/event-stream" in paths["/pets"]["post"]["produces"]
