"""CurveZMQ between the gateway and its kernels: the pure rules, then real ipykernel kernels
that a plain ZeroMQ client can neither read nor drive."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from pathlib import Path
from typing import Any

import pytest
import zmq
from kernel_helpers import IPYKERNEL_ARGV, evaluate, run, running_manager, spec_manager_with
from zmq.utils.monitor import recv_monitor_message

from kernel_gateway.errors import KernelStartFailed
from kernel_gateway.services.kernels.encryption import (
    CurveKeys,
    check_provisioned,
    check_supported,
    client_keys,
    describe_transport,
    secure,
    supports_curve,
)
from kernel_gateway.services.kernels.manager import MappingKernelManager

HANDSHAKE_EVENTS = (
    zmq.EVENT_HANDSHAKE_SUCCEEDED
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)
MONITORS: dict[zmq.Socket, zmq.Socket] = {}  # an outsider socket -> its handshake monitor
PLAIN = "plainkernel"  # an ipykernel whose spec declares no supported_encryption


# -- pure rules --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "supported"),
    [
        ({"supported_encryption": ["curve"]}, True),
        ({"supported_encryption": [" Curve "]}, True),
        ({"supported_encryption": "curve"}, True),
        ({"supported_encryption": ["tls"]}, False),
        ({"supported_encryption": 1}, False),
        ({}, False),
        (None, False),
    ],
)
def test_supports_curve_reads_the_kernelspec_metadata(metadata: Any, supported: bool) -> None:
    assert supports_curve(metadata) is supported


def test_required_refuses_a_kernel_without_curve_and_names_the_way_out() -> None:
    with pytest.raises(KernelStartFailed) as caught:
        check_supported("required", "r", {"debugger": False})
    assert caught.value.message == (
        "Kernel 'r' can't encrypt its connections (its kernelspec's "
        "metadata.supported_encryption does not list 'curve') and transport_encryption is "
        "'required' (KG_TRANSPORT_ENCRYPTION): use a kernel that supports CurveZMQ, or set "
        "it to 'auto'"
    )
    for policy in ("auto", "disabled"):
        check_supported(policy, "r", {})  # raises nothing
    check_supported("required", "python3", {"supported_encryption": ["curve"]})


def test_required_refuses_a_kernel_launched_without_keys_whoever_launched_it() -> None:
    with pytest.raises(KernelStartFailed) as caught:
        check_provisioned("required", "remote", {"ip": "10.0.0.7", "shell_port": 5000})
    assert caught.value.message == (
        "Kernel 'remote' was launched without Curve keys (its provisioner doesn't provide "
        "them) and transport_encryption is 'required' (KG_TRANSPORT_ENCRYPTION)"
    )
    check_provisioned("auto", "remote", {"ip": "10.0.0.7"})  # raises nothing
    check_provisioned("required", "remote", {"curve_publickey": "x" * 40})


def test_client_keys_are_new_per_connection_and_authenticate_the_kernel() -> None:
    server_public, _ = zmq.curve_keypair()
    first = client_keys({"curve_publickey": server_public.decode()})
    second = client_keys({"curve_publickey": server_public})
    assert first is not None
    assert second is not None
    assert (first.server_key, second.server_key) == (server_public, server_public)
    assert first.public_key != second.public_key
    assert client_keys({"shell_port": 1}) is None
    assert client_keys({"curve_publickey": None}) is None


def test_the_start_up_line_says_how_the_traffic_travels() -> None:
    assert [
        describe_transport(True, "auto"),
        describe_transport(False, "auto"),
        describe_transport(False, "disabled"),
    ] == [
        "ZeroMQ traffic encrypted (CurveZMQ)",
        "ZeroMQ traffic in plain text (its kernelspec does not declare "
        "supported_encryption ['curve'])",
        "ZeroMQ traffic in plain text (transport_encryption is disabled)",
    ]


# -- real kernels ------------------------------------------------------------------------------


def outsider(kind: int, info: dict[str, Any], channel: str, keys: CurveKeys | None) -> zmq.Socket:
    """A ZeroMQ client of our own on a kernel's channel: plain, or Curve with `keys`."""
    socket: zmq.Socket = zmq.Context.instance().socket(kind)
    socket.linger = 0
    if kind == zmq.SUB:
        socket.setsockopt(zmq.SUBSCRIBE, b"")
    secure(socket, keys)
    MONITORS[socket] = socket.get_monitor_socket(HANDSHAKE_EVENTS)
    socket.connect(f"tcp://{info['ip']}:{info[f'{channel}_port']}")
    return socket


async def handshake(socket: zmq.Socket, timeout: float = 20.0) -> int:
    """The first handshake event of `socket` (succeeded, or one of the failures)."""
    monitor = MONITORS[socket]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return int(recv_monitor_message(monitor, zmq.NOBLOCK)["event"])
        except zmq.Again:
            await asyncio.sleep(0.02)
    raise AssertionError(f"no handshake event within {timeout}s")


def received(socket: zmq.Socket) -> list[list[bytes]]:
    """Every message waiting on `socket` now."""
    messages = []
    while True:
        try:
            messages.append(socket.recv_multipart(zmq.NOBLOCK))
        except zmq.Again:
            return messages


def close(*sockets: zmq.Socket) -> None:
    for socket in sockets:
        socket.disable_monitor()
        MONITORS.pop(socket).close(linger=0)
        socket.close(linger=0)


async def test_ipykernel_connections_are_encrypted_by_default() -> None:
    async with running_manager() as manager:
        assert manager.transport_encryption == "auto"
        kernel_id = await manager.start_kernel()
        connection = manager.connection(kernel_id)
        info = manager.get_kernel(kernel_id).get_connection_info()
        assert (connection.encrypted, bool(info.get("curve_publickey"))) == (True, True)
        assert (await run(connection, "print(6 * 7)")).stdout == "42\n"


async def test_a_plain_client_reads_nothing_from_iopub_where_a_curve_client_reads() -> None:
    async with running_manager() as manager:
        kernel_id = await manager.start_kernel()
        connection = manager.connection(kernel_id)
        info = manager.get_kernel(kernel_id).get_connection_info()
        plain = outsider(zmq.SUB, info, "iopub", None)
        curve = outsider(zmq.SUB, info, "iopub", client_keys(info))
        try:
            assert await handshake(curve) == zmq.EVENT_HANDSHAKE_SUCCEEDED
            assert await handshake(plain) != zmq.EVENT_HANDSHAKE_SUCCEEDED
            heard: list[list[bytes]] = []
            deadline = time.monotonic() + 20
            while not any(b"secret output" in b"".join(m) for m in heard):
                assert time.monotonic() < deadline, "the Curve client never heard the output"
                await run(connection, "print('secret output')")
                await asyncio.sleep(0.05)
                heard += received(curve)
            assert received(plain) == []
        finally:
            close(plain, curve)


async def test_a_plain_client_cannot_execute_on_shell(tmp_path: Path) -> None:
    async with running_manager() as manager:
        kernel_id = await manager.start_kernel()
        km = manager.get_kernel(kernel_id)
        info = km.get_connection_info()
        plain = outsider(zmq.DEALER, info, "shell", None)
        curve = outsider(zmq.DEALER, info, "shell", client_keys(info))
        markers = {name: tmp_path / name for name in ("plain", "curve")}
        try:
            for name, socket in (("plain", plain), ("curve", curve)):
                code = f"open({str(markers[name])!r}, 'w').close()"
                km.session.send(socket, "execute_request", {"code": code, "silent": False})
            assert await handshake(plain) != zmq.EVENT_HANDSHAKE_SUCCEEDED
            reply: list[list[bytes]] = []
            deadline = time.monotonic() + 20
            while not reply:  # the Curve client's request ran once its reply is back
                assert time.monotonic() < deadline, "the Curve client got no execute_reply"
                await asyncio.sleep(0.02)
                reply = received(curve)
            exists = f"[__import__('os').path.exists(p) for p in {[str(markers['plain'])]!r}]"
            assert await evaluate(manager.connection(kernel_id), exists) == [False]
            assert (markers["curve"].exists(), received(plain)) == (True, [])
        finally:
            close(plain, curve)


def plain_kernel_specs(root: Path) -> Any:
    """The usual kernel specs plus PLAIN, an ipykernel whose spec declares no encryption."""
    return spec_manager_with(root, PLAIN, IPYKERNEL_ARGV)


async def test_auto_runs_a_kernel_without_curve_plain_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_manager(plain_kernel_specs(tmp_path)) as manager:
        with caplog.at_level(logging.INFO, logger=manager.log.name):
            kernel_id = await manager.start_kernel(PLAIN)
        connection = manager.connection(kernel_id)
        assert connection.encrypted is False
        assert (await run(connection, "print('plain')")).stdout == "plain\n"
        said = [r.getMessage() for r in caplog.records if "ZeroMQ traffic" in r.getMessage()]
        assert [re.sub(r"in \d+ ms", "in N ms", line) for line in said] == [
            f"Kernel {PLAIN} {kernel_id} started in N ms; ZeroMQ traffic in plain text (its "
            "kernelspec does not declare supported_encryption ['curve'])"
        ]


async def test_required_refuses_a_kernel_without_curve(tmp_path: Path) -> None:
    options = {"transport_encryption": "required"}
    async with running_manager(plain_kernel_specs(tmp_path), options) as manager:
        with pytest.raises(KernelStartFailed, match=r"can't encrypt its connections"):
            await manager.start_kernel(PLAIN)
        assert manager.kernel_ids() == []
        kernel_id = await manager.start_kernel("python3")
        assert manager.connection(kernel_id).encrypted is True


async def test_disabled_keeps_connections_plain() -> None:
    async with running_manager(options={"transport_encryption": "disabled"}) as manager:
        kernel_id = await manager.start_kernel()
        info = manager.get_kernel(kernel_id).get_connection_info()
        assert (manager.connection(kernel_id).encrypted, "curve_publickey" in info) == (
            False,
            False,
        )


async def test_a_restarted_kernel_is_encrypted_again() -> None:
    async with running_manager() as manager:
        kernel_id = await manager.start_kernel()
        await manager.restart_kernel(kernel_id)
        connection = manager.connection(kernel_id)
        assert connection.encrypted is True
        assert (await run(connection, "print('again')")).stdout == "again\n"


def test_the_option_is_read_from_its_variable() -> None:
    trait = MappingKernelManager.class_traits()["transport_encryption"]
    assert (trait.default_value, trait.metadata["env"]) == ("auto", "KG_TRANSPORT_ENCRYPTION")
    assert json.dumps(list(trait.values)) == '["disabled", "auto", "required"]'
