"""A small kernel websocket client for the tests, built on jupyter_server's own codecs.

Frames are encoded and decoded with jupyter_server's functions (not ours), so the tests also
check that the gateway speaks the same wire formats as a Jupyter server.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from jupyter_server.services.kernels.connection.base import (
    deserialize_binary_message,
    deserialize_msg_from_ws_v1,
    serialize_msg_to_ws_v1,
)
from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

V1 = "v1.kernel.websocket.jupyter.org"
TIMEOUT = 30.0


def make_message(msg_type: str, content: dict[str, Any], session: str) -> dict[str, Any]:
    header = {
        "msg_id": uuid.uuid4().hex,
        "msg_type": msg_type,
        "session": session,
        "username": "test",
        "date": "2024-01-01T00:00:00.000000Z",
        "version": "5.3",
    }
    return {"header": header, "parent_header": {}, "metadata": {}, "content": content}


class KernelSocket:
    """One websocket to a kernel, in either wire format."""

    def __init__(self, conn: WebSocketClientConnection, v1: bool, session: str) -> None:
        self.conn = conn
        self.v1 = v1
        self.session = session
        self.backlog: list[dict[str, Any]] = []

    @classmethod
    async def open(
        cls,
        ws_url: str,
        kernel_id: str,
        *,
        v1: bool = False,
        session_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> KernelSocket:
        session = uuid.uuid4().hex if session_id is None else session_id  # "": name none
        url = f"{ws_url}/api/kernels/{kernel_id}/channels"
        url += f"?session_id={session}" if session else ""
        request = HTTPRequest(url, headers=headers or {})
        conn = await websocket_connect(request, subprotocols=[V1] if v1 else None)
        assert conn.selected_subprotocol == (V1 if v1 else None)
        return cls(conn, v1, session)

    async def send(self, channel: str, msg_type: str, content: dict[str, Any]) -> str:
        """Send a request; return its msg_id."""
        msg = make_message(msg_type, content, self.session)
        await self.send_raw(channel, msg)
        return str(msg["header"]["msg_id"])

    async def send_raw(self, channel: str, msg: dict[str, Any]) -> None:
        if self.v1:
            packed = [json.dumps(msg[key]).encode() for key in ("header", "parent_header")]
            packed += [json.dumps(msg[key]).encode() for key in ("metadata", "content")]
            await self.conn.write_message(serialize_msg_to_ws_v1(packed, channel), binary=True)
        else:
            await self.conn.write_message(json.dumps({**msg, "channel": channel}))

    async def receive(self, timeout: float = TIMEOUT) -> dict[str, Any] | None:
        """The next message as a dict with `channel`; None once the socket closed."""
        frame = await asyncio.wait_for(self.conn.read_message(), timeout)
        if frame is None:
            return None
        if self.v1:
            assert isinstance(frame, bytes)
            channel, parts = deserialize_msg_from_ws_v1(frame)
            keys = ("header", "parent_header", "metadata", "content")
            msg = {key: json.loads(part) for key, part in zip(keys, parts[:4], strict=True)}
            return {**msg, "channel": channel, "buffers": parts[4:]}
        if isinstance(frame, bytes):
            return dict(deserialize_binary_message(frame))
        return dict(json.loads(frame))

    async def wait_for(self, msg_type: str, parent: str | None = None) -> dict[str, Any]:
        """Skip ahead to the next message of `msg_type` (answering `parent`, if given)."""
        while True:
            msg = await self.receive()
            assert msg is not None, "websocket closed"
            if msg["header"]["msg_type"] == msg_type and (
                parent is None or msg["parent_header"].get("msg_id") == parent
            ):
                return msg
            self.backlog.append(msg)

    async def replies_to(self, msg_id: str, reply_type: str | None) -> list[dict[str, Any]]:
        """Every message answering `msg_id` until its reply (if any) and the idle status."""
        got: list[dict[str, Any]] = []
        reply, idle = reply_type is None, False
        while not (reply and idle):
            msg = await self.receive()
            assert msg is not None, "websocket closed"
            if msg["parent_header"].get("msg_id") != msg_id:
                self.backlog.append(msg)
                continue
            got.append(msg)
            reply = reply or msg["header"]["msg_type"] == reply_type
            idle = idle or msg["content"].get("execution_state") == "idle"
        return got

    async def execute(self, code: str, **content: Any) -> list[dict[str, Any]]:
        """Run `code`; return the messages it caused, through execute_reply and idle."""
        msg_id = await self.send("shell", "execute_request", {"code": code, **content})
        return await self.replies_to(msg_id, "execute_reply")

    async def close(self) -> None:
        """Close and wait until the server has closed too (no socket left behind)."""
        closed = self.conn.close_code is not None
        self.conn.close()
        while not closed and await asyncio.wait_for(self.conn.read_message(), TIMEOUT) is not None:
            pass


def of_type(messages: list[dict[str, Any]], msg_type: str) -> list[dict[str, Any]]:
    return [msg for msg in messages if msg["header"]["msg_type"] == msg_type]


def stdout(messages: list[dict[str, Any]]) -> str:
    return "".join(m["content"]["text"] for m in of_type(messages, "stream"))
