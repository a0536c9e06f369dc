"""Signed deploy requests: HMAC-SHA256 over timestamp, method, path and body, used once.

    X-KG-Timestamp: <unix seconds>
    X-KG-Signature: sha256=<hex HMAC-SHA256(key, "<timestamp>\\n<METHOD>\\n<path>\\n" + body)>

`path` is the request path with its query, as sent. A signature older than the ttl, further
than the ttl in the future, already used, or wrong is refused. Signatures are compared in
constant time and never logged. Used ones are remembered (as hashes) in a journal file too,
so a restarted gateway still refuses them until they expire.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import time
from pathlib import Path

from ...errors import Unauthorized

TIMESTAMP_HEADER = "X-KG-Timestamp"
SIGNATURE_HEADER = "X-KG-Signature"


def sign(key: bytes, timestamp: str, method: str, path: str, body: bytes) -> str:
    """The X-KG-Signature value of a request."""
    message = f"{timestamp}\n{method.upper()}\n{path}\n".encode() + body
    return "sha256=" + hmac.new(key, message, hashlib.sha256).hexdigest()


class SignatureChecker:
    """Checks deploy signatures made with one key and remembers those used."""

    def __init__(self, key: str, ttl: float, journal: Path | None = None) -> None:
        self.key = key.encode()
        self.ttl = ttl
        self.journal = journal
        self._used: dict[str, float] = {}  # signature hash -> when it stops being accepted
        if journal is not None:
            self._used = read_journal(journal, time.time())

    def verify(
        self,
        timestamp: str | None,
        signature: str | None,
        method: str,
        path: str,
        body: bytes,
        now: float | None = None,
    ) -> None:
        """Accept a signed request once; Unauthorized saying what is wrong otherwise."""
        now = time.time() if now is None else now
        if not timestamp or not signature:
            raise Unauthorized(
                f"A signed deploy needs {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} headers"
            )
        try:
            signed_at = int(timestamp)
        except ValueError:
            raise Unauthorized(f"{TIMESTAMP_HEADER} must be Unix seconds") from None
        if signed_at < now - self.ttl:
            raise Unauthorized(f"The signature is older than {self.ttl:g} seconds")
        if signed_at > now + self.ttl:
            raise Unauthorized(f"The signature is from more than {self.ttl:g} seconds ahead")
        expected = sign(self.key, timestamp, method, path, body)
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            raise Unauthorized("The signature does not match the request")
        self._forget_expired(now)
        used = hashlib.sha256(expected.encode()).hexdigest()
        if used in self._used:
            raise Unauthorized("The signature was already used")
        self._used[used] = signed_at + self.ttl
        if self.journal is not None:
            with self.journal.open("a") as journal:
                journal.write(f"{signed_at + self.ttl:.0f} {used}\n")

    def _forget_expired(self, now: float) -> None:
        for used, until in list(self._used.items()):
            if until < now:
                del self._used[used]


def read_journal(path: Path, now: float) -> dict[str, float]:
    """The unexpired entries of a journal of used signatures, which is rewritten with only
    those (atomically)."""
    used: dict[str, float] = {}
    with contextlib.suppress(FileNotFoundError):
        for line in path.read_text().splitlines():
            until, _, digest = line.partition(" ")
            if until.isdigit() and digest and float(until) >= now:
                used[digest] = float(until)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text("".join(f"{until:.0f} {digest}\n" for digest, until in used.items()))
    os.replace(temporary, path)
    return used
