"""The shared connection to a real kernel: reply routing and iopub broadcast."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, cast

import pytest
import zmq
from kernel_helpers import fill_queue, running_manager, wait_for

from kernel_gateway.errors import KernelQueueFull
from kernel_gateway.services.kernels.messages import KernelMessage

# -- a real kernel ---------------------------------------------------------------------------


async def test_connection_routes_replies_and_broadcasts_iopub() -> None:
    async with running_manager() as manager:
        kernel_id = await manager.start_kernel()
        connection = manager.connection(kernel_id)

        assert connection.is_open
        assert connection.kernel_id == kernel_id
        await wait_for(lambda: connection.execution_state == "idle", 5, "idle after kernel_info")
        assert connection.kernel_info["status"] == "ok"
        assert connection.kernel_info["language_info"]["name"] == "python"

        broadcast: list[KernelMessage] = []
        routed: list[KernelMessage] = []
        done = asyncio.get_running_loop().create_future()

        def receive(message: KernelMessage) -> None:
            routed.append(message)
            kinds = {m.msg_type for m in routed}
            idle = any(
                m.msg_type == "status" and m.content["execution_state"] == "idle" for m in routed
            )
            if "execute_reply" in kinds and idle and not done.done():
                done.set_result(None)

        unsubscribe = connection.subscribe(broadcast.append)
        msg_id = connection.request(
            "shell", "execute_request", {"code": "print('hi')", "silent": False}, receive
        )
        await asyncio.wait_for(done, 10)
        unsubscribe()
        connection.forget(msg_id)

        assert {m.parent_msg_id for m in routed} == {msg_id}
        assert {(m.channel, m.msg_type) for m in routed} >= {
            ("shell", "execute_reply"),
            ("iopub", "status"),
            ("iopub", "execute_input"),
            ("iopub", "stream"),
        }
        mine = [m for m in broadcast if m.parent_msg_id == msg_id]
        assert [m.msg_type for m in mine if m.msg_type == "status"] == ["status", "status"]
        assert [m.content["execution_state"] for m in mine if m.msg_type == "status"] == [
            "busy",
            "idle",
        ]
        assert all(m.channel == "iopub" for m in broadcast)

        seen_after = len(broadcast), len(routed)
        connection.request("shell", "execute_request", {"code": "1", "silent": False})
        await connection.wait_ready(10)
        assert (len(broadcast), len(routed)) == seen_after


async def test_sending_to_a_kernel_that_stopped_reading_raises_instead_of_blocking() -> None:
    async with running_manager() as manager:
        connection = manager.connection(await manager.start_kernel())

        sent = await asyncio.wait_for(fill_queue(connection), 30)

        assert sent > 100
        with pytest.raises(KernelQueueFull, match=r"is not reading messages this fast"):
            connection.request("shell", "execute_request", {"code": "1"}, lambda message: None)
        assert connection._routes == {}  # nothing routed for a request that never went out


def connect_after_handshake(original: Callable[..., Any]) -> Callable[..., Any]:
    """`zmq.Socket.connect` that returns only once a DEALER's handshake with the peer is done.

    ZMQ_IMMEDIATE makes a DEALER writable only over completed (handshaken) connections, so
    polling for POLLOUT (with a deadline) waits for the handshake: the worst case of a kernel
    that is already listening, as remote kernels usually are.
    """

    def connect(socket: zmq.Socket, address: str) -> Any:
        if socket.type != zmq.DEALER:
            return original(socket, address)
        socket.setsockopt(zmq.IMMEDIATE, 1)
        result = original(socket, address)
        deadline = time.monotonic() + 10
        while not cast(int, socket.get(zmq.EVENTS)) & zmq.POLLOUT:
            assert time.monotonic() < deadline, f"no handshake with {address}"
            time.sleep(0.001)
        return result

    return connect


async def test_a_kernel_that_shakes_hands_before_open_returns_still_connects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The handshake monitors must exist before the sockets connect: an event they miss never
    comes again, and the kernel would never count as connected."""
    async with running_manager() as manager:
        connection = manager.connection(await manager.start_kernel())
        connection.close()
        with monkeypatch.context() as patch:
            patch.setattr(zmq.Socket, "connect", connect_after_handshake(zmq.Socket.connect))
            connection.open()
        kernel_info = await connection.wait_ready(10)
        assert kernel_info["status"] == "ok"
