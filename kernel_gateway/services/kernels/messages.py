"""Kernel messages as the gateway handles them: decoded once, as far as routing needs.

A message arrives as raw JSON parts (header, parent header, metadata, content, buffers).
`KernelMessage` reads the two fields routing needs (msg_type, the parent's msg_id) without
decoding the rest; the header and content are decoded on first use. Also here: the
messages the gateway makes itself (headers, synthetic status) and the protocol's times.
"""

from __future__ import annotations

import codecs
import json
import re
import time
import uuid
from datetime import datetime, timezone
from typing import Any

PROTOCOL_VERSION = "5.3"


STRING_FIELDS = {
    key: re.compile(rb'"' + key.encode() + rb'"\s*:\s*"([^"\\]*)"')
    for key in ("msg_type", "msg_id", "session")
}


def top_level_string(raw: bytes, key: str) -> str:
    """A string field of a JSON header without decoding it all (the hot path's shortcut).

    Falls back to json for anything unusual: escapes in the value, nested objects.
    """
    if raw in (b"{}", b""):
        return ""
    match = STRING_FIELDS[key].search(raw)
    if match and raw.count(b"{") == 1:
        return match.group(1).decode()
    try:
        value = json.loads(raw)
    except ValueError:
        return ""
    field = value.get(key, "") if isinstance(value, dict) else ""
    return field if isinstance(field, str) else ""


class KernelMessage:
    """One message from (or made for) a kernel, decoded only as far as routing needs."""

    __slots__ = ("_content", "_header", "channel", "msg_type", "parent_msg_id", "parts")

    def __init__(self, channel: str, parts: list[bytes]) -> None:
        self.channel = channel
        self.parts = parts  # header, parent_header, metadata, content, *buffers (raw JSON)
        self.msg_type = top_level_string(parts[0], "msg_type")
        self.parent_msg_id = top_level_string(parts[1], "msg_id")
        self._header: dict[str, Any] | None = None
        self._content: dict[str, Any] | None = None

    @property
    def header(self) -> dict[str, Any]:
        """The decoded header, parsed on first use."""
        if self._header is None:
            self._header = json.loads(self.parts[0])
        return self._header

    @property
    def content(self) -> dict[str, Any]:
        """The decoded content, parsed on first use."""
        if self._content is None:
            self._content = json.loads(self.parts[3])
        return self._content

    @property
    def buffers(self) -> list[bytes]:
        return self.parts[4:]


STREAM_HEAD = re.compile(rb'\{\s*"name"\s*:\s*"(stdout|stderr)"\s*,\s*"text"\s*:\s*"')
STREAM_TAIL = re.compile(rb'"\s*\}\s*\Z')
ESCAPED_QUOTE = rb"\""
BACKSLASHES_QUOTE = rb'\\"'


def text_span(message: KernelMessage) -> tuple[str, int, int] | None:
    """The name of a stream message and where its text's JSON string literal lies in the raw
    content (quotes included), when the content has the shape the protocol gives it:
    `{"name", "text"}`, in that order. None for any other content (decode it as JSON)."""
    raw = message.parts[3]
    head = STREAM_HEAD.match(raw)
    tail = STREAM_TAIL.search(raw, len(raw) - 8) if head else None
    if head is None or tail is None:
        return None
    start, end = head.end(), tail.start()
    if not plainly_one_string(raw, start, end):
        return None
    return head.group(1).decode(), start - 1, end + 1


def plainly_one_string(raw: bytes, start: int, end: int) -> bool:
    """Whether raw[start:end] is surely the inside of one JSON string: every quote in it is
    escaped by a backslash that is not itself escaped. (Content such as `{"name", "text",
    "more": ...}` has unescaped quotes there.) Counted at C speed; a text with a backslash
    right before a quote is left to the JSON decoder."""
    quotes = raw.count(b'"', start, end)
    if quotes == 0:
        return True
    if raw.find(BACKSLASHES_QUOTE, start, end) >= 0:
        return False
    return quotes == raw.count(ESCAPED_QUOTE, start, end)


def stream_literal(message: KernelMessage) -> tuple[str, bytes | memoryview]:
    """The name (stdout or stderr) and the text of a stream message as a JSON string
    literal: a view of the raw content when it can be (no decoding, no copy)."""
    span = text_span(message)
    if span is not None:
        name, start, end = span
        return name, memoryview(message.parts[3])[start:end]
    content = message.content
    name = "stderr" if content.get("name") == "stderr" else "stdout"
    return name, json.dumps(str(content.get("text", "")), ensure_ascii=False).encode()


def stream_output(message: KernelMessage) -> tuple[str, bytes]:
    """The name (stdout or stderr) and the UTF-8 text of a stream message.

    A cell that prints a lot sends large stream messages. When the text's JSON literal holds
    only escapes that JSON and Python bytes literals share (no `\\u`, no `\\/`), it is
    unescaped straight into bytes: one copy of the text instead of three (decoded JSON,
    str, encoded str). Any other content is decoded as JSON.
    """
    span = text_span(message)
    raw = message.parts[3]
    if span is not None:
        name, start, end = span
        start, end = start + 1, end - 1
        if raw.find(b"\\u", start, end) < 0 and raw.find(b"\\/", start, end) < 0:
            return name, codecs.escape_decode(memoryview(raw)[start:end])[0]
    content = message.content
    name = "stderr" if content.get("name") == "stderr" else "stdout"
    return name, str(content.get("text", "")).encode("utf-8", "replace")


def iso_now() -> str:
    """The current UTC time as ISO 8601 with microseconds and a trailing Z."""
    return iso_time(time.time())


def iso_time(timestamp: float) -> str:
    """A POSIX timestamp as ISO 8601 UTC with microseconds and a trailing Z."""
    moment = datetime.fromtimestamp(timestamp, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_header(msg_type: str, session: str, username: str = "kernel_gateway") -> dict[str, Any]:
    """A fresh message header, as the messaging protocol defines it."""
    return {
        "msg_id": uuid.uuid4().hex,
        "msg_type": msg_type,
        "username": username,
        "session": session,
        "date": iso_now(),
        "version": PROTOCOL_VERSION,
    }


def dump(value: object) -> bytes:
    """Compact JSON bytes of one message part."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def status_message(execution_state: str, kernel_session: str) -> KernelMessage:
    """A synthetic iopub status message, for states the kernel can't announce itself."""
    header = new_header("status", kernel_session)
    content = {"execution_state": execution_state}
    return KernelMessage("iopub", [dump(header), b"{}", b"{}", dump(content)])
