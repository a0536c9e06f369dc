"""How a failing cell is described to people: which cell, and which line of it.

IPython reports a syntax error as `invalid syntax (3949328.py, line 2)`, naming a temporary
file, and any other error with a traceback whose first `Cell In[n], line m` frame is the line
of the cell that ran. `describe_failure` turns either into `SyntaxError: invalid syntax (line 2
of the cell)`; `cell_label` names a cell by its 1-based position in the notebook and its first
line, as the notebook parsers' errors do.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ...errors import CellError

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
TEMPORARY_FILE = re.compile(r" \((?:[^()]*\.py|<[^<>]*>), line (\d+)\)$")
CELL_FRAME = re.compile(r"Cell In\[\d*\], line (\d+)")


def failing_line(evalue: str, traceback: Sequence[str]) -> tuple[str, int | None]:
    """`evalue` without IPython's temporary file name, and the line of the cell that failed
    (None when the report doesn't say)."""
    found = TEMPORARY_FILE.search(evalue)
    if found:
        return evalue[: found.start()], int(found.group(1))
    for entry in traceback:
        frame = CELL_FRAME.search(ANSI_ESCAPE.sub("", entry))
        if frame:
            return evalue, int(frame.group(1))
    return evalue, None


def describe_failure(ename: str, evalue: str, traceback: Sequence[str]) -> str:
    """`ename: evalue (line N of the cell)`, the line when the kernel's report gives it."""
    text, line = failing_line(evalue, traceback)
    return f"{ename}: {text}" + (f" (line {line} of the cell)" if line is not None else "")


def cell_label(position: int, source: str) -> str:
    """`cell 3 "first line"`: a notebook cell by its 1-based position and first line."""
    first = source.strip().splitlines()[0].strip() if source.strip() else ""
    return f'cell {position} "{first}"'


def cell_failure(error: tuple[str, str, Sequence[str]], position: int, source: str) -> CellError:
    """The CellError of a cell that raised, naming the cell and the line within it."""
    ename, evalue, traceback = error
    where = cell_label(position, source)
    return CellError(ename, evalue, list(traceback), f"{where}: {describe_failure(*error)}")
