"""Loading the seed notebook named by `seed_uri`: a local path or an http(s) URL."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from .errors import StartupError

FETCH_TIMEOUT = 30.0


def read_uri(uri: str) -> str:
    """The text at `uri`; StartupError when it can't be read."""
    try:
        if uri.startswith(("http://", "https://")):
            with urllib.request.urlopen(uri, timeout=FETCH_TIMEOUT) as response:
                return str(response.read().decode("utf-8"))
        path = Path(uri.removeprefix("file://")).expanduser()
        return path.read_text(encoding="utf-8")
    except (OSError, urllib.error.URLError, UnicodeDecodeError) as err:
        raise StartupError(f"Cannot read seed notebook {uri}: {err}") from err


def load_notebook(uri: str) -> NotebookNode:
    """Read and validate the notebook at `uri` (nbformat 4)."""
    try:
        notebook = nbformat.reads(read_uri(uri), as_version=4)
    except (ValueError, nbformat.reader.NotJSONError) as err:
        raise StartupError(f"Seed notebook {uri} is not a valid notebook: {err}") from err
    return notebook


def code_cells(notebook: NotebookNode) -> tuple[str, ...]:
    """The source of every non-empty code cell, in order."""
    return tuple(
        cell.source for cell in notebook.cells if cell.cell_type == "code" and cell.source.strip()
    )
