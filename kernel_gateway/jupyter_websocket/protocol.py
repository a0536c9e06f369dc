"""Pure wire formats between a websocket client and kernel messages.

Kernel-side a message is `parts = [header, parent_header, metadata, content, *buffers]`, the
first four raw JSON bytes as they arrive from ZeroMQ after the signature. Two websocket forms:

- legacy (no subprotocol): a text frame holding one JSON object with the message's dicts plus
  `channel`; when there are buffers, a binary frame instead: big-endian uint32 count `n`,
  `n` uint32 offsets (from the frame start), then the JSON (without `buffers`) and the buffers.
- `v1.kernel.websocket.jupyter.org`: little-endian uint64 count `n`, `n` uint64 offsets, then the
  channel name and the parts; offset `i` starts item `i`, the last offset is the frame's end.

Outgoing frames splice the kernel's JSON bytes without decoding them; incoming frames are
validated strictly and raise `ProtocolError` on anything malformed. A header missing `version`,
`date`, `session` or `username` gets them filled in (ipykernel drops such a message unanswered).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from ..services.kernels.messages import PROTOCOL_VERSION, iso_now

V1_SUBPROTOCOL = "v1.kernel.websocket.jupyter.org"
CLIENT_CHANNELS = frozenset({"shell", "control", "stdin"})
_U32 = struct.Struct(">I")
_U64 = struct.Struct("<Q")
_EMPTY_OBJECT = b"{}"
MAX_ERROR_LENGTH = 200  # characters of an error message, which may quote the client's input


class ProtocolError(ValueError):
    """A websocket frame that is not a well-formed kernel message.

    The message is cut to MAX_ERROR_LENGTH characters: it is logged and sent back as a close
    reason, and must not carry a client's megabytes along.
    """

    def __init__(self, message: str) -> None:
        if len(message) > MAX_ERROR_LENGTH:
            message = message[:MAX_ERROR_LENGTH] + "..."
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class ClientMessage:
    """A message a client sent, ready for the kernel: `parts` as in the module docstring."""

    channel: str
    parts: list[bytes]
    msg_id: str
    msg_type: str


# ---------------------------------------------------------------- outgoing (kernel -> client)


def to_json_frame(
    channel: str,
    parts: Sequence[bytes],
    *,
    msg_id: str | None = None,
    msg_type: str | None = None,
) -> str | bytes:
    """Return the legacy frame for a kernel message: text JSON, or binary when it has buffers.

    `msg_id` and `msg_type` (copied to the top level, as jupyter_server does) are read from the
    header when not given.
    """
    header, parent, metadata, content = (part or _EMPTY_OBJECT for part in parts[:4])
    buffers = parts[4:]
    if msg_id is None or msg_type is None:
        decoded = json.loads(header)
        msg_id, msg_type = decoded.get("msg_id", ""), decoded.get("msg_type", "")
    pieces = [
        b'{"header":',
        header,
        b',"msg_id":',
        json.dumps(msg_id).encode(),
        b',"msg_type":',
        json.dumps(msg_type).encode(),
        b',"parent_header":',
        parent,
        b',"metadata":',
        metadata,
        b',"content":',
        content,
        b',"buffers":[],' if not buffers else b",",
        b'"channel":',
        json.dumps(channel).encode(),
        b"}",
    ]
    body = b"".join(pieces)
    if not buffers:
        return body.decode("utf-8", "replace")
    return _pack_legacy_binary([body, *buffers])


def to_v1_frame(channel: str, parts: Sequence[bytes]) -> bytes:
    """Return the `v1.kernel.websocket.jupyter.org` frame for a kernel message."""
    items = [channel.encode(), *parts]
    count = len(items) + 1
    offset = 8 * (count + 1)
    table = [_U64.pack(count)]
    for item in items:
        table.append(_U64.pack(offset))
        offset += len(item)
    table.append(_U64.pack(offset))
    return b"".join([*table, *items])


def _pack_legacy_binary(chunks: list[bytes]) -> bytes:
    """Prefix `chunks` (JSON first) with the legacy count and offset table."""
    count = len(chunks)
    offset = 4 * (count + 1)
    table = [_U32.pack(count)]
    for chunk in chunks:
        table.append(_U32.pack(offset))
        offset += len(chunk)
    return b"".join([*table, *chunks])


# ---------------------------------------------------------------- incoming (client -> kernel)


def from_json_frame(frame: str | bytes, session: str = "") -> ClientMessage:
    """Parse a legacy frame: a text JSON message, or the binary form carrying buffers.

    A missing `channel` means shell (as jupyter_server assumes); missing `parent_header` and
    `metadata` default to `{}`; missing header fields are filled in, the session from
    `session` (the websocket's). Raises ProtocolError.
    """
    buffers: list[bytes] = []
    if isinstance(frame, str):
        msg = _load_json(frame, "message")
        if not isinstance(msg, dict):
            raise ProtocolError("message must be a JSON object")
        if msg.get("buffers"):
            raise ProtocolError("buffers need the binary frame format")
    else:
        chunks = _unpack_legacy_binary(frame)
        msg = _load_json(chunks[0], "message")
        if not isinstance(msg, dict):
            raise ProtocolError("message must be a JSON object")
        buffers = chunks[1:]
    channel = msg.get("channel", "shell")
    _check_channel(channel)
    header = _expect_object(msg, "header", required=True)
    msg_id, msg_type = _header_ids(header)
    complete_header(header, session)
    dicts = [
        header,
        _expect_object(msg, "parent_header"),
        _expect_object(msg, "metadata"),
        _expect_object(msg, "content", required=True),
    ]
    return ClientMessage(channel, [*map(_dump_json, dicts), *buffers], msg_id, msg_type)


def from_v1_frame(data: bytes, session: str = "") -> ClientMessage:
    """Parse a `v1.kernel.websocket.jupyter.org` frame. Raises ProtocolError.

    The parts pass through as they came, except a header missing fields: that one is filled
    in (the session from `session`, the websocket's) and encoded again.
    """
    if not isinstance(data, bytes):
        raise ProtocolError("v1 messages must be binary frames")
    offsets = _read_offsets(data, _U64, minimum=6)
    if offsets[-1] != len(data):
        raise ProtocolError(f"last offset {offsets[-1]} is not the frame length {len(data)}")
    items = [data[start:stop] for start, stop in pairwise(offsets)]
    try:
        channel = items[0].decode("utf-8")
    except UnicodeDecodeError as err:
        raise ProtocolError("channel is not UTF-8") from err
    _check_channel(channel)
    header = _load_json(items[1], "header")
    if not isinstance(header, dict):
        raise ProtocolError("header must be a JSON object")
    msg_id, msg_type = _header_ids(header)
    for name, raw in zip(("parent_header", "metadata", "content"), items[2:5], strict=True):
        if not isinstance(_load_json(raw, name), dict):
            raise ProtocolError(f"{name} must be a JSON object")
    if complete_header(header, session):
        items[1] = _dump_json(header)
    return ClientMessage(channel, items[1:], msg_id, msg_type)


def complete_header(header: dict[str, Any], session: str) -> bool:
    """Add the header fields the protocol requires that `header` lacks; True if it added any.

    Defaults: version PROTOCOL_VERSION, date now (UTC), `session`, username "".
    """
    missing = [key for key in ("version", "date", "session", "username") if key not in header]
    defaults = {"version": PROTOCOL_VERSION, "session": session, "username": ""}
    for key in missing:
        header[key] = iso_now() if key == "date" else defaults[key]
    return bool(missing)


def _unpack_legacy_binary(data: bytes) -> list[bytes]:
    """Split a legacy binary frame into its JSON and buffers (the last runs to the end)."""
    offsets = _read_offsets(data, _U32, minimum=1)
    bounds = [*offsets, len(data)]
    return [data[start:stop] for start, stop in pairwise(bounds)]


def _read_offsets(data: bytes, word: struct.Struct, minimum: int) -> list[int]:
    """Read the count and offset table of a binary frame and check the offsets' order."""
    size = word.size
    if len(data) < size:
        raise ProtocolError("frame too short for its offset count")
    (count,) = word.unpack_from(data)
    if count < minimum:
        raise ProtocolError(f"frame declares {count} offsets, expected at least {minimum}")
    table_end = size * (count + 1)
    if table_end > len(data):
        raise ProtocolError(f"frame too short for {count} offsets")
    offsets = [word.unpack_from(data, size * (i + 1))[0] for i in range(count)]
    previous = table_end
    for index, offset in enumerate(offsets):
        if offset < previous or offset > len(data):
            raise ProtocolError(
                f"offset {index} ({offset}) is out of order or range (after {previous}, "
                f"in a frame of {len(data)} bytes)"
            )
        previous = offset
    return offsets


def _reject_constant(name: str) -> Any:
    raise ProtocolError(f"{name} is not valid JSON")


def _load_json(raw: str | bytes, what: str) -> Any:
    """Decode strict JSON: UTF-8 only (no sniffing of other encodings), no NaN or Infinity."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return json.loads(text, parse_constant=_reject_constant)
    except ProtocolError:
        raise
    except (ValueError, RecursionError) as err:
        raise ProtocolError(f"{what} is not valid JSON: {err}") from err


def _dump_json(value: dict[str, Any]) -> bytes:
    """Serialize compactly; a lone surrogate falls back to ASCII escapes."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":")).encode("ascii")


def _check_channel(channel: object) -> None:
    if channel not in CLIENT_CHANNELS:
        raise ProtocolError(f"channel must be one of shell, control, stdin, not {channel!r}")


def _expect_object(msg: dict[str, Any], key: str, required: bool = False) -> dict[str, Any]:
    """Return `msg[key]`, a dict; absent (or null) optional keys give `{}`."""
    value = msg.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise ProtocolError(f"{key} must be a JSON object")
    return value


def _header_ids(header: dict[str, Any]) -> tuple[str, str]:
    msg_id, msg_type = header.get("msg_id"), header.get("msg_type")
    if not isinstance(msg_id, str) or not msg_id:
        raise ProtocolError("header.msg_id must be a non-empty string")
    if not isinstance(msg_type, str) or not msg_type:
        raise ProtocolError("header.msg_type must be a non-empty string")
    return msg_id, msg_type
