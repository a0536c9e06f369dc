"""Loading the seed notebook named by `seed_uri`: a local path or an http(s) URL.

A notebook is kept as its JSON (a dict, every cell's `source` one string). Version 4 files
are read with the json module alone: importing nbformat pulls in jsonschema and its format
checkers, seconds of start-up on some installs. Older versions are converted by nbformat.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .errors import StartupError

FETCH_TIMEOUT = 30.0
Notebook = dict[str, Any]


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


def parse_notebook_json(text: str, uri: str) -> Notebook:
    """The notebook in `text` as nbformat 4 JSON; StartupError when it isn't a notebook."""
    try:
        notebook = json.loads(text)
    except ValueError as err:
        raise StartupError(f"Seed notebook {uri} is not JSON: {err}") from err
    if not isinstance(notebook, dict) or not isinstance(notebook.get("nbformat"), int):
        raise StartupError(f"Seed notebook {uri} is not a notebook: no nbformat version")
    if notebook["nbformat"] != 4:
        notebook = convert_to_v4(text, uri)
    cells = notebook.get("cells")
    if not isinstance(cells, list) or not all(
        isinstance(cell, dict) and isinstance(cell.get("cell_type"), str) for cell in cells
    ):
        raise StartupError(f"Seed notebook {uri} is not a notebook: malformed cells")
    for cell in cells:
        source = cell.get("source", "")
        cell["source"] = "".join(source) if isinstance(source, list) else str(source)
    notebook.setdefault("metadata", {})
    return notebook


def convert_to_v4(text: str, uri: str) -> Notebook:
    """An older notebook upgraded to version 4 by nbformat."""
    import nbformat

    try:
        return dict(nbformat.reads(text, as_version=4))
    except (ValueError, nbformat.reader.NotJSONError) as err:
        raise StartupError(f"Seed notebook {uri} is not a valid notebook: {err}") from err


def load_notebook(uri: str) -> Notebook:
    """Read the notebook at `uri`."""
    return parse_notebook_json(read_uri(uri), uri)


def code_cells(notebook: Notebook) -> tuple[str, ...]:
    """The source of every non-empty code cell, in order."""
    return tuple(
        cell["source"]
        for cell in notebook["cells"]
        if cell["cell_type"] == "code" and cell["source"].strip()
    )


def cell_positions(notebook: Notebook, sources: tuple[str, ...]) -> tuple[int, ...]:
    """The 1-based notebook positions of `sources`, code cells taken in notebook order."""
    positions = []
    cells = iter(enumerate(notebook["cells"], 1))
    for source in sources:
        for position, cell in cells:
            if cell["cell_type"] == "code" and cell["source"] == source:
                positions.append(position)
                break
    return tuple(positions)
