"""How failing cells are described: the cell by position and first line, the line within it;
from IPython's reports, and from a real gateway at start-up and at request time."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import GatewayFactory, free_port, run_cli, write_notebook

from kernel_gateway.seed import cell_positions
from kernel_gateway.services.kernels.failures import cell_failure, cell_label, describe_failure

LOG_PREFIX = re.compile(r"^\[([DIWEC]) [-\d]+ [:.\d]+ KernelGatewayApp\] ")
KERNEL_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
SYNTAX_TRACE = ["  \x1b[36mCell\x1b[39m \x1b[32mIn[1]\x1b[39m\x1b[32m, line 2\x1b[39m\n    y = (\n"]
RUNTIME_TRACE = [
    "\x1b[31m-----\x1b[39m",
    "\x1b[31mZeroDivisionError\x1b[39m    Traceback (most recent call last)",
    "\x1b[36mCell\x1b[39m \x1b[32mIn[4]\x1b[39m\x1b[32m, line 3\x1b[39m\n----> 3 f()\n",
    "\x1b[36mCell\x1b[39m\x1b[36m \x1b[39m\x1b[32mIn[2]\x1b[39m\x1b[32m, line 2\x1b[39m, in f()\n",
    "\x1b[31mZeroDivisionError\x1b[39m: division by zero",
]


def test_the_line_comes_from_the_syntax_error_or_the_first_cell_frame() -> None:
    assert [
        describe_failure("SyntaxError", "incomplete input (34936886.py, line 2)", SYNTAX_TRACE),
        describe_failure("ZeroDivisionError", "division by zero", RUNTIME_TRACE),
        describe_failure("RuntimeError", "from another kernel", ["no frames here"]),
    ] == [
        "SyntaxError: incomplete input (line 2 of the cell)",
        "ZeroDivisionError: division by zero (line 3 of the cell)",
        "RuntimeError: from another kernel",
    ]


def test_a_cell_is_named_by_position_and_first_line() -> None:
    assert [cell_label(3, "\n  x = 1  \ny = ("), cell_label(1, "")] == [
        'cell 3 "x = 1"',
        'cell 1 ""',
    ]
    failure = cell_failure(("NameError", "name 'y' is not defined", ()), 2, "import json\ny")
    assert (failure.message, failure.ename, failure.evalue) == (
        "cell 2 \"import json\": NameError: name 'y' is not defined",
        "NameError",
        "name 'y' is not defined",
    )


def test_seed_positions_count_every_cell_of_the_notebook() -> None:
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": "x = 1"},
            {"cell_type": "code", "source": "x = 1"},
            {"cell_type": "code", "source": "# GET /x\nprint(x)"},
            {"cell_type": "code", "source": "x = 1"},
        ]
    }
    assert cell_positions(notebook, ("x = 1", "x = 1")) == (2, 4)


def test_a_failing_seed_cell_is_named_before_any_shutdown_line(tmp_path: Path) -> None:
    notebook = write_notebook(
        tmp_path / "seed.ipynb", "import json", "# GET /x\nprint(1)", "x = 1\ny = ("
    )
    result = run_cli(f"--port={free_port()}", "--api=notebook-http", f"--seed_uri={notebook}")
    assert result.returncode == 1, result.stdout
    lines = [
        re.sub(KERNEL_ID, "ID", LOG_PREFIX.sub(r"[\1] ", line))
        for line in result.stdout.splitlines()
        if LOG_PREFIX.match(line)
    ]
    cause = 'cell 3 "x = 1": SyntaxError: incomplete input (line 2 of the cell)'
    assert lines == [
        f"[E] Kernel python3 ID: a seed cell failed: {cause}",
        "[I] Kernel shutdown: ID",
        f"[C] A seed cell failed: {cause}",
    ]
    assert "Traceback" not in result.stdout


def test_request_time_errors_give_the_line_of_the_users_cell(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    notebook = write_notebook(
        tmp_path / "api.ipynb",
        "# GET /syntax\nprint('x' +)",
        "# GET /name\nx = 1\nprint(undefined)",
        "# GET /ok\nprint('fine')",
    )
    gateway = gateway_factory("--api=notebook-http", f"--seed_uri={notebook}", ready_path="/ok")
    answers = [gateway.json("GET", path) for path in ("/syntax", "/name")]
    assert answers == [
        (
            500,
            {
                "reason": "Internal Server Error",
                "message": 'cell 1 "# GET /syntax": SyntaxError: invalid syntax (line 2 of the '
                "cell)",
            },
        ),
        (
            500,
            {
                "reason": "Internal Server Error",
                "message": "cell 2 \"# GET /name\": NameError: name 'undefined' is not defined "
                "(line 3 of the cell)",
            },
        ),
    ]
    assert gateway.request("GET", "/ok")[:1] == (200,)
