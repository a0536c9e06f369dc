"""Server-Sent Events as the gateway sends a cell's outputs: pure formatting, no I/O.

Each event's data is one line of JSON (a JSON text never holds a raw CR or LF): `stdout`
and `stderr` carry the text as a JSON string (cut from the kernel's message as it is),
`display` and `result` the mime bundle, `error` `{"ename", "evalue"}`, `end` `{"status",
"headers"}` (what the buffered response would have been). A comment line (`: ping`) keeps an
idle stream open through proxies.
"""

from __future__ import annotations

import json
from typing import Any

from ...services.kernels.messages import KernelMessage, stream_literal

EVENT_STREAM = "text/event-stream"
PING = b": ping\n\n"
HEADERS = (
    ("Content-Type", f"{EVENT_STREAM}; charset=utf-8"),
    ("Cache-Control", "no-cache"),
    ("X-Accel-Buffering", "no"),  # nginx: pass each event on at once
)


def wants_events(accept: str | None) -> bool:
    """Whether an Accept header asks for text/event-stream (with a q above 0)."""
    for item in (accept or "").split(","):
        media, *params = (part.strip() for part in item.split(";"))
        if media.lower() != EVENT_STREAM:
            continue
        weights = [p.split("=", 1)[1] for p in params if p.lower().startswith("q=")]
        try:
            if not weights or float(weights[0]) > 0:
                return True
        except ValueError:
            return True
    return False


def event(name: str, data: Any) -> bytes:
    """One event: its name and its data as one line of JSON."""
    line = json.dumps(data, separators=(",", ":"))  # JSON has no raw line break in it
    return f"event: {name}\ndata: {line}\n\n".encode()


Piece = bytes | memoryview


def output_event(message: KernelMessage) -> tuple[Piece, ...]:
    """The event of one kernel output message, in pieces; () for other messages."""
    kind = message.msg_type
    if kind == "stream":  # the text's JSON literal as the kernel wrote it: no copy
        name, literal = stream_literal(message)
        return (f"event: {name}\ndata: ".encode(), literal, b"\n\n")
    found = other_event(message)
    return () if found is None else (found,)


def other_event(message: KernelMessage) -> bytes | None:
    """The event of a display, result or error message; None for other messages."""
    kind = message.msg_type
    if kind == "display_data":
        return event("display", message.content.get("data", {}))
    if kind == "execute_result":
        return event("result", message.content.get("data", {}))
    if kind == "error":
        content = message.content
        return error_event(str(content.get("ename", "")), str(content.get("evalue", "")))
    return None


def error_event(ename: str, evalue: str) -> bytes:
    """An `error` event: a cell's exception, or why the gateway ended the stream."""
    return event("error", {"ename": ename, "evalue": evalue})


def end_event(status: int, headers: tuple[tuple[str, str], ...] = ()) -> bytes:
    """The last event of a run that finished: the status (and headers) it answered with."""
    grouped: dict[str, Any] = {}
    for name, value in headers:
        previous = grouped.get(name)
        if previous is None:
            grouped[name] = value
        else:
            grouped[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
    return event("end", {"status": status, "headers": grouped})
