"""Logging rules: what each level means, text or JSON lines, one structured line per unit of work.

DEBUG: internals for developers. INFO: a unit of work started or ended, the
scheduler started or stopped. WARNING: something was skipped or retried
(a missed schedule, a deferred recipient). ERROR: a unit failed.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

UNIT_FIELDS = ("job", "campaign", "period", "status", "attempt", "render_s", "deliver_s", "error")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update(getattr(record, "fields", {}))
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", {})
        extra = " ".join(f"{k}={v}" for k, v in fields.items() if v not in (None, ""))
        line = f"{self.formatTime(record, '%Y-%m-%d %H:%M:%S')} {record.levelname:<7} {record.getMessage()}"
        return f"{line} {extra}" if extra else line


def configure(fmt: str = "text", level: str = "info") -> None:
    """Install the reporter's handler on the root logger (stderr)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("apscheduler").setLevel(max(root.level, logging.WARNING) if level != "debug" else logging.DEBUG)
    for noisy in ("alembic", "sqlalchemy", "uvicorn.error", "multipart"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if level == "debug" else logging.WARNING)
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)


def log_unit(logger: logging.Logger, fields: dict[str, Any]) -> None:
    """The one line per unit of work."""
    level = logging.ERROR if fields.get("status") == "failed" else logging.INFO
    ordered = {k: fields.get(k) for k in UNIT_FIELDS if k in fields}
    logger.log(level, "unit %s", fields.get("status"), extra={"fields": ordered})
