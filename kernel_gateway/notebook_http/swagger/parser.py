"""The swagger cell parser: an OpenAPI document in the first cell, `# operationId: x` cells.

The first cell (markdown, code or raw) holds a Swagger 2.0 or OpenAPI 3.x document as JSON
or YAML, bare or inside the first ``` fenced block. Each code cell whose first line is
`<prefix> operationId: <id>` is the code of that operation, which gets its method and path
from the document (`{name}` path parameters become `:name`); `<prefix> ResponseInfo
operationId: <id>` cells set its status and headers. The rest is assembled exactly as the
cell parser does, into the same `ParsedNotebook`, with the document kept as `spec`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import yaml

from ...errors import StartupError
from ...seed import Notebook
from ..cell.parser import (
    Annotation,
    Classifier,
    ParsedNotebook,
    cell_error,
    cell_source,
    collect_cells,
    first_line,
    notebook_language,
    parse_annotation,
    prefix_for,
)
from ..endpoints import METHODS, normalize_path

_FENCE = re.compile(r"```[^\n]*\n(.*?)```", re.DOTALL)
_TEMPLATE = re.compile(r"\{([^{}/]+)\}")
_KEYWORD = "operationId:"


def load_spec(source: str) -> dict[str, Any]:
    """The OpenAPI document in `source`: JSON or YAML, bare or in a ``` fence.

    Raises ValueError when there is none.
    """
    fenced = _FENCE.search(source)
    text = fenced.group(1) if fenced else source
    try:
        spec = json.loads(text)
    except ValueError:
        try:
            spec = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ValueError(f"not valid JSON or YAML ({err})") from err
    if not isinstance(spec, dict) or not ("swagger" in spec or "openapi" in spec):
        raise ValueError("no 'swagger' or 'openapi' document found")
    if not isinstance(spec.get("paths"), dict):
        raise ValueError("the document has no 'paths' object")
    return spec


def operations(spec: Mapping[str, Any]) -> dict[str, Annotation]:
    """Each operationId of `spec` with its uppercase method and `:name` path.

    Raises ValueError for a bad path or an operationId used twice.
    """
    table: dict[str, Annotation] = {}
    for raw_path, item in spec["paths"].items():
        if not isinstance(item, dict):
            continue
        path = normalize_path(_TEMPLATE.sub(r":\1", str(raw_path)))
        for method, op in item.items():
            if str(method).upper() not in METHODS or not isinstance(op, dict):
                continue
            op_id = op.get("operationId")
            if not op_id:
                continue
            if op_id in table:
                raise ValueError(f"operationId {op_id!r} is used twice")
            text = op.get("description") or op.get("summary") or ""
            table[str(op_id)] = Annotation(
                method=str(method).upper(), path=path, operation_id=str(op_id), description=text
            )
    return table


def _plain_annotation(text: str) -> bool:
    """Whether `text` is a `METHOD /path` annotation meant for the other parser."""
    try:
        return parse_annotation(text) is not None
    except ValueError:
        return False


def classifier(ops: Mapping[str, Annotation]) -> Classifier:
    """The swagger parser's classifier for the operations of one document."""

    def classify(text: str) -> Annotation | None:
        words = text.split()
        info = words[0] == "ResponseInfo"
        rest = " ".join(words[1:] if info else words)
        if not rest.startswith(_KEYWORD):
            if info or _plain_annotation(text):
                raise ValueError(f"with the swagger parser, annotate cells '{_KEYWORD} <id>'")
            return None
        op_id = rest[len(_KEYWORD) :].strip()
        if not op_id or " " in op_id:
            raise ValueError(f"expected one operationId after '{_KEYWORD}'")
        if op_id not in ops:
            known = ", ".join(sorted(ops)) or "none"
            raise ValueError(f"unknown operationId {op_id!r}; the document declares: {known}")
        return replace(ops[op_id], response_info=info)

    return classify


def _spec_and_operations(cell: Notebook) -> tuple[dict[str, Any], dict[str, Annotation]]:
    source = cell_source(cell)
    try:
        spec = load_spec(source)
        return spec, operations(spec)
    except ValueError as err:
        reason = f"the first cell must hold the OpenAPI document: {err}"
        raise cell_error(1, first_line(source), reason) from err


def parse_notebook(
    nb: Notebook, comment_prefix: Mapping[str | None, str] | None = None
) -> ParsedNotebook:
    """Endpoints and seed code of a notebook whose first cell is an OpenAPI document."""
    cells = list(nb.get("cells", []))
    if not cells:
        raise StartupError("the notebook is empty: its first cell must hold the OpenAPI document")
    spec, ops = _spec_and_operations(cells[0])
    language = notebook_language(nb)
    prefix = prefix_for(language, comment_prefix)
    example = f"{_KEYWORD} {next(iter(ops), '<id>')}"
    endpoints, seeds = collect_cells(cells[1:], classifier(ops), prefix, 2, example)
    info = spec.get("info")
    title = str(info.get("title") or "") if isinstance(info, dict) else ""
    return ParsedNotebook(
        endpoints=endpoints, seed_cells=seeds, language=language, title=title, spec=spec
    )
