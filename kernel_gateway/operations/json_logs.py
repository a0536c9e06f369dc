"""`log_format=json`: one JSON object per line on stderr, through python-json-logger.

Every record has `ts` (ISO 8601, UTC), `level`, `logger` and `message`, plus `request_id`
while a request is handled; access lines add their entry's fields (`method`, `path` with the
token masked, `status`, `duration_ms`, `request_id`, `kernel_id`, `app`, `endpoint`). The
app's own logger and every other logger (tornado's, the gateway modules') write through the
same handler.
"""

from __future__ import annotations

import logging
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from .request_ids import RequestIdFilter

FIELDS = "%(levelname)s %(name)s %(message)s"
RENAMED = {"levelname": "level", "name": "logger"}


class GatewayJsonFormatter(JsonFormatter):
    """python-json-logger's formatter, with an access line's entry (`record.access`, see
    access_log.py) written as its own fields."""

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        entry = log_data.pop("access", None)
        if entry is not None:
            log_data.update(entry.fields())


def json_formatter() -> JsonFormatter:
    """The formatter of every JSON log line."""
    return GatewayJsonFormatter(FIELDS, rename_fields=RENAMED, timestamp="ts")


def json_logging_config(app_logger: str, level: int | str) -> dict[str, Any]:
    """A `logging.config.dictConfig` for JSON lines: the app's logger and the root logger
    write to stderr through one handler with the request-id filter."""
    return {
        "version": 1,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"json": {"()": json_formatter}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["request_id"],
                "level": level,
                "stream": "ext://sys.stderr",
            },
        },
        "loggers": {app_logger: {"level": "DEBUG", "handlers": ["console"], "propagate": False}},
        "root": {"level": level, "handlers": ["console"]},
        "disable_existing_loggers": False,
    }
