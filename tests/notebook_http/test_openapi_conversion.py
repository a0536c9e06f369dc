"""Swagger 2.0 pieces as OpenAPI 3.1, and the responses the gateway adds to every document."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate

from kernel_gateway.notebook_http.swagger.conversion import (
    convert_definitions,
    convert_operation,
    convert_parameter,
    convert_response,
    convert_schema,
    find_operation,
    has_body,
    request_body,
)
from kernel_gateway.notebook_http.swagger.gateway_responses import (
    ERROR_SCHEMA,
    EVENTS_DESCRIPTION,
    complete_responses,
)

EVENTS = {"text/event-stream": {"schema": {"type": "string"}}}

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
ERROR_REF = {"$ref": "#/components/schemas/Error"}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("200", True),
        (201, True),
        ("default", True),
        ("2XX", True),
        ("404", True),
        ("101", False),
        ("204", False),
        (205, False),
        ("304", False),
    ],
)
def test_has_body(status: object, expected: bool) -> None:
    assert has_body(status) is expected


def test_convert_schema_whole_value() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "discriminator": "kind",
        "required": ["kind"],
        "properties": {
            "kind": {"type": "string", "enum": ["a"], "example": {"$ref": "#/definitions/Kept"}},
            "size": {"type": "integer", "maximum": 9, "exclusiveMaximum": True},
            "low": {"type": "number", "minimum": 0, "exclusiveMinimum": False},
            "tags": {"type": "array", "items": {"$ref": "#/definitions/Tag"}},
            "pair": {"type": "array", "items": [{"type": "string"}, {"$ref": "#/definitions/T"}]},
            "file": {"type": "file"},
        },
        "additionalProperties": {"$ref": "#/definitions/Extra"},
        "allOf": [{"$ref": "#/definitions/Base"}, {"$ref": "https://x.test/s.json"}],
        "x-nullable": True,
    }
    assert convert_schema(schema) == {
        "type": "object",
        "discriminator": {"propertyName": "kind"},
        "required": ["kind"],
        "properties": {
            "kind": {"type": "string", "enum": ["a"], "example": {"$ref": "#/definitions/Kept"}},
            "size": {"type": "integer", "exclusiveMaximum": 9},
            "low": {"type": "number", "minimum": 0},
            "tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}},
            "pair": {
                "type": "array",
                "prefixItems": [{"type": "string"}, {"$ref": "#/components/schemas/T"}],
            },
            "file": {"type": "string", "format": "binary"},
        },
        "additionalProperties": {"$ref": "#/components/schemas/Extra"},
        "allOf": [{"$ref": "#/components/schemas/Base"}, {"$ref": "https://x.test/s.json"}],
        "x-nullable": True,
    }
    assert schema["allOf"][0] == {"$ref": "#/definitions/Base"}  # the input is left alone


def test_convert_schema_keeps_non_schemas() -> None:
    assert (convert_schema(True), convert_schema({})) == (True, {})


@pytest.mark.parametrize(
    ("param", "expected"),
    [
        (
            {"name": "id", "in": "path", "required": True, "type": "integer", "format": "int64"},
            {
                "name": "id",
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "format": "int64"},
            },
        ),
        (
            {"name": "tag", "in": "query", "type": "array", "items": {"type": "string"}},
            {
                "name": "tag",
                "in": "query",
                "schema": {"type": "array", "items": {"type": "string"}},
                "style": "form",
                "explode": False,
            },
        ),
        (
            {
                "name": "tag",
                "in": "query",
                "type": "array",
                "items": {"type": "string"},
                "collectionFormat": "multi",
                "allowEmptyValue": True,
            },
            {
                "name": "tag",
                "in": "query",
                "allowEmptyValue": True,
                "schema": {"type": "array", "items": {"type": "string"}},
            },
        ),
        (
            {"name": "n", "in": "query", "type": "array", "collectionFormat": "pipes"},
            {
                "name": "n",
                "in": "query",
                "schema": {"type": "array"},
                "style": "pipeDelimited",
                "explode": False,
            },
        ),
        (
            {"name": "X-Rate", "in": "header", "description": "d", "type": "number", "x-a": 1},
            {
                "name": "X-Rate",
                "in": "header",
                "description": "d",
                "schema": {"type": "number"},
                "x-a": 1,
            },
        ),
    ],
)
def test_convert_parameter(param: dict[str, Any], expected: dict[str, Any]) -> None:
    assert convert_parameter(param) == expected


def test_body_parameter_becomes_a_request_body_per_consumed_type() -> None:
    body = {
        "name": "pet",
        "in": "body",
        "description": "The pet",
        "required": True,
        "schema": {"$ref": "#/definitions/Pet"},
    }
    pet = {"schema": {"$ref": "#/components/schemas/Pet"}}
    assert request_body([body], []) == {
        "description": "The pet",
        "content": {"application/json": pet},
        "required": True,
    }
    assert request_body([{"name": "b", "in": "body"}], ["text/plain", FORM, "application/xml"]) == {
        "content": {"text/plain": {"schema": {}}, "application/xml": {"schema": {}}},
        "required": False,
    }


def test_form_data_parameters_become_an_object_schema() -> None:
    name = {"name": "name", "in": "formData", "type": "string", "required": True}
    photo = {"name": "photo", "in": "formData", "type": "file"}
    name_schema = {"type": "string"}
    assert request_body([name, {"name": "q", "in": "query", "type": "string"}], []) == {
        "content": {
            FORM: {
                "schema": {
                    "type": "object",
                    "properties": {"name": name_schema},
                    "required": ["name"],
                }
            }
        },
        "required": True,
    }
    photo_schema = {"type": "string", "format": "binary"}
    object_schema = {"type": "object", "properties": {"name": name_schema, "photo": photo_schema}}
    assert request_body([{**name, "required": False}, photo], ["application/json"]) == {
        "content": {MULTIPART: {"schema": object_schema}},
        "required": False,
    }
    photo_only = {"schema": {"type": "object", "properties": {"photo": photo_schema}}}
    assert request_body([photo], [MULTIPART, FORM]) == {
        "content": {MULTIPART: photo_only, FORM: photo_only},
        "required": False,
    }
    assert request_body([{"name": "q", "in": "query", "type": "string"}], []) is None


def test_convert_response() -> None:
    response = {
        "description": "The pets",
        "schema": {"type": "array", "items": {"$ref": "#/definitions/Pet"}},
        "examples": {"application/json": [{"name": "Tom"}]},
        "headers": {
            "X-Total": {"type": "integer", "description": "Count"},
            "X-Tag": {"type": "string"},
        },
    }
    schema = {"type": "array", "items": {"$ref": "#/components/schemas/Pet"}}
    assert convert_response(response, "200", ["application/json", "text/csv"]) == {
        "description": "The pets",
        "headers": {
            "X-Total": {"description": "Count", "schema": {"type": "integer"}},
            "X-Tag": {"schema": {"type": "string"}},
        },
        "content": {
            "application/json": {"schema": schema, "example": [{"name": "Tom"}]},
            "text/csv": {"schema": schema},
        },
    }
    assert convert_response({"description": "x", "schema": {}}, 200, []) == {
        "description": "x",
        "content": {"application/json": {"schema": {}}},
    }
    assert convert_response({"description": "Gone", "schema": {}}, "204", []) == {
        "description": "Gone"
    }


SPEC: dict[str, Any] = {
    "swagger": "2.0",
    "info": {"title": "Pets", "version": "1"},
    "consumes": ["application/json"],
    "produces": ["application/json"],
    "parameters": {"limit": {"name": "limit", "in": "query", "type": "integer"}},
    "responses": {"Missing": {"description": "No such pet"}},
    "definitions": {
        "Pet": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "owner": {"$ref": "#/definitions/Owner"}},
        },
        "Owner": {"type": "object", "properties": {"age": {"type": "integer", "minimum": 0}}},
    },
    "paths": {
        "/pets/{petId}": {
            "parameters": [
                {"name": "petId", "in": "path", "required": True, "type": "string"},
                {"name": "verbose", "in": "query", "type": "boolean"},
            ],
            "put": {
                "operationId": "putPet",
                "summary": "Replace a pet",
                "tags": ["pets"],
                "produces": ["application/json", "application/xml"],
                "parameters": [
                    {"name": "verbose", "in": "query", "type": "string"},
                    {"$ref": "#/parameters/limit"},
                    {
                        "name": "pet",
                        "in": "body",
                        "required": True,
                        "schema": {"$ref": "#/definitions/Pet"},
                    },
                ],
                "responses": {
                    "200": {"description": "The pet", "schema": {"$ref": "#/definitions/Pet"}},
                    "404": {"$ref": "#/responses/Missing"},
                    "x-note": "kept out",
                },
                "x-owner": "team",
            },
        }
    },
}


def test_convert_operation_whole_value() -> None:
    item, operation = find_operation(SPEC, "putPet") or ({}, {})
    pet = {"schema": {"$ref": "#/components/schemas/Pet"}}
    assert convert_operation(SPEC, item, operation) == {
        "tags": ["pets"],
        "summary": "Replace a pet",
        "operationId": "putPet",
        "parameters": [
            {"name": "petId", "in": "path", "required": True, "schema": {"type": "string"}},
            {"name": "verbose", "in": "query", "schema": {"type": "string"}},
            {"name": "limit", "in": "query", "schema": {"type": "integer"}},
        ],
        "requestBody": {"content": {"application/json": pet}, "required": True},
        "responses": {
            "200": {
                "description": "The pet",
                "content": {"application/json": pet, "application/xml": pet},
            },
            "404": {"description": "No such pet"},
        },
        "x-owner": "team",
    }


def test_convert_definitions_and_find_operation() -> None:
    assert convert_definitions(SPEC) == {
        "Pet": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "owner": {"$ref": "#/components/schemas/Owner"},
            },
        },
        "Owner": {"type": "object", "properties": {"age": {"type": "integer", "minimum": 0}}},
    }
    assert convert_definitions({"swagger": "2.0", "paths": {}}) == {}
    assert find_operation(SPEC, "nope") is None
    assert find_operation({"paths": {"/a": {"get": {}}}}, None) is None


def gateway_errors(ref: dict[str, str], swagger: bool) -> dict[str, Any]:
    """The error responses complete_responses adds, with the schema `ref`."""
    texts = {
        "400": "Refused by the gateway: a query that holds NUL or is not UTF-8, or a body "
        "that is not valid JSON or not a valid form",
        "413": "The request body is larger than max_body_size",
        "500": "The endpoint's code raised, or its ResponseInfo printed an invalid answer",
        "503": "No kernel was free within max_queue_wait",
        "504": "The endpoint's code ran past request_timeout",
    }
    body = {"schema": ref} if swagger else {"content": {"application/json": {"schema": ref}}}
    return {status: {"description": text, **body} for status, text in texts.items()}


def test_complete_responses_openapi_whole_value() -> None:
    spec: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/a": {
                "parameters": [],
                "delete": {
                    "responses": {
                        "204": {"description": "Gone", "content": {"application/json": {}}},
                        "500": {"description": "Mine"},
                    }
                },
                "head": {"responses": {"200": {"description": "OK"}}},
            }
        },
    }
    errors = gateway_errors(ERROR_REF, swagger=False)
    del errors["500"]
    assert complete_responses(spec) == {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/a": {
                "parameters": [],
                "delete": {
                    "responses": {
                        "204": {"description": "Gone"},
                        "500": {"description": "Mine"},
                        "200": {"description": EVENTS_DESCRIPTION, "content": EVENTS},
                        **errors,
                    }
                },
                "head": {"responses": {"200": {"description": "OK"}}},
            }
        },
        "components": {"schemas": {"Error": ERROR_SCHEMA}},
    }
    gone = {"description": "Gone", "content": {"application/json": {}}}
    assert spec["paths"]["/a"]["delete"]["responses"]["204"] == gone  # the input is left alone
    validate(complete_responses(spec))


def test_complete_responses_swagger_whole_value() -> None:
    spec = {
        "swagger": "2.0",
        "info": {"title": "t", "version": "1"},
        "produces": ["image/png"],
        "definitions": {"Error": {"type": "string"}},
        "paths": {
            "/a": {
                "get": {
                    "responses": {"304": {"description": "Same", "schema": {}, "examples": {}}}
                },
                "put": {
                    "produces": ["application/json"],
                    "responses": {"200": {"description": "OK"}},
                },
            }
        },
    }
    errors = gateway_errors({"$ref": "#/definitions/Error2"}, swagger=True)
    assert complete_responses(spec) == {
        "swagger": "2.0",
        "info": {"title": "t", "version": "1"},
        "produces": ["image/png"],
        "definitions": {"Error": {"type": "string"}, "Error2": ERROR_SCHEMA},
        "paths": {
            "/a": {
                "get": {
                    "responses": {"304": {"description": "Same"}, **errors},
                    "produces": ["image/png", "text/event-stream", "application/json"],
                },
                "put": {
                    "produces": ["application/json", "text/event-stream"],
                    "responses": {"200": {"description": "OK"}, **errors},
                },
            }
        },
    }
    validate(complete_responses(spec))


def test_complete_responses_adds_no_schema_when_nothing_is_missing() -> None:
    responses: dict[str, Any] = {
        s: {"description": "mine"} for s in ("400", "413", "500", "503", "504")
    }
    responses["200"] = {"description": "mine", "content": EVENTS}
    spec = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/a": {"get": {"responses": responses}}},
    }
    assert complete_responses(spec) == spec
