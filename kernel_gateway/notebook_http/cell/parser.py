"""The default cell parser: `# GET /path` annotations on the first line of code cells.

An annotation is the first line of a code cell, leading whitespace ignored: the language's
comment prefix, at least one whitespace character, then words split on whitespace.

- `METHOD /path` (METHOD one of GET, POST, PUT, DELETE, PATCH) declares an endpoint.
- `ResponseInfo METHOD /path` declares code that runs after that endpoint to set its status
  and headers.
- `STREAM METHOD /path` declares an endpoint whose stdout is streamed as it comes (chunked);
  its ResponseInfo code then runs before it (both parsers: `STREAM operationId: id`).
- A known METHOD alone, or followed by one word not starting with '/', or by a path plus more
  words, is a malformed annotation; so is an all-uppercase ASCII word other than a method
  followed by a '/'-word (`FETCH /x`), and a ResponseInfo line of any other form.
- Anything else (`# this is GET data`, `#GET /x`, `# GET the data`) is a plain comment.

Cells sharing one method and path are joined in notebook order with "\\n"; every other
non-empty code cell is seed code. `collect_cells` is shared with the swagger parser, so both
return the same `ParsedNotebook`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ...errors import StartupError
from ...seed import Notebook
from ..endpoints import METHODS, Endpoint, normalize_path

COMMENT_PREFIXES: dict[str, str] = {
    "python": "#",
    "r": "#",
    "julia": "#",
    "bash": "#",
    "sh": "#",
    "ruby": "#",
    "perl": "#",
    "scala": "//",
    "java": "//",
    "javascript": "//",
    "typescript": "//",
    "go": "//",
    "c++": "//",
    "c": "//",
    "rust": "//",
    "kotlin": "//",
    "groovy": "//",
}
DEFAULT_PREFIX = "#"
STREAM = "STREAM"  # `# STREAM GET /path`: the endpoint's stdout is streamed
_METHOD_LIST = ", ".join(METHODS)
SWAGGER_HINT = (
    "'operationId:' annotations need "
    "--NotebookHTTPPersonality.cell_parser=kernel_gateway.notebook_http.swagger.parser"
)


@dataclass(frozen=True)
class Annotation:
    """What the first line of a code cell declares."""

    method: str
    path: str
    response_info: bool = False
    operation_id: str | None = None
    description: str = ""
    stream: bool = False


@dataclass(frozen=True)
class ParsedNotebook:
    """What a parser found in a notebook: endpoints in notebook order and seed code."""

    endpoints: tuple[Endpoint, ...]
    seed_cells: tuple[str, ...]
    language: str
    title: str = ""
    spec: dict[str, Any] | None = None


# Turns the text after the comment prefix into an Annotation, None for a plain comment;
# raises ValueError naming what is malformed.
Classifier = Callable[[str], "Annotation | None"]


def cell_source(cell: Mapping[str, Any]) -> str:
    """A cell's source as one string (nbformat allows a list of lines on disk)."""
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(source)


def first_line(source: str) -> str:
    """The first line of `source`, stripped."""
    return source.split("\n", 1)[0].strip()


def notebook_language(nb: Notebook) -> str:
    """The kernel language, lowercased: kernelspec.language, then language_info.name."""
    metadata = nb.get("metadata", {})
    language = metadata.get("kernelspec", {}).get("language") or metadata.get(
        "language_info", {}
    ).get("name")
    return str(language or "python").lower()


def prefix_for(language: str, overrides: Mapping[str | None, str] | None = None) -> str:
    """The line-comment prefix of `language`; `overrides` win over the built-in table.

    An override keyed None (as in jupyter-kernel-gateway's default) sets the prefix of
    languages found in neither.
    """
    table: dict[str | None, str] = {None: DEFAULT_PREFIX}
    table.update(COMMENT_PREFIXES)
    table.update({k.lower() if k else None: v for k, v in (overrides or {}).items()})
    return table.get(language.lower(), table[None])


def annotation_text(line: str, prefix: str) -> str | None:
    """The words after `prefix` and whitespace, or None when `line` cannot be an annotation."""
    if not line.startswith(prefix):
        return None
    rest = line[len(prefix) :]
    if not rest[:1].isspace():
        return None
    return rest.strip() or None


def cell_error(index: int, line: str, reason: str) -> StartupError:
    """A StartupError naming the cell by its 1-based index and first line."""
    return StartupError(f'cell {index} "{line}": {reason}')


def _method_path(words: list[str], strict: bool) -> Annotation | None:
    head = words[0] if words else ""
    path = words[1] if len(words) > 1 else ""
    if head not in METHODS:
        if head.isascii() and head.isalpha() and head.isupper() and path.startswith("/"):
            raise ValueError(f"unknown method {head}; use one of {_METHOD_LIST}")
        if strict:
            raise ValueError("ResponseInfo must be followed by a method and a path")
        return None
    if not path:
        raise ValueError(f"empty path after {head}")
    if len(words) > 2 and not path.startswith("/") and not strict:
        return None
    normalized = normalize_path(path)
    if len(words) > 2:
        raise ValueError(f"unexpected text after the path: {' '.join(words[2:])!r}")
    return Annotation(method=head, path=normalized)


def parse_annotation(text: str) -> Annotation | None:
    """The cell parser's classifier: `METHOD /path` or `ResponseInfo METHOD /path`."""
    words = text.split()
    if words and words[0] == "ResponseInfo":
        if len(words) > 1 and words[1].startswith("operationId:"):
            raise ValueError(
                f"ResponseInfo must be followed by a method and a path; {SWAGGER_HINT}"
            )
        found = _method_path(words[1:], strict=True)
        assert found is not None
        return Annotation(method=found.method, path=found.path, response_info=True)
    return _method_path(words, strict=False)


@dataclass
class _Draft:
    """An endpoint while its cells are being gathered."""

    first: Annotation
    cell_index: int
    sources: list[str] = field(default_factory=list)
    descriptions: list[str] = field(default_factory=list)


@dataclass
class _Collector:
    """Gathers endpoint, ResponseInfo and seed cells in notebook order."""

    drafts: dict[tuple[str, str], _Draft] = field(default_factory=dict)
    infos: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    info_cells: dict[tuple[str, str], str] = field(default_factory=dict)
    seeds: list[str] = field(default_factory=list)
    streams: set[tuple[str, str]] = field(default_factory=set)

    def add(self, index: int, source: str, found: Annotation, description: str) -> None:
        key = (found.method, found.path)
        if found.response_info:
            self.infos.setdefault(key, []).append(source)
            self.info_cells.setdefault(key, f'cell {index} "{first_line(source)}"')
            return
        if found.stream:
            self.streams.add(key)
        draft = self.drafts.setdefault(key, _Draft(first=found, cell_index=index))
        draft.sources.append(source)
        for text in (description, found.description):
            if text and text not in draft.descriptions:
                draft.descriptions.append(text)

    def endpoints(self, example: str) -> tuple[Endpoint, ...]:
        for key, where in self.info_cells.items():
            if key not in self.drafts:
                raise StartupError(f"{where}: ResponseInfo for {' '.join(key)} has no endpoint")
        if not self.drafts:
            raise StartupError(
                "the notebook declares no endpoint: annotate the first line of a code cell, "
                f"for example '{example}'"
            )
        return tuple(self._endpoint(key, draft) for key, draft in self.drafts.items())

    def _endpoint(self, key: tuple[str, str], draft: _Draft) -> Endpoint:
        infos = self.infos.get(key)
        return Endpoint(
            method=key[0],
            path=key[1],
            source="\n".join(draft.sources),
            response_info="\n".join(infos) if infos else None,
            description="\n\n".join(draft.descriptions),
            cell_index=draft.cell_index,
            operation_id=draft.first.operation_id,
            stream=key in self.streams,
        )


def classify_stream(text: str, classify: Classifier) -> Annotation | None:
    """`classify`, and a leading `STREAM` word that marks an endpoint as streamed.

    `STREAM` followed by what is no annotation is a plain comment, as before; followed by a
    ResponseInfo annotation it is malformed.
    """
    head, *rest = text.split(None, 1)
    if head != STREAM or not rest:
        return classify(text)
    found = classify(rest[0])
    if found is None:
        return None
    if found.response_info:
        raise ValueError("STREAM marks the endpoint's own cell, not its ResponseInfo cell")
    return replace(found, stream=True)


def collect_cells(
    cells: list[Notebook],
    classify: Classifier,
    prefix: str,
    start: int = 1,
    example: str = "GET /hello",
) -> tuple[tuple[Endpoint, ...], tuple[str, ...]]:
    """Endpoints and seed code of `cells`, numbered from `start`.

    `example` is the annotation (without prefix) suggested when no endpoint is found.

    Raises StartupError naming the cell for a malformed annotation, a ResponseInfo without
    an endpoint, or a notebook without any endpoint.
    """
    collector = _Collector()
    description = ""
    for index, cell in enumerate(cells, start):
        source = cell_source(cell)
        if cell.get("cell_type") == "markdown":
            description = source.strip()
            continue
        if cell.get("cell_type") == "code":
            line = first_line(source)
            text = annotation_text(line, prefix)
            try:
                found = classify_stream(text, classify) if text else None
            except ValueError as err:
                raise cell_error(index, line, str(err)) from err
            if found:
                collector.add(index, source, found, description)
            elif source.strip():
                collector.seeds.append(source)
        description = ""
    return collector.endpoints(f"{prefix} {example}"), tuple(collector.seeds)


def parse_notebook(
    nb: Notebook, comment_prefix: Mapping[str | None, str] | None = None
) -> ParsedNotebook:
    """Endpoints and seed code of a notebook annotated with `# METHOD /path` cells."""
    language = notebook_language(nb)
    prefix = prefix_for(language, comment_prefix)
    endpoints, seeds = collect_cells(list(nb.get("cells", [])), parse_annotation, prefix)
    title = str(nb.get("metadata", {}).get("title") or "")
    return ParsedNotebook(endpoints=endpoints, seed_cells=seeds, language=language, title=title)
