"""CurveZMQ on the ZeroMQ connections between the gateway and its kernels.

jupyter_client provisions the keys (`KernelManager.transport_encryption`): for a kernel whose
spec declares `supported_encryption: ["curve"]` it writes the kernel's Curve key pair into the
connection info, and the kernel serves every channel as a Curve server. The gateway's own
sockets (connection.py) are then Curve clients: each connection makes a key pair of its own and
authenticates the kernel by the public key found in the connection info. Nothing here assumes
a local kernel: whatever provisioner launched it, the connection info it returns decides.

Policies, as jupyter_client names them: `disabled` (plain everywhere), `auto` (encrypt where the
kernel supports it), `required` (refuse to start a kernel that can't encrypt).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import zmq

from ...errors import KernelStartFailed

POLICIES = ("disabled", "auto", "required")
CURVE = "curve"


@dataclass(frozen=True)
class CurveKeys:
    """A client's Curve key pair and the kernel's public key it authenticates (all Z85)."""

    server_key: bytes
    public_key: bytes
    secret_key: bytes


def client_keys(info: Mapping[str, Any]) -> CurveKeys | None:
    """New client keys for a kernel whose connection info carries a Curve public key; None
    when the kernel talks plain ZeroMQ."""
    server_key = info.get("curve_publickey")
    if not server_key:
        return None
    public_key, secret_key = zmq.curve_keypair()
    raw = server_key.encode("ascii") if isinstance(server_key, str) else bytes(server_key)
    return CurveKeys(server_key=raw, public_key=public_key, secret_key=secret_key)


def secure(socket: zmq.Socket, keys: CurveKeys | None) -> None:
    """Make `socket` a Curve client of the kernel (before it connects); no-op when plain."""
    if keys is None:
        return
    socket.curve_serverkey = keys.server_key
    socket.curve_publickey = keys.public_key
    socket.curve_secretkey = keys.secret_key


def supports_curve(metadata: Mapping[str, Any] | None) -> bool:
    """Whether a kernelspec's metadata declares Curve among its supported encryptions."""
    declared = (metadata or {}).get("supported_encryption")
    if isinstance(declared, str):
        declared = [declared]
    if not isinstance(declared, Iterable):
        return False
    return CURVE in {str(item).strip().lower() for item in declared}


def check_supported(policy: str, kernel_name: str, metadata: Mapping[str, Any] | None) -> None:
    """Raise KernelStartFailed when `policy` is required and the kernel can't do Curve."""
    if policy == "required" and not supports_curve(metadata):
        raise KernelStartFailed(
            f"Kernel {kernel_name!r} can't encrypt its connections (its kernelspec's "
            "metadata.supported_encryption does not list 'curve') and transport_encryption "
            "is 'required' (KG_TRANSPORT_ENCRYPTION): use a kernel that supports CurveZMQ, "
            "or set it to 'auto'"
        )


def check_provisioned(policy: str, kernel_name: str, info: Mapping[str, Any]) -> None:
    """Raise KernelStartFailed when `policy` is required and a launched kernel's connection
    info carries no Curve key: its provisioner (a remote one, say) didn't provide them."""
    if policy == "required" and not info.get("curve_publickey"):
        raise KernelStartFailed(
            f"Kernel {kernel_name!r} was launched without Curve keys (its provisioner doesn't "
            "provide them) and transport_encryption is 'required' (KG_TRANSPORT_ENCRYPTION)"
        )


def describe_transport(encrypted: bool, policy: str) -> str:
    """How a kernel's ZeroMQ traffic travels, for its start-up log line."""
    if encrypted:
        return "ZeroMQ traffic encrypted (CurveZMQ)"
    if policy == "disabled":
        return "ZeroMQ traffic in plain text (transport_encryption is disabled)"
    return (
        "ZeroMQ traffic in plain text (its kernelspec does not declare "
        "supported_encryption ['curve'])"
    )
