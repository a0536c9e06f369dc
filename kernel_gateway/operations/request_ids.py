"""Request ids: the client's `X-Request-Id` when it is sane, else a new one; on every response
and on every log line written while the request is handled, so one grep follows a request."""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

HEADER = "X-Request-Id"
SANE = re.compile(r"[A-Za-z0-9._-]{1,128}")
current_request_id: ContextVar[str] = ContextVar("current_request_id", default="")


def request_id(client_value: str | None) -> str:
    """The client's id if it is at most 128 characters of `[A-Za-z0-9._-]`, else a new one."""
    if client_value and SANE.fullmatch(client_value):
        return client_value
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Puts the id of the request being handled (if any) on each record, as `request_id`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            current = current_request_id.get()
            if current:
                record.request_id = current
        return True
