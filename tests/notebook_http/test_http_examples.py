"""Every notebook in etc/api_examples starts and answers the curl lines of docs/notebook-http.md.

The six gateways start at once and serve the whole module.
"""

from __future__ import annotations

import http.client
import json

import pytest
from conftest import EXAMPLES, Gateway, GatewayFactory, wait_until_serving
from openapi_spec_validator import OpenAPIV2SpecValidator, OpenAPIV31SpecValidator

SWAGGER_PARSER = "--NotebookHTTPPersonality.cell_parser=kernel_gateway.notebook_http.swagger.parser"
# notebook -> (extra arguments, a path answering once it serves)
NOTEBOOKS = {
    "hello": ((), "/hello"),
    "params": ((), "/add/1/1"),
    "crud": ((), "/items"),
    "picture": ((), "/picture"),
    "errors": ((), "/teapot"),
    "openapi": ((SWAGGER_PARSER,), "/pets"),
}
JSON_HEADERS = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def examples(module_gateway_factory: GatewayFactory) -> dict[str, Gateway]:
    gateways = {
        name: module_gateway_factory(
            "--api=notebook-http", f"--seed_uri={EXAMPLES / name}.ipynb", *extra, wait=False
        )
        for name, (extra, _) in NOTEBOOKS.items()
    }
    for name, gateway in gateways.items():
        wait_until_serving(gateway, NOTEBOOKS[name][1])
    return gateways


def test_hello(examples: dict[str, Gateway]) -> None:
    hello = examples["hello"]
    assert hello.request("GET", "/hello")[::2] == (200, b"hello world\n")
    assert hello.request("GET", "/hello/Ada")[::2] == (200, b"hello Ada\n")


def test_params(examples: dict[str, Gateway]) -> None:
    params = examples["params"]
    assert params.request("GET", "/add/2/40")[::2] == (200, b"42\n")
    assert params.request("GET", "/add/2/forty")[::2] == (
        400,
        b"a and b must be integers, like /add/2/40\n",
    )
    assert params.request("GET", "/greet/fr/Ada?punct=!")[::2] == (200, b"Bonjour, Ada!\n")
    status, headers, body = params.request("GET", "/search?q=kernels&tag=a&tag=b")
    assert (status, json.loads(body)) == (200, {"q": "kernels", "tags": ["a", "b"]})
    assert headers["Content-Type"] == "application/json"


BAD_BODY = {"reason": "Bad Request", "message": "the body must be a JSON object"}


def test_crud(examples: dict[str, Gateway]) -> None:
    crud = examples["crud"]
    assert crud.json("GET", "/items") == (200, [])
    assert crud.json("POST", "/items", ["not", "an", "object"]) == (400, BAD_BODY)
    assert crud.json("POST", "/items") == (400, BAD_BODY)
    assert crud.json("GET", "/items") == (200, [])
    status, headers, body = crud.request("POST", "/items", {"name": "pen"})
    assert (status, json.loads(body)) == (201, {"id": "1", "name": "pen"})
    assert headers["Location"] == "/items/1"
    assert crud.json("GET", "/items/1") == (200, {"id": "1", "name": "pen"})
    assert crud.json("PUT", "/items/1", '"pencil"', headers=JSON_HEADERS) == (400, BAD_BODY)
    assert crud.json("PUT", "/items/1", {"name": "pencil"}) == (200, {"id": "1", "name": "pencil"})
    assert crud.json("GET", "/items") == (200, [{"id": "1", "name": "pencil"}])
    status, headers, body = crud.request("DELETE", "/items/1")
    assert (status, body) == (204, b"")
    assert "Content-Type" not in headers
    assert crud.request("DELETE", "/items/1")[0] == 404
    assert crud.json("GET", "/items/1") == (404, {"message": "no item 1"})


def test_picture(examples: dict[str, Gateway]) -> None:
    status, headers, body = examples["picture"].request("GET", "/picture")
    assert status == 200
    assert headers["Content-Type"] == "image/png"
    assert headers["Cache-Control"] == "max-age=60"
    assert body.startswith(b"\x89PNG\r\n\x1a\n")
    assert body[16:24] == (32).to_bytes(4, "big") * 2  # IHDR width and height


def test_errors(examples: dict[str, Gateway]) -> None:
    errors = examples["errors"]
    assert errors.request("GET", "/teapot")[::2] == (418, b"I'm a teapot\n")
    status, body = errors.json("GET", "/fail")
    assert (status, body["message"]) == (
        500,
        'cell 7 "# GET /fail": ValueError: this endpoint always fails (line 2 of the cell)',
    )
    assert errors.request("GET", "/maybe?n=3")[::2] == (200, b"n squared is 9\n")
    assert errors.request("GET", "/maybe")[0] == 400
    connection = http.client.HTTPConnection("127.0.0.1", errors.port, timeout=30)
    try:
        connection.request("POST", "/created")
        response = connection.getresponse()
        assert (response.status, response.read()) == (201, b"created\n")
        assert response.headers.get_all("Location") == ["/created/1"]
        assert response.headers.get_all("X-Example") == ["a", "b"]
    finally:
        connection.close()


def test_openapi_with_the_swagger_parser(examples: dict[str, Gateway]) -> None:
    pets = examples["openapi"]
    assert pets.json("GET", "/pets") == (200, {"1": {"name": "Tom"}})
    assert pets.json("GET", "/pets/1") == (200, {"name": "Tom"})
    assert pets.json("GET", "/pets/9") == (404, {"message": "no pet 9"})
    not_a_pet = {
        "reason": "Bad Request",
        "message": "the body must be a pet: an object with a string name",
    }
    assert pets.json("POST", "/pets", {"name": 7}) == (400, not_a_pet)
    assert pets.json("POST", "/pets") == (400, not_a_pet)
    status, headers, body = pets.request("POST", "/pets", {"name": "Rex"})
    assert (status, json.loads(body)) == (201, {"id": "2", "name": "Rex"})
    assert headers["Content-Type"] == "application/json"
    status, swagger = pets.json("GET", "/_api/spec/swagger.json")
    assert status == 200
    OpenAPIV2SpecValidator(swagger).validate()
    assert swagger["info"]["title"] == "Pets"
    assert swagger["paths"]["/pets/{petId}"]["get"]["operationId"] == "getPet"
    status, openapi = pets.json("GET", "/_api/spec/openapi.json")
    assert status == 200
    OpenAPIV31SpecValidator(openapi).validate()
    assert set(openapi["paths"]) == {"/pets", "/pets/{petId}"}
    assert openapi["paths"]["/pets"]["post"]["requestBody"] == {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}},
        "required": True,
    }


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_example_documents_a_valid_api(examples: dict[str, Gateway], name: str) -> None:
    status, spec = examples[name].json("GET", "/_api/spec/swagger.json")
    assert status == 200
    OpenAPIV2SpecValidator(spec).validate()
    status, spec = examples[name].json("GET", "/_api/spec/openapi.json")
    assert status == 200
    OpenAPIV31SpecValidator(spec).validate()
