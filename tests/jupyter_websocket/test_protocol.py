"""Wire formats: round trips, interop with jupyter_server's codecs, malformed frames."""

from __future__ import annotations

import json
import re
import struct

import pytest
from jupyter_server.services.kernels.connection.base import (
    deserialize_binary_message,
    deserialize_msg_from_ws_v1,
    serialize_binary_message,
    serialize_msg_to_ws_v1,
)

from kernel_gateway.jupyter_websocket.protocol import (
    ClientMessage,
    ProtocolError,
    from_json_frame,
    from_v1_frame,
    to_json_frame,
    to_v1_frame,
)

HEADER = {
    "msg_id": "m1",
    "msg_type": "execute_request",
    "session": "s",
    "username": "u",
    "date": "2024-01-01T00:00:00.000000Z",
    "version": "5.3",
}
BARE_HEADER = {"msg_id": "m1", "msg_type": "execute_request"}
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
CONTENT = {"code": "print('h\\u00e9\\u0000')", "silent": False}
PARTS = [
    json.dumps(HEADER).encode(),
    b"{}",
    b'{"k": 1}',
    json.dumps(CONTENT, ensure_ascii=False).encode(),
]


def compact(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def test_to_json_frame_is_the_full_message() -> None:
    frame = to_json_frame("iopub", PARTS)
    assert isinstance(frame, str)
    assert json.loads(frame) == {
        "header": HEADER,
        "msg_id": "m1",
        "msg_type": "execute_request",
        "parent_header": {},
        "metadata": {"k": 1},
        "content": CONTENT,
        "buffers": [],
        "channel": "iopub",
    }


def test_to_json_frame_uses_given_ids_and_fills_empty_parts() -> None:
    frame = to_json_frame("shell", [PARTS[0], b"", b"", b"{}"], msg_id="x", msg_type="y")
    assert json.loads(frame) == {
        "header": HEADER,
        "msg_id": "x",
        "msg_type": "y",
        "parent_header": {},
        "metadata": {},
        "content": {},
        "buffers": [],
        "channel": "shell",
    }


def test_to_json_frame_with_buffers_is_jupyter_servers_binary_form() -> None:
    frame = to_json_frame("iopub", [*PARTS, b"\x00\x01", b""])
    assert isinstance(frame, bytes)
    msg = deserialize_binary_message(frame)
    assert msg["buffers"] == [b"\x00\x01", b""]
    assert msg["content"] == CONTENT
    assert msg["channel"] == "iopub"
    assert "buffers" not in json.loads(frame[16 : struct.unpack(">I", frame[8:12])[0]])


def test_json_text_round_trip() -> None:
    frame = to_json_frame("shell", PARTS)
    assert from_json_frame(frame) == ClientMessage(
        channel="shell",
        parts=[compact(HEADER), b"{}", b'{"k":1}', compact(CONTENT)],
        msg_id="m1",
        msg_type="execute_request",
    )


def test_json_binary_round_trip_and_interop() -> None:
    ours = to_json_frame("control", [*PARTS, b"abc", b"\xff"])
    assert isinstance(ours, bytes)
    theirs = serialize_binary_message(
        {
            "header": HEADER,
            "parent_header": {},
            "metadata": {"k": 1},
            "content": CONTENT,
            "channel": "control",
            "buffers": [b"abc", b"\xff"],
        }
    )
    expected = ClientMessage(
        "control",
        [compact(HEADER), b"{}", b'{"k":1}', compact(CONTENT), b"abc", b"\xff"],
        "m1",
        "execute_request",
    )
    assert from_json_frame(ours) == expected
    assert from_json_frame(theirs) == expected


def test_json_defaults_for_missing_parts_and_channel() -> None:
    frame = json.dumps({"header": HEADER, "content": {}})
    assert from_json_frame(frame) == ClientMessage(
        "shell", [compact(HEADER), b"{}", b"{}", b"{}"], "m1", "execute_request"
    )


def test_json_keeps_lone_surrogates_as_escapes() -> None:
    frame = json.dumps({"header": HEADER, "content": {"s": "\ud800"}, "channel": "stdin"})
    msg = from_json_frame(frame)
    assert msg.parts[3] == b'{"s":"\\ud800"}'
    assert msg.channel == "stdin"


def test_v1_matches_jupyter_server() -> None:
    parts = [*PARTS, b"\x00buf"]
    ours = to_v1_frame("iopub", parts)
    assert ours == serialize_msg_to_ws_v1(parts, "iopub")
    assert deserialize_msg_from_ws_v1(ours) == ("iopub", parts)


def test_v1_round_trip_keeps_raw_parts() -> None:
    parts = [*PARTS, b"", b"\xfe\xff"]
    assert from_v1_frame(to_v1_frame("shell", parts)) == ClientMessage(
        "shell", parts, "m1", "execute_request"
    )


def v1(channel: bytes, *items: bytes, count: int | None = None, shift: int = 0) -> bytes:
    """Build a v1 frame by hand, optionally with a wrong count or shifted offsets."""
    entries = [channel, *items]
    n = len(entries) + 1
    offsets, pos = [], 8 * (n + 1)
    for entry in entries:
        offsets.append(pos + shift)
        pos += len(entry)
    offsets.append(pos)
    table = struct.pack(f"<{n + 1}Q", n if count is None else count, *offsets)
    return table + b"".join(entries)


def patch_offset(frame: bytes, index: int, value: int) -> bytes:
    """Overwrite offset number `index` of a v1 frame."""
    at = 8 * (index + 1)
    return frame[:at] + struct.pack("<Q", value) + frame[at + 8 :]


GOOD = (b"shell", PARTS[0], b"{}", b"{}", b"{}")

BAD_V1 = {
    "empty": b"",
    "short count": b"\x01\x02",
    "huge count": struct.pack("<Q", 2**63) + b"\x00" * 64,
    "too few offsets": v1(b"shell", PARTS[0], b"{}", b"{}"),
    "offsets out of range": v1(*GOOD)[:-1],
    "truncated": v1(*GOOD)[:60],
    "offset inside table": v1(*GOOD, shift=-8),
    "trailing bytes": v1(*GOOD) + b"x",
    "decreasing offsets": patch_offset(v1(*GOOD), 2, 8 * 7),
    "iopub channel": v1(b"iopub", *GOOD[1:]),
    "unknown channel": v1(b"nope", *GOOD[1:]),
    "channel not utf-8": v1(b"\xff", *GOOD[1:]),
    "header not json": v1(b"shell", b"{", b"{}", b"{}", b"{}"),
    "header not utf-8": v1(b"shell", b'{"msg_id": "\xff"}', b"{}", b"{}", b"{}"),
    "header utf-16": v1(b"shell", json.dumps(HEADER).encode("utf-16"), b"{}", b"{}", b"{}"),
    "header list": v1(b"shell", b"[]", b"{}", b"{}", b"{}"),
    "no msg_id": v1(b"shell", b'{"msg_type": "x"}', b"{}", b"{}", b"{}"),
    "msg_type not str": v1(b"shell", b'{"msg_id": "a", "msg_type": 1}', b"{}", b"{}", b"{}"),
    "content not object": v1(b"shell", PARTS[0], b"{}", b"{}", b'"x"'),
    "metadata NaN": v1(b"shell", PARTS[0], b"{}", b'{"a": NaN}', b"{}"),
    "parent null": v1(b"shell", PARTS[0], b"null", b"{}", b"{}"),
}


@pytest.mark.parametrize("frame", BAD_V1.values(), ids=BAD_V1.keys())
def test_malformed_v1_frames_raise(frame: bytes) -> None:
    with pytest.raises(ProtocolError):
        from_v1_frame(frame)


def test_v1_rejects_text_frames() -> None:
    with pytest.raises(ProtocolError, match="binary"):
        from_v1_frame("text")  # type: ignore[arg-type]


def legacy(*chunks: bytes) -> bytes:
    return serialize_binary_message({**json.loads(chunks[0]), "buffers": list(chunks[1:])})


VALID = json.dumps({"header": HEADER, "content": {}, "channel": "shell"})

BAD_JSON = {
    "not json": "{",
    "deep nesting": "[" * 100_000 + "]" * 100_000,
    "array": "[]",
    "no header": '{"content": {}}',
    "header not object": '{"header": [], "content": {}}',
    "no msg_type": '{"header": {"msg_id": "a"}, "content": {}}',
    "empty msg_id": '{"header": {"msg_id": "", "msg_type": "x"}, "content": {}}',
    "no content": json.dumps({"header": HEADER}),
    "content null": json.dumps({"header": HEADER, "content": None}),
    "metadata list": json.dumps({"header": HEADER, "content": {}, "metadata": []}),
    "parent string": json.dumps({"header": HEADER, "content": {}, "parent_header": "p"}),
    "iopub channel": json.dumps({"header": HEADER, "content": {}, "channel": "iopub"}),
    "channel not str": json.dumps({"header": HEADER, "content": {}, "channel": 3}),
    "Infinity": VALID[:-1] + ', "x": Infinity}',
    "buffers in text": json.dumps({"header": HEADER, "content": {}, "buffers": ["YQ=="]}),
    "bin truncated": legacy(VALID.encode(), b"abc")[:6],
    "bin count zero": struct.pack(">I", 0) + VALID.encode(),
    "bin huge count": struct.pack(">I", 2**32 - 1) + b"\x00" * 32,
    "bin offset past end": struct.pack(">II", 1, 999) + VALID.encode(),
    "bin offset in table": struct.pack(">II", 1, 4) + VALID.encode(),
    "bin decreasing": struct.pack(">III", 2, 12, 11) + VALID.encode(),
    "bin not utf-8": struct.pack(">II", 1, 8) + b'{"\xff": 1}',
    "bin json array": struct.pack(">II", 1, 8) + b"[]",
}


@pytest.mark.parametrize("frame", BAD_JSON.values(), ids=BAD_JSON.keys())
def test_malformed_json_frames_raise(frame: str | bytes) -> None:
    with pytest.raises(ProtocolError):
        from_json_frame(frame)


def test_protocol_error_is_a_value_error_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match=r"channel must be one of shell, control, stdin"):
        from_json_frame(json.dumps({"header": HEADER, "content": {}, "channel": "iopub"}))


def filled(header: dict[str, object], session: str) -> dict[str, object]:
    """`header` with the fields the gateway fills in, its date checked and kept."""
    assert isinstance(header["date"], str)
    assert ISO_UTC.match(header["date"])
    return {**BARE_HEADER, "version": "5.3", "session": session, "username": "", **header}


def test_json_fills_in_missing_header_fields() -> None:
    frame = json.dumps({"header": BARE_HEADER, "content": {}})
    header = json.loads(from_json_frame(frame, "ws-session").parts[0])
    assert header == filled(header, "ws-session")

    own_session = json.dumps({"header": {**BARE_HEADER, "session": "mine"}, "content": {}})
    assert json.loads(from_json_frame(own_session, "ws-session").parts[0])["session"] == "mine"


def test_v1_fills_in_missing_header_fields_and_keeps_the_rest_raw() -> None:
    parts = [json.dumps(BARE_HEADER).encode(), b"{ }", b"{}", b'{"a":  1}', b"buf"]
    message = from_v1_frame(to_v1_frame("shell", parts), "ws-session")
    header = json.loads(message.parts[0])
    assert header == filled(header, "ws-session")
    assert message.parts[1:] == parts[1:]
    assert (message.msg_id, message.msg_type) == ("m1", "execute_request")


def test_v1_passes_a_complete_header_through_untouched() -> None:
    spaced = json.dumps(HEADER, indent=1).encode()
    message = from_v1_frame(to_v1_frame("shell", [spaced, *PARTS[1:]]), "other")
    assert message.parts[0] == spaced


def test_errors_quote_at_most_200_characters_of_the_input() -> None:
    offsets = [8 * 100_001 - 1] * 100_000  # each one inside the table: out of range
    frame = struct.pack(f"<{len(offsets) + 1}Q", len(offsets), *offsets)
    with pytest.raises(ProtocolError) as bad_offsets:
        from_v1_frame(frame)
    assert str(bad_offsets.value) == (
        "offset 0 (800007) is out of order or range (after 800008, in a frame of 800008 bytes)"
    )

    channel = "x" * 1_000_000
    with pytest.raises(ProtocolError) as bad_channel:
        from_json_frame(json.dumps({"header": HEADER, "content": {}, "channel": channel}))
    message = str(bad_channel.value)
    assert message.startswith("channel must be one of shell, control, stdin, not 'xxx")
    assert len(message) == 203
    assert message.endswith("x...")


def test_nul_inside_json_strings_is_fine() -> None:
    frame = json.dumps({"header": HEADER, "content": {"code": "a\u0000b"}})
    assert from_json_frame(frame).parts[3] == b'{"code":"a\\u0000b"}'
