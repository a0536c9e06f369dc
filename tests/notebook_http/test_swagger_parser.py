"""The swagger cell parser: an OpenAPI document first, `# operationId: x` annotations."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

from kernel_gateway.errors import StartupError
from kernel_gateway.notebook_http.cell.parser import ParsedNotebook
from kernel_gateway.notebook_http.endpoints import Endpoint, group_routes
from kernel_gateway.notebook_http.swagger.parser import load_spec, parse_notebook

EXAMPLES = Path(__file__).resolve().parents[2] / "etc" / "api_examples"
SPEC = {
    "swagger": "2.0",
    "info": {"title": "Pets", "version": "1.0"},
    "paths": {
        "/pets": {
            "get": {"operationId": "listPets", "responses": {}},
            "post": {"operationId": "addPet", "summary": "Add one", "responses": {}},
        },
        "/pets/{petId}/": {
            "parameters": [],
            "get": {"operationId": "getPet", "description": "One pet", "responses": {}},
            "head": {"operationId": "headPet", "responses": {}},
        },
    },
}
YAML_SPEC = """\
openapi: 3.1.0
info: {title: Mini, version: "1"}
paths:
  /x:
    get: {operationId: getX}
"""


def notebook(*cells: nbformat.NotebookNode, language: str = "python") -> nbformat.NotebookNode:
    kernelspec = {"name": language, "language": language, "display_name": language}
    return new_notebook(cells=list(cells), metadata={"kernelspec": kernelspec})


def spec_cell(spec: object = SPEC) -> nbformat.NotebookNode:
    return new_markdown_cell(f"The API:\n\n```json\n{json.dumps(spec, indent=2)}\n```\n")


def code(*lines: str) -> nbformat.NotebookNode:
    return new_code_cell("\n".join(lines))


def startup_message(nb: nbformat.NotebookNode) -> str:
    with pytest.raises(StartupError) as info:
        parse_notebook(nb)
    return str(info.value)


def test_parse_notebook_whole_value() -> None:
    nb = notebook(
        spec_cell(),
        code("import json"),
        code("# operationId: getPet", "print(REQUEST)"),
        new_markdown_cell("Adds a pet."),
        code("# operationId:addPet", "print('added')"),
        code("# ResponseInfo operationId: addPet", "print(json.dumps({'status': 201}))"),
        code("# operationId: getPet", "print('again')"),
    )
    assert parse_notebook(nb) == ParsedNotebook(
        endpoints=(
            Endpoint(
                method="GET",
                path="/pets/:petId",
                source=(
                    "# operationId: getPet\nprint(REQUEST)\n# operationId: getPet\nprint('again')"
                ),
                description="One pet",
                cell_index=3,
                operation_id="getPet",
            ),
            Endpoint(
                method="POST",
                path="/pets",
                source="# operationId:addPet\nprint('added')",
                response_info=(
                    "# ResponseInfo operationId: addPet\nprint(json.dumps({'status': 201}))"
                ),
                description="Adds a pet.\n\nAdd one",
                cell_index=5,
                operation_id="addPet",
            ),
        ),
        seed_cells=("import json",),
        language="python",
        title="Pets",
        spec=SPEC,
    )


def test_yaml_spec_in_a_raw_cell_and_slash_prefix() -> None:
    nb = notebook(new_raw_cell(YAML_SPEC), code("// operationId: getX", "x"), language="scala")
    parsed = parse_notebook(nb)
    assert parsed.endpoints == (
        Endpoint(
            method="GET",
            path="/x",
            source="// operationId: getX\nx",
            cell_index=2,
            operation_id="getX",
        ),
    )
    assert (parsed.title, parsed.spec) == ("Mini", load_spec(YAML_SPEC))


def test_json_spec_in_a_code_cell_is_not_seed_code() -> None:
    nb = notebook(new_code_cell(json.dumps(SPEC)), code("# operationId: listPets", "1"))
    parsed = parse_notebook(nb)
    assert (parsed.seed_cells, parsed.spec) == ((), SPEC)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (
            "# operationId: nope",
            "unknown operationId 'nope'; the document declares: addPet, getPet, listPets",
        ),
        (
            "# operationId: headPet",
            "unknown operationId 'headPet'; the document declares: addPet, getPet, listPets",
        ),
        ("# operationId:", "expected one operationId after 'operationId:'"),
        ("# operationId: a b", "expected one operationId after 'operationId:'"),
        ("# ResponseInfo GET /pets", "with the swagger parser, annotate cells 'operationId: <id>'"),
        ("# GET /pets", "with the swagger parser, annotate cells 'operationId: <id>'"),
        (
            "# ResponseInfo operationId: nope",
            "unknown operationId 'nope'; the document declares: addPet, getPet, listPets",
        ),
    ],
)
def test_malformed_annotation_names_the_cell(line: str, reason: str) -> None:
    nb = notebook(spec_cell(), code("# operationId: listPets", "1"), code(line, "x"))
    assert startup_message(nb) == f'cell 3 "{line}": {reason}'


def test_plain_comments_stay_seed_code() -> None:
    nb = notebook(spec_cell(), code("# GET the pets", "1"), code("# operationId: listPets", "2"))
    assert parse_notebook(nb).seed_cells == ("# GET the pets\n1",)


@pytest.mark.parametrize(
    ("first", "reason"),
    [
        (new_markdown_cell("# My API"), "no 'swagger' or 'openapi' document found"),
        (new_code_cell("{not: [json"), "not valid JSON or YAML"),
        (new_raw_cell('{"swagger": "2.0"}'), "the document has no 'paths' object"),
        (
            new_raw_cell('{"swagger": "2.0", "paths": {"/a/{x}/{x}": {}}}'),
            "path parameter 'x' appears twice in '/a/:x/:x'",
        ),
    ],
)
def test_first_cell_without_a_document(first: nbformat.NotebookNode, reason: str) -> None:
    nb = notebook(first, code("# operationId: listPets", "1"))
    message = startup_message(nb)
    line = first.source.split("\n")[0]
    assert message.startswith(
        f'cell 1 "{line}": the first cell must hold the OpenAPI document: {reason}'
    )


def test_duplicate_operation_id() -> None:
    spec = {
        "swagger": "2.0",
        "paths": {"/a": {"get": {"operationId": "x"}}, "/b": {"put": {"operationId": "x"}}},
    }
    nb = notebook(new_raw_cell(json.dumps(spec)), code("# operationId: x", "1"))
    assert startup_message(nb).endswith("operationId 'x' is used twice")


def test_empty_notebook_and_no_endpoint() -> None:
    assert startup_message(notebook()) == (
        "the notebook is empty: its first cell must hold the OpenAPI document"
    )
    assert startup_message(notebook(spec_cell(), code("x = 1"))) == (
        "the notebook declares no endpoint: annotate the first line of a code cell, "
        "for example '# operationId: listPets'"
    )


def test_response_info_without_endpoint() -> None:
    nb = notebook(
        spec_cell(),
        code("# operationId: listPets", "1"),
        code("# ResponseInfo operationId: addPet"),
    )
    assert startup_message(nb) == (
        'cell 3 "# ResponseInfo operationId: addPet": ResponseInfo for POST /pets has no endpoint'
    )


def test_openapi_example() -> None:
    nb = nbformat.read(EXAMPLES / "openapi.ipynb", as_version=4)
    nbformat.validate(nb)
    parsed = parse_notebook(nb)
    routes = group_routes(parsed.endpoints)
    assert [(r.path, list(r.methods)) for r in routes] == [
        ("/pets/:petId", ["GET"]),
        ("/pets", ["GET", "POST"]),
    ]
    assert [e.operation_id for e in parsed.endpoints] == ["listPets", "getPet", "addPet"]
    assert parsed.title == "Pets"
    assert all(e.response_info for e in parsed.endpoints)


def test_stream_operation_id_marks_the_endpoint() -> None:
    nb = notebook(
        spec_cell(), code("# STREAM operationId: listPets"), code("# operationId: addPet")
    )
    parsed = parse_notebook(nb)
    assert [(e.operation_id, e.stream) for e in parsed.endpoints] == [
        ("listPets", True),
        ("addPet", False),
    ]
