"""Logging rules: what each level means, text or JSON lines, one structured line per unit of work.

DEBUG: internals for developers. INFO: a unit of work started or ended, the
scheduler started or stopped. WARNING: something was skipped or retried
(a missed schedule, a deferred recipient). ERROR: a unit failed.

Messages and fields carry data (campaign ids and names, SMTP replies): the
text formats show their control characters as escapes, so that a line stays
one line and never commands the terminal that tails the log; JSON escapes
them too.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from reporter.formatting import printable

UNIT_FIELDS = ("job", "campaign", "period", "status", "attempt", "render_s", "deliver_s", "error")
# json.dumps escapes the C0 controls; with ensure_ascii=False it leaves C1 controls, bidi overrides and line
# separators raw. Outside strings JSON has none of them, so \u escapes are safe (and decode to the same text).
_JSON_ESCAPES = {
    cp: f"\\u{cp:04x}" for cp in (*range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029)
}


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
        return json.dumps(data, ensure_ascii=False, default=str).translate(_JSON_ESCAPES)


class TextFormatter(logging.Formatter):
    """One readable line: time, level, message and the record's structured fields as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", {})
        extra = " ".join(f"{k}={printable(str(v))}" for k, v in fields.items() if v not in (None, ""))
        line = f"{self.formatTime(record, '%Y-%m-%d %H:%M:%S')} {record.levelname:<7} {printable(record.getMessage())}"
        return f"{line} {extra}" if extra else line


class PlainFormatter(logging.Formatter):
    """A %-style format (the CLI's logging before a command configures its own), with data escaped."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # logging's name
        return printable(super().formatMessage(record))


def configure_default(debug: bool) -> None:
    """Warnings (or everything, with --debug) on stderr as `LEVEL logger: message`, unless logging is set up already."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(PlainFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, handlers=[handler])


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
