"""The `# METHOD /path` cell parser, on notebooks built in memory and on the examples."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

from kernel_gateway.errors import StartupError
from kernel_gateway.notebook_http.cell.parser import ParsedNotebook, parse_notebook
from kernel_gateway.notebook_http.endpoints import Endpoint, group_routes

EXAMPLES = Path(__file__).resolve().parents[2] / "etc" / "api_examples"


def notebook(*cells: nbformat.NotebookNode, language: str = "python") -> nbformat.NotebookNode:
    kernelspec = {"name": language, "language": language, "display_name": language}
    return new_notebook(cells=list(cells), metadata={"kernelspec": kernelspec})


def code(*lines: str) -> nbformat.NotebookNode:
    return new_code_cell("\n".join(lines))


def startup_message(nb: nbformat.NotebookNode, **kwargs: object) -> str:
    with pytest.raises(StartupError) as info:
        parse_notebook(nb, **kwargs)  # type: ignore[arg-type]
    return str(info.value)


def test_parse_notebook_whole_value() -> None:
    nb = notebook(
        code("import json"),
        new_markdown_cell("# Greet\nSays hello."),
        code("# GET /hello", "print('hello')"),
        code("# ResponseInfo GET /hello", "print(json.dumps({'status': 201}))"),
        code("# this is GET data", "x = 1"),
        code("# GET /hello/", "print('world')"),
        code("   "),
        new_raw_cell("# GET /raw"),
        code("# ResponseInfo GET /hello", "print('{}')"),
        code("# POST /users/:id", "print(REQUEST)"),
    )
    assert parse_notebook(nb) == ParsedNotebook(
        endpoints=(
            Endpoint(
                method="GET",
                path="/hello",
                source="# GET /hello\nprint('hello')\n# GET /hello/\nprint('world')",
                response_info=(
                    "# ResponseInfo GET /hello\nprint(json.dumps({'status': 201}))\n"
                    "# ResponseInfo GET /hello\nprint('{}')"
                ),
                description="# Greet\nSays hello.",
                cell_index=3,
            ),
            Endpoint(
                method="POST",
                path="/users/:id",
                source="# POST /users/:id\nprint(REQUEST)",
                cell_index=10,
            ),
        ),
        seed_cells=("import json", "# this is GET data\nx = 1"),
        language="python",
    )


@pytest.mark.parametrize(
    "line",
    [
        "# this is GET data",
        "#GET /x",
        "# GET the data",
        "# get /x",
        "# GETS",
        "# Get /x",
        "// GET /x",
        "# TODO: fix /x",
        "#",
        "#!/usr/bin/env python",
    ],
)
def test_plain_comments_are_seed_code(line: str) -> None:
    nb = notebook(code(line, "x = 1"), code("# GET /x", "x"))
    assert parse_notebook(nb).seed_cells == (f"{line}\nx = 1",)


def test_annotation_may_be_indented_and_spaced() -> None:
    nb = notebook(code("  #   PATCH\t/x/ ", "x"))
    assert [(e.method, e.path) for e in parse_notebook(nb).endpoints] == [("PATCH", "/x")]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("# FETCH /x", "unknown method FETCH; use one of GET, POST, PUT, DELETE, PATCH"),
        ("# GET", "empty path after GET"),
        ("# GET hello", "path 'hello' must start with '/'"),
        ("# GET /a/:id/:id", "path parameter 'id' appears twice in '/a/:id/:id'"),
        ("# GET /a//b", "path '/a//b' has an empty segment"),
        ("# GET /x more words", "unexpected text after the path: 'more words'"),
        ("# ResponseInfo", "ResponseInfo must be followed by a method and a path"),
        ("# ResponseInfo /x", "ResponseInfo must be followed by a method and a path"),
        (
            "# ResponseInfo FETCH /x",
            "unknown method FETCH; use one of GET, POST, PUT, DELETE, PATCH",
        ),
        ("# ResponseInfo GET the data", "path 'the' must start with '/'"),
        (
            "# ResponseInfo operationId: getPet",
            "ResponseInfo must be followed by a method and a path; 'operationId:' annotations need "
            "--NotebookHTTPPersonality.cell_parser=kernel_gateway.notebook_http.swagger.parser",
        ),
    ],
)
def test_malformed_annotation_names_the_cell(line: str, reason: str) -> None:
    nb = notebook(new_markdown_cell("doc"), code("# GET /ok", "1"), code(line, "x = 1"))
    assert startup_message(nb) == f'cell 3 "{line}": {reason}'


def test_no_endpoint_is_an_error() -> None:
    nb = notebook(code("x = 1"), new_markdown_cell("# GET /x"))
    assert startup_message(nb) == (
        "the notebook declares no endpoint: annotate the first line of a code cell, "
        "for example '# GET /hello'"
    )


def test_response_info_without_endpoint_is_an_error() -> None:
    nb = notebook(code("# GET /a", "1"), code("# ResponseInfo POST /a/", "print('{}')"))
    assert startup_message(nb) == (
        'cell 2 "# ResponseInfo POST /a/": ResponseInfo for POST /a has no endpoint'
    )


def test_description_is_the_markdown_cell_right_above() -> None:
    nb = notebook(
        new_markdown_cell("not above an endpoint"),
        code("x = 1"),
        code("# GET /a", "1"),
        new_markdown_cell("  About b.  "),
        code("# GET /b", "2"),
        new_markdown_cell("More about b."),
        code("# GET /b", "3"),
    )
    assert [e.description for e in parse_notebook(nb).endpoints] == [
        "",
        "About b.\n\nMore about b.",
    ]


@pytest.mark.parametrize("language", ["scala", "java", "javascript", "go", "c++"])
def test_slash_languages(language: str) -> None:
    nb = notebook(code("// GET /x", "x"), code("# GET /y", "y"), language=language)
    parsed = parse_notebook(nb)
    assert (parsed.language, [e.path for e in parsed.endpoints]) == (language, ["/x"])
    assert parsed.seed_cells == ("# GET /y\ny",)


@pytest.mark.parametrize("language", ["R", "julia", "bash", "unknown-lang"])
def test_hash_languages(language: str) -> None:
    nb = notebook(code("# GET /x", "x"), language=language)
    assert parse_notebook(nb).language == language.lower()


def test_comment_prefix_overrides_builtin_table() -> None:
    nb = notebook(code("-- GET /x", "x"), code("# GET /y", "y"), language="python")
    parsed = parse_notebook(nb, comment_prefix={"Python": "--"})
    assert [e.path for e in parsed.endpoints] == ["/x"]


def test_comment_prefix_none_key_sets_the_fallback() -> None:
    nb = notebook(code("% GET /x", "x"), language="octave")
    assert parse_notebook(nb, comment_prefix={None: "%"}).endpoints[0].path == "/x"
    scala = notebook(code("// GET /x", "x"), language="scala")
    assert parse_notebook(scala, comment_prefix={None: "%"}).endpoints[0].path == "/x"


def test_language_from_language_info_then_python() -> None:
    nb = new_notebook(cells=[code("// GET /x", "x")], metadata={"language_info": {"name": "Scala"}})
    assert parse_notebook(nb).language == "scala"
    bare = new_notebook(cells=[code("# GET /x", "x")])
    assert parse_notebook(bare).language == "python"


def test_title_from_metadata() -> None:
    nb = notebook(code("# GET /x", "x"))
    nb.metadata["title"] = "My API"
    assert parse_notebook(nb).title == "My API"


def test_source_as_list_of_lines() -> None:
    nb = nbformat.from_dict(
        {
            "cells": [
                {"cell_type": "code", "source": ["# GET /x\n", "x"], "metadata": {}, "outputs": []}
            ],
            "metadata": {},
        }
    )
    assert parse_notebook(nb).endpoints[0].source == "# GET /x\nx"


EXPECTED_ROUTES = {
    "hello.ipynb": [("/hello/:name", ["GET"]), ("/hello", ["GET"])],
    "params.ipynb": [
        ("/add/:a/:b", ["GET"]),
        ("/greet/:lang/:name", ["GET"]),
        ("/search", ["GET"]),
    ],
    "crud.ipynb": [("/items/:id", ["GET", "PUT", "DELETE"]), ("/items", ["GET", "POST"])],
    "picture.ipynb": [("/picture", ["GET"])],
    "errors.ipynb": [
        ("/created", ["POST"]),
        ("/fail", ["GET"]),
        ("/maybe", ["GET"]),
        ("/teapot", ["GET"]),
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED_ROUTES))
def test_examples_parse(name: str) -> None:
    nb = nbformat.read(EXAMPLES / name, as_version=4)
    nbformat.validate(nb)
    routes = group_routes(parse_notebook(nb).endpoints)
    assert [(r.path, list(r.methods)) for r in routes] == EXPECTED_ROUTES[name]
    assert all(e.description for e in parse_notebook(nb).endpoints)


def test_stream_marks_the_endpoint_whatever_cell_says_it() -> None:
    nb = notebook(
        code("# STREAM GET /rows", "print(1)"),
        code("# GET /rows", "print(2)"),
        code("# ResponseInfo GET /rows", "print('{}')"),
        code("# GET /plain", "print(3)"),
        code("# STREAM of consciousness"),
    )
    parsed = parse_notebook(nb)
    assert [(e.method, e.path, e.stream) for e in parsed.endpoints] == [
        ("GET", "/rows", True),
        ("GET", "/plain", False),
    ]
    assert parsed.seed_cells == ("# STREAM of consciousness",)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("# STREAM ResponseInfo GET /x", "STREAM marks the endpoint's own cell"),
        ("# STREAM GET x", "path 'x' must start with '/'"),
        ("# STREAM FETCH /x", "unknown method FETCH"),
    ],
)
def test_malformed_stream_annotation_names_the_cell(line: str, reason: str) -> None:
    assert reason in startup_message(notebook(code("# GET /x"), code(line)))
