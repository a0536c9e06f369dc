"""Pure parts of streaming: SSE formatting, the Accept check, stream text from raw messages."""

from __future__ import annotations

import asyncio
import json

import pytest

from kernel_gateway.notebook_http.streaming.events import (
    end_event,
    error_event,
    event,
    output_event,
    wants_events,
)
from kernel_gateway.notebook_http.streaming.sinks import BufferedBody
from kernel_gateway.notebook_http.streaming.writer import StreamSettings, StreamWriter
from kernel_gateway.services.kernels.messages import KernelMessage, stream_literal, stream_output


def message(
    msg_type: str, content: object, separators: tuple[str, str] = (", ", ": ")
) -> KernelMessage:
    raw = json.dumps(content, ensure_ascii=False, separators=separators).encode()
    header = json.dumps({"msg_type": msg_type}).encode()
    return KernelMessage("iopub", [header, b"{}", b"{}", raw])


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("text/event-stream", True),
        ("application/json, Text/Event-Stream;q=0.5", True),
        ("text/event-stream;q=0", False),
        ("text/event-stream; q=bad", True),
        ("*/*", False),
        (None, False),
        ("text/event-streams", False),
    ],
)
def test_wants_events(accept: str | None, expected: bool) -> None:
    assert wants_events(accept) is expected


def test_events_whole_values() -> None:
    assert event("display", {"a": "b\nc"}) == b'event: display\ndata: {"a":"b\\nc"}\n\n'
    assert error_event("ValueError", "x") == (
        b'event: error\ndata: {"ename":"ValueError","evalue":"x"}\n\n'
    )
    headers = (("X-A", "1"), ("Set-Cookie", "a"), ("Set-Cookie", "b"))
    assert end_event(201, headers) == (
        b'event: end\ndata: {"status":201,"headers":{"X-A":"1","Set-Cookie":["a","b"]}}\n\n'
    )


TEXTS = ["plain\n", 'quote " and \\ backslash\n', "é 😀\tTab", "\x01 control", "a/b \\u", ""]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("separators", [(",", ":"), (", ", ": ")])
def test_stream_text_from_the_raw_message(text: str, separators: tuple[str, str]) -> None:
    found = message("stream", {"name": "stdout", "text": text}, separators)
    assert stream_output(found) == ("stdout", text.encode())
    name, literal = stream_literal(found)
    assert (name, json.loads(bytes(literal))) == ("stdout", text)


def test_stream_content_of_another_shape_is_decoded() -> None:
    found = message("stream", {"text": "x\n", "name": "stderr"})
    assert stream_output(found) == ("stderr", b"x\n")
    assert b"".join(output_event(found)) == b'event: stderr\ndata: "x\\n"\n\n'


@pytest.mark.parametrize(
    "content",
    [
        {"name": "stdout", "text": "a", "more": "b"},  # keys the protocol doesn't have
        {"name": "stdout", "text": "a\\", "x": "\\"},
        {"name": "stdout", "text": 'ends with a backslash \\" and a quote'},
        {"name": "stdout", "text": '"quoted" at both ends"'},
    ],
)
def test_stream_content_with_quotes_is_read_as_json(content: dict[str, str]) -> None:
    found = message("stream", content)
    assert stream_output(found) == ("stdout", content["text"].encode())
    name, literal = stream_literal(found)
    assert (name, json.loads(bytes(literal))) == ("stdout", content["text"])


def test_output_events_of_each_kind() -> None:
    bundle = {"text/plain": "1"}
    stream = message("stream", {"name": "stdout", "text": "hi\n"})
    assert b"".join(output_event(stream)) == b'event: stdout\ndata: "hi\\n"\n\n'
    assert output_event(message("display_data", {"data": bundle})) == (event("display", bundle),)
    assert output_event(message("execute_result", {"data": bundle})) == (event("result", bundle),)
    error = message("error", {"ename": "E", "evalue": "v", "traceback": []})
    assert output_event(error) == (error_event("E", "v"),)
    assert output_event(message("status", {"execution_state": "idle"})) == ()


def test_a_buffered_body_gathers_small_prints_into_blocks_and_keeps_large_ones() -> None:
    async def gather(texts: list[str], limit: int) -> tuple[list[bytes], bool]:
        body = BufferedBody(limit, block=3)
        for text in texts:
            body.output(message("stream", {"name": "stdout", "text": text}))
        body.output(message("stream", {"name": "stderr", "text": "not the body"}))
        return body.take(), body.stopped.done()

    texts = ["a", "b", "x" * 10, "c", "d", "e", "f"]
    assert asyncio.run(gather(texts, 100)) == ([b"ab", b"x" * 10, b"cde", b"f"], False)
    assert asyncio.run(gather(texts, 12)) == ([], True)


def test_an_event_larger_than_the_buffer_is_queued_whole_and_the_next_one_stops_the_run() -> None:
    async def unsent(data: object) -> None:
        raise AssertionError("the writer is not started: nothing is sent")

    async def push() -> tuple[list[bytes], bool, list[str]]:
        stops: list[str] = []
        settings = StreamSettings(max_response_size=100, stream_buffer_size=4)
        writer = StreamWriter(unsent, lambda err: stops.append(str(err)), settings)
        writer.push(b"event: stdout\ndata: ", b'"xxxxxx"', b"\n\n")  # one output: not cut
        queued = [bytes(piece) for piece in writer.queue]
        writer.push(b"next")  # the reader is behind by more than the buffer
        return queued, writer.broken, stops

    assert asyncio.run(push()) == (
        [b"event: stdout\ndata: ", b'"xxxxxx"', b"\n\n"],
        True,
        ["The client read too slowly: over 4 bytes unsent"],
    )
