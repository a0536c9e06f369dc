"""Kernel messages: decoding as far as routing needs, synthetic messages, protocol times."""

from __future__ import annotations

import json
import re

import pytest

from kernel_gateway.services.kernels.messages import (
    KernelMessage,
    dump,
    iso_now,
    iso_time,
    new_header,
    status_message,
    top_level_string,
)

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
HEX_ID = re.compile(r"^[0-9a-f]{32}$")


def parts_of(header: dict, parent: dict | None, content: bytes, *buffers: bytes) -> list[bytes]:
    return [dump(header), dump(parent) if parent else b"{}", b"{}", content, *buffers]


# -- time ------------------------------------------------------------------------------------


def test_iso_time_of_the_epoch() -> None:
    assert iso_time(0) == "1970-01-01T00:00:00.000000Z"


def test_iso_time_keeps_microseconds_in_utc() -> None:
    assert iso_time(1_700_000_000.25) == "2023-11-14T22:13:20.250000Z"


def test_iso_now_has_the_iso_utc_format() -> None:
    assert ISO_UTC.match(iso_now())


# -- KernelMessage ---------------------------------------------------------------------------


def test_message_reads_type_and_parent_id_from_its_headers() -> None:
    header = {"msg_id": "m2", "msg_type": "execute_reply"}
    parts = parts_of(header, {"msg_id": "m1", "msg_type": "execute_request"}, b'{"status":"ok"}')

    message = KernelMessage("shell", parts)

    assert (message.channel, message.msg_type, message.parent_msg_id) == (
        "shell",
        "execute_reply",
        "m1",
    )
    assert message.header == header
    assert message.content == {"status": "ok"}
    assert message.buffers == []
    assert message.parts == parts


@pytest.mark.parametrize("parent", [b"{}", b"", b"[]", b'{"msg_type": "x"}'])
def test_message_without_a_parent_msg_id_has_an_empty_one(parent: bytes) -> None:
    parts = [dump({"msg_type": "status"}), parent, b"{}", b"{}"]

    assert KernelMessage("iopub", parts).parent_msg_id == ""


def test_message_without_a_type_has_an_empty_one() -> None:
    assert KernelMessage("iopub", [b"{}", b"{}", b"{}", b"{}"]).msg_type == ""


def test_message_content_is_decoded_only_when_asked_for() -> None:
    message = KernelMessage("iopub", parts_of({"msg_type": "stream"}, None, b"not json"))

    assert message.msg_type == "stream"
    with pytest.raises(json.JSONDecodeError):
        _ = message.content


def test_message_content_is_decoded_once() -> None:
    message = KernelMessage("iopub", parts_of({"msg_type": "stream"}, None, b'{"text":"a"}'))

    assert message.content is message.content


def test_message_buffers_are_the_parts_after_content() -> None:
    parts = parts_of({"msg_type": "comm_msg"}, None, b"{}", b"\x00\x01", b"second")

    assert KernelMessage("iopub", parts).buffers == [b"\x00\x01", b"second"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"msg_id":"abc","msg_type":"status"}', "status"),
        (b'{ "msg_type" :  "execute_reply" }', "execute_reply"),
        (b'{"username":"msg_type","msg_type":"stream"}', "stream"),
        (b'{"note":"\\"msg_type\\":\\"evil\\"","msg_type":"real"}', "real"),
        (b'{"msg_type":"quote\\"d"}', 'quote"d'),
        (b'{"msg_type":"\\u00e9t\\u00e9"}', "\u00e9t\u00e9"),
        ('{"msg_type":"été"}'.encode(), "été"),
        (b'{"inner":{"msg_type":"nested"},"msg_type":"outer"}', "outer"),
        (b'{"inner":{"msg_type":"nested"}}', ""),
        (b'{"msg_type":null}', ""),
        (b'{"msg_type":3}', ""),
        (b"[]", ""),
        (b"not json", ""),
        (b"{}", ""),
        (b"", ""),
    ],
)
def test_top_level_string_reads_one_field_as_json_would(raw: bytes, expected: str) -> None:
    assert top_level_string(raw, "msg_type") == expected


def test_dump_is_compact_utf8_json() -> None:
    assert dump({"a": [1, 2], "é": "ü"}) == '{"a":[1,2],"é":"ü"}'.encode()


# -- synthetic messages ----------------------------------------------------------------------


def test_new_header_follows_the_messaging_protocol() -> None:
    header = new_header("kernel_info_request", "session-1")

    assert header == {
        "msg_id": header["msg_id"],
        "msg_type": "kernel_info_request",
        "username": "kernel_gateway",
        "session": "session-1",
        "date": header["date"],
        "version": "5.3",
    }
    assert HEX_ID.match(header["msg_id"])
    assert ISO_UTC.match(header["date"])


def test_new_headers_have_distinct_ids() -> None:
    assert new_header("a", "s")["msg_id"] != new_header("a", "s")["msg_id"]


def test_status_message_is_an_iopub_status_without_parent() -> None:
    message = status_message("restarting", "kernel-session")

    assert (message.channel, message.msg_type, message.parent_msg_id) == (
        "iopub",
        "status",
        "",
    )
    assert message.content == {"execution_state": "restarting"}
    assert message.header == {
        "msg_id": message.header["msg_id"],
        "msg_type": "status",
        "username": "kernel_gateway",
        "session": "kernel-session",
        "date": message.header["date"],
        "version": "5.3",
    }
    assert message.parts[1:3] == [b"{}", b"{}"]
    assert message.buffers == []
    assert json.loads(message.parts[0]) == message.header
