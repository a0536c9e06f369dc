"""Write the notebooks the benchmark serves (run once; the .ipynb files are committed)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

NOTEBOOK_DIR = Path(__file__).resolve().parent / "notebooks"
HTTP_NOTEBOOK = NOTEBOOK_DIR / "http_api.ipynb"

#: The /hello cell's code; the http floor executes exactly this on a bare kernel.
HELLO_CODE = 'print("hello world")'
HELLO_BODY = "hello world\n"

#: The compute endpoint: a path parameter parsed from REQUEST, a loop, a print.
FIB_PATH = "/fib/300"
FIB_BODY = "222232244629420445529739893461909967206666939096499764990979600\n"
FIB_CELL = (
    "# GET /fib/:n\n"
    'n = int(json.loads(REQUEST)["path"]["n"])  # noqa: F821\n'
    "a, b = 0, 1\n"
    "for _ in range(n):\n"
    "    a, b = b, a + b\n"
    "print(a)"
)

_RESPONSE_INFO = json.dumps({"headers": {"Content-Type": "application/json"}, "status": 200})

HTTP_CELLS = [
    "import json",
    f"# GET /hello\n{HELLO_CODE}",
    '# POST /echo\nprint(json.dumps(json.loads(REQUEST)["body"]))  # noqa: F821',
    f"# ResponseInfo POST /echo\nprint(json.dumps({_RESPONSE_INFO}))",
    "# GET /request\nprint(REQUEST)  # noqa: F821",
    FIB_CELL,
]


def build_http_notebook() -> nbformat.NotebookNode:
    """Return the notebook-http benchmark notebook with a python3 kernelspec."""
    cells = [new_code_cell(source, id=f"cell-{index}") for index, source in enumerate(HTTP_CELLS)]
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    return notebook


def write_notebooks() -> list[Path]:
    """Write every benchmark notebook and return their paths."""
    NOTEBOOK_DIR.mkdir(parents=True, exist_ok=True)
    nbformat.write(build_http_notebook(), HTTP_NOTEBOOK)
    return [HTTP_NOTEBOOK]


if __name__ == "__main__":
    for path in write_notebooks():
        print(path)
