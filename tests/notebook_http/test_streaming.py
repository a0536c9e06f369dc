"""Streamed answers with real kernels: Server-Sent Events, STREAM endpoints (chunked), client
disconnects, timeouts, max_response_size and slow readers."""

from __future__ import annotations

import http.client
import socket
import uuid
from pathlib import Path

import pytest
from conftest import Gateway, GatewayFactory, write_notebook
from streaming_client import events, open_stream, read_all
from test_http_pool import wait_until

MiB = 1 << 20
SEED = """import json, os, sys, time
def arg(name, default=""):
    return json.loads(REQUEST)["args"].get(name, [default])[0]
def wait_for(path):
    while not os.path.exists(path):
        time.sleep(0.01)
"""
CELLS = (
    SEED,
    "# GET /pid\nprint(os.getpid())",
    "# GET /steps\nprint('first', flush=True)\nwait_for(arg('flag'))\n"
    "print('oops', file=sys.stderr, flush=True)\n"
    "display({'text/html': '<b>x</b>'}, raw=True)\n42",
    "# ResponseInfo GET /steps\nprint(json.dumps({'status': 201, 'headers': {'X-A': 1}}))",
    "# GET /quiet\nwait_for(arg('flag'))\nprint('done')",
    "# GET /fail\nprint('before', flush=True)\nraise ValueError('boom')",
    "# STREAM POST /rows\nprint(json.dumps({'row': 0}), flush=True)\nwait_for(arg('flag'))\n"
    "print(json.dumps({'row': 1}), flush=True)",
    "# ResponseInfo POST /rows\n"
    "print(json.dumps({'status': 202, 'headers': {'Content-Type': 'application/x-ndjson'}}))",
    "# STREAM GET /early-fail\nraise ValueError('early')",
    "# STREAM GET /late-fail\nprint('partial', flush=True)\nraise ValueError('late')",
    "# GET /forever\nwhile True:\n    print('tick', flush=True)\n    time.sleep(0.02)",
    "# STREAM GET /ticks\nwhile True:\n    print('tick', flush=True)\n    time.sleep(0.02)",
    "# GET /flood\nline = 'x' * 1023\n"
    "for _ in range(int(arg('mb', '1')) * 1024):\n    print(line, flush=True)",
    "# STREAM GET /stream-flood\nline = 'x' * 1023\n"
    "for _ in range(int(arg('mb', '1')) * 1024):\n    print(line, flush=True)",
    "# GET /counted\nprint('one', flush=True)\nprint('two')",
    "# STREAM GET /counted-chunks\nprint('one', flush=True)\nprint('two')",
    "# STREAM GET /endless\nline = 'x' * 1023\nwhile True:\n    print(line, flush=True)",
    "# GET /endless-unflushed\nline = 'x' * 1023\nwhile True:\n    print(line)",
    "# GET /touch\nopen(arg('path'), 'w').close()",
    "# GET /one-line\nprint('x' * int(arg('kb', '1')) * 1024)",
    "# STREAM GET /sized\nprint('body', flush=True)",
    "# STREAM GET /no-body\nprint('body', flush=True)",
    "# ResponseInfo GET /no-body\nprint(json.dumps({'status': int(arg('status'))}))",
    "# ResponseInfo GET /sized\nprint(json.dumps({'headers': {'Content-Length': arg('n')}}))",
    "# STREAM GET /stream-touch\nopen(arg('path'), 'w').close()",
)


@pytest.fixture(scope="module")
def notebook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_notebook(tmp_path_factory.mktemp("streaming") / "streaming.ipynb", *CELLS)


@pytest.fixture(scope="module")
def gateway(module_gateway_factory: GatewayFactory, notebook: Path) -> Gateway:
    return module_gateway_factory(
        "--api=notebook-http",
        f"--seed_uri={notebook}",
        "--NotebookHTTPPersonality.sse_ping_interval=0.2",
        f"--NotebookHTTPPersonality.max_response_size={4 * MiB}",
        f"--NotebookHTTPPersonality.stream_buffer_size={MiB}",
        ready_path="/pid",
    )


def flag(folder: Path) -> Path:
    return folder / f"flag-{uuid.uuid4().hex}"


def pid_of(gateway: Gateway) -> int:
    """The pid of the (only) kernel, once it is free again."""
    status, _, body = gateway.request("GET", "/pid")
    assert status == 200, body
    return int(body)


# -- Server-Sent Events -----------------------------------------------------------------------


def test_events_come_in_order_the_first_while_the_cell_runs(
    gateway: Gateway, tmp_path: Path
) -> None:
    done = flag(tmp_path)
    connection, response = open_stream(gateway, f"/steps?flag={done}")
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/event-stream; charset=utf-8"
    assert response.getheader("Cache-Control") == "no-cache"
    stream = events(response)
    assert next(stream) == ("stdout", "first\n")  # the cell waits for `done` meanwhile
    done.touch()
    assert list(stream) == [
        ("stderr", "oops\n"),
        ("display", {"text/html": "<b>x</b>"}),
        ("result", {"text/plain": "42"}),
        ("end", {"status": 201, "headers": {"X-A": "1"}}),
    ]
    connection.close()


def test_an_idle_stream_gets_pings(gateway: Gateway, tmp_path: Path) -> None:
    done = flag(tmp_path)
    connection, response = open_stream(gateway, f"/quiet?flag={done}")
    stream = events(response)
    assert next(stream) == (":", "ping")
    done.touch()
    rest = [item for item in stream if item[0] != ":"]
    assert rest == [("stdout", "done\n"), ("end", {"status": 200, "headers": {}})]
    connection.close()


def test_a_failing_cell_gives_its_error_event_then_end_500(gateway: Gateway) -> None:
    connection, response = open_stream(gateway, "/fail")
    assert [item for item in events(response) if item[0] != ":"] == [
        ("stdout", "before\n"),
        ("error", {"ename": "ValueError", "evalue": "boom"}),
        ("end", {"status": 500, "headers": {}}),
    ]
    connection.close()


def test_without_the_accept_header_the_answer_is_buffered(gateway: Gateway, tmp_path: Path) -> None:
    done = flag(tmp_path)
    done.touch()
    status, headers, body = gateway.request("GET", f"/steps?flag={done}")
    assert (status, headers["X-A"], body) == (201, "1", b"first\n")


# -- STREAM endpoints (chunked) ------------------------------------------------------------


def test_stream_endpoint_sends_its_declared_head_then_each_chunk_as_it_comes(
    gateway: Gateway, tmp_path: Path
) -> None:
    done = flag(tmp_path)
    connection, response = open_stream(gateway, f"/rows?flag={done}", "POST", "*/*")
    assert response.status == 202
    assert response.getheader("Content-Type") == "application/x-ndjson"
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert response.read1(65536) == b'{"row": 0}\n'  # the cell waits for `done` meanwhile
    done.touch()
    assert read_all(response) == (b'{"row": 1}\n', True)
    connection.close()


def test_stream_endpoint_failing_before_its_first_chunk_is_a_json_500(gateway: Gateway) -> None:
    status, body = gateway.json("GET", "/early-fail")
    assert status == 500
    assert body["message"].startswith('cell 9 "# STREAM GET /early-fail": ValueError: early')


def test_stream_endpoint_failing_after_a_chunk_ends_without_the_last_chunk(
    gateway: Gateway,
) -> None:
    connection, response = open_stream(gateway, "/late-fail", accept="*/*")
    assert response.status == 200
    assert read_all(response) == (b"partial\n", False)
    connection.close()
    pid_of(gateway)


@pytest.mark.parametrize("declared", ["2", "500"])
def test_a_content_length_a_stream_endpoint_declares_is_dropped_for_chunks(
    gateway: Gateway, declared: str
) -> None:
    connection, response = open_stream(gateway, f"/sized?n={declared}", accept="*/*")
    assert (response.status, response.getheader("Content-Length")) == (200, None)
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert read_all(response) == (b"body\n", True)
    connection.close()
    assert "HTTPOutputError" not in gateway.log()


def test_a_stream_endpoint_answering_without_a_body_keeps_its_connection_in_step(
    gateway: Gateway,
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=60)
    for status in (204, 304):
        connection.request("GET", f"/no-body?status={status}")
        response = connection.getresponse()
        assert (response.status, response.read()) == (status, b"")
        connection.request("GET", "/pid")  # the same connection: what it reads next is this
        response = connection.getresponse()
        assert (response.status, response.read().strip().isdigit()) == (200, True)
    connection.close()


def test_stream_endpoint_ignores_the_accept_header(gateway: Gateway, tmp_path: Path) -> None:
    done = flag(tmp_path)
    done.touch()
    connection, response = open_stream(gateway, f"/rows?flag={done}", "POST")
    assert response.getheader("Content-Type") == "application/x-ndjson"
    assert read_all(response) == (b'{"row": 0}\n{"row": 1}\n', True)
    connection.close()


# -- the client going away, limits ---------------------------------------------------------


@pytest.mark.parametrize(("path", "accept"), [("/forever", "text/event-stream"), ("/ticks", "*/*")])
def test_a_client_that_leaves_mid_stream_interrupts_the_cell(
    gateway: Gateway, path: str, accept: str
) -> None:
    pid = pid_of(gateway)
    connection, response = open_stream(gateway, path, accept=accept)
    assert b"tick" in response.read1(65536)
    connection.sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
    connection.close()
    assert pid_of(gateway) == pid  # the cell that never ends was interrupted, not restarted


@pytest.mark.parametrize(
    ("path", "accept"),
    [("/touch", "*/*"), ("/touch", "text/event-stream"), ("/stream-touch", "*/*")],
)
def test_a_client_that_leaves_while_queued_runs_nothing(
    gateway: Gateway, tmp_path: Path, path: str, accept: str
) -> None:
    pid = pid_of(gateway)
    done, touched = flag(tmp_path), flag(tmp_path)
    holder, held = open_stream(gateway, f"/quiet?flag={done}")  # the only kernel is busy
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=60) as sock:
        request = f"GET {path}?path={touched} HTTP/1.1\r\nHost: x\r\nAccept: {accept}\r\n"
        sock.sendall(f"{request}\r\n".encode())
    assert gateway.request("GET", "/_api/spec/swagger.json")[0] == 200  # the close is seen
    done.touch()
    assert [name for name, _ in events(held) if name != ":"] == ["stdout", "end"]
    holder.close()
    assert pid_of(gateway) == pid  # the kernel served the next request, not restarted
    assert not touched.exists()  # the request of the client that left never ran


@pytest.mark.parametrize(("path", "accept"), [("/forever", "text/event-stream"), ("/ticks", "*/*")])
def test_a_client_that_leaves_at_once_interrupts_the_cell(
    gateway: Gateway, path: str, accept: str
) -> None:
    pid = pid_of(gateway)
    for _ in range(5):  # the interrupt often comes before the kernel has started the cell
        with socket.create_connection(("127.0.0.1", gateway.port), timeout=60) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAccept: {accept}\r\n\r\n".encode())
        assert pid_of(gateway) == pid  # interrupted once it ran, not restarted


def test_one_output_larger_than_the_stream_buffer_reaches_a_reader_that_keeps_up(
    gateway: Gateway,
) -> None:
    connection, response = open_stream(gateway, "/one-line?kb=2048")  # the buffer is 1 MiB
    assert list(events(response)) == [
        ("stdout", "x" * 2 * MiB + "\n"),
        ("end", {"status": 200, "headers": {}}),
    ]
    connection.close()


def test_a_buffered_body_over_max_response_size_is_500_and_interrupts(gateway: Gateway) -> None:
    pid = pid_of(gateway)
    status, body = gateway.json("GET", "/flood?mb=5")
    assert status == 500
    assert body["message"] == f"The response is larger than max_response_size ({4 * MiB} bytes)"
    assert pid_of(gateway) == pid


def test_a_cell_printing_without_end_is_cut_though_its_answer_is_buffered(
    gateway: Gateway,
) -> None:
    """The fast path lets a buffered request's prints wait for its end, but only up to a
    limit: past it they flow as they come, so max_response_size still stops the cell."""
    pid = pid_of(gateway)
    status, body = gateway.json("GET", "/endless-unflushed")
    assert status == 500
    assert body["message"] == f"The response is larger than max_response_size ({4 * MiB} bytes)"
    assert pid_of(gateway) == pid


@pytest.mark.parametrize(
    ("path", "accept"), [("/flood", "text/event-stream"), ("/stream-flood", "*/*")]
)
def test_a_streamed_body_over_max_response_size_is_cut(
    gateway: Gateway, path: str, accept: str
) -> None:
    pid = pid_of(gateway)
    connection, response = open_stream(gateway, f"{path}?mb=8", accept=accept)
    body, ended = read_all(response)
    assert not ended
    assert 0 < len(body) <= 4 * MiB + 64 * 1024  # the limit, and the SSE framing
    connection.close()
    assert pid_of(gateway) == pid


def test_a_slow_reader_gets_cut_past_stream_buffer_size(gateway: Gateway) -> None:
    pid = pid_of(gateway)
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=60) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.sendall(b"GET /endless HTTP/1.1\r\nHost: x\r\n\r\n")
        assert pid_of(gateway) == pid  # free again: the stream was cut, the cell stopped
        received = b""
        while data := sock.recv(1 << 20):
            received += data
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"Transfer-Encoding: chunked" in head
    assert not body.endswith(b"0\r\n\r\n")  # no last chunk: the client can tell


@pytest.mark.parametrize(
    ("path", "accept"), [("/counted", "text/event-stream"), ("/counted-chunks", "*/*")]
)
def test_streamed_bytes_are_counted_in_the_metrics(
    gateway: Gateway, path: str, accept: str
) -> None:
    connection, response = open_stream(gateway, path, accept=accept)
    body, ended = read_all(response)
    connection.close()
    assert ended
    line = f'kernel_gateway_response_bytes_total{{app="/",endpoint="{path}"}} {float(len(body))}'
    wait_until(lambda: line in gateway.request("GET", "/metrics")[2].decode(), "the count")


# -- request_timeout mid stream ------------------------------------------------------------


@pytest.fixture(scope="module")
def timed(module_gateway_factory: GatewayFactory, notebook: Path) -> Gateway:
    return module_gateway_factory(
        "--api=notebook-http",
        f"--seed_uri={notebook}",
        "--NotebookHTTPPersonality.request_timeout=1",
        ready_path="/pid",
    )


def test_timeout_mid_event_stream_ends_with_an_error_event(timed: Gateway) -> None:
    connection, response = open_stream(timed, "/forever")
    seen = [item for item in events(response) if item[0] != ":"]
    assert seen[0] == ("stdout", "tick\n")
    assert seen[-1] == (
        "error",
        {"ename": "CellTimeout", "evalue": "The request took longer than 1.0 seconds"},
    )
    assert {name for name, _ in seen[:-1]} == {"stdout"}  # no end event
    connection.close()
    wait_until(lambda: timed.request("GET", "/pid")[0] == 200, "the kernel's return")


def test_timeout_mid_chunked_stream_closes_without_the_last_chunk(timed: Gateway) -> None:
    connection, response = open_stream(timed, "/ticks", accept="*/*")
    body, ended = read_all(response)
    assert body.startswith(b"tick\n")
    assert not ended
    connection.close()
    wait_until(lambda: timed.request("GET", "/pid")[0] == 200, "the kernel's return")
