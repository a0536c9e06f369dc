"""Peak memory of the gateway while a real kernel prints 50 MB: buffered, and streamed.

Each case resets the gateway's peak RSS (VmHWM) to its current RSS first, then reads the
peak after the whole answer is in. The bound for a buffered answer is the issue's: the body
once over, and 20 MB.
"""

from __future__ import annotations

import pytest
from conftest import Gateway, GatewayFactory, write_notebook
from streaming_client import memory, open_stream, read_all, reset_peak

MiB = 1 << 20
BODY = 50 * MiB
CELLS = (
    "line = 'x' * 1023",
    "# GET /lines\nfor _ in range(50 * 1024):\n    print(line)",
    f"# GET /one-print\nprint('x' * {BODY}, end='')",
)


@pytest.fixture(scope="module")
def gateway(
    module_gateway_factory: GatewayFactory, tmp_path_factory: pytest.TempPathFactory
) -> Gateway:
    notebook = write_notebook(tmp_path_factory.mktemp("flood") / "flood.ipynb", *CELLS)
    return module_gateway_factory(
        "--api=notebook-http",
        f"--seed_uri={notebook}",
        f"--NotebookHTTPPersonality.stream_buffer_size={64 * MiB}",
        ready_path="/api",
    )


def peak_growth(gateway: Gateway, path: str, accept: str) -> tuple[int, int]:
    """(bytes of the body, growth of the gateway's peak RSS) of one request."""
    pid = gateway.process.pid
    reset_peak(pid)
    before = memory(pid)["VmRSS"]
    connection, response = open_stream(gateway, path, accept=accept)
    assert response.status == 200
    body, ended = read_all(response)
    connection.close()
    assert ended
    growth = memory(pid)["VmHWM"] - before
    print(f"{path} ({accept}): {len(body) / MiB:.1f} MB, peak RSS growth {growth / MiB:.1f} MB")
    return len(body), growth


def test_a_50_mb_buffered_answer_costs_the_body_once_over(gateway: Gateway) -> None:
    size, growth = peak_growth(gateway, "/lines", "*/*")
    assert size == BODY
    assert growth <= 1.5 * BODY + 20 * MiB


def test_a_50_mb_print_costs_the_body_once_over(gateway: Gateway) -> None:
    """On the fast path the kernel sends a buffered answer's long print in slices of about
    1 MiB, so the gateway never holds the whole of it twice (a raw message and the body)."""
    size, growth = peak_growth(gateway, "/one-print", "*/*")
    assert size == BODY
    assert growth <= 1.5 * BODY + 20 * MiB


@pytest.mark.parametrize("path", ["/lines", "/one-print"])
def test_a_50_mb_event_stream_holds_what_the_kernel_sent_at_once(
    gateway: Gateway, path: str
) -> None:
    size, growth = peak_growth(gateway, path, "text/event-stream")
    assert size > BODY
    assert growth <= 2.5 * BODY + 20 * MiB
