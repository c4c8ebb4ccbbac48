"""The log line of a unit of work, as text and as JSON."""

from __future__ import annotations

import io
import json
import logging

from reporter.logs import JsonFormatter, TextFormatter, log_unit


def capture(formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger(f"test.{type(formatter).__name__}")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger, stream


FIELDS = {
    "job": "daily",
    "campaign": "c1",
    "period": "2026-11-25",
    "status": "delivered",
    "attempt": 1,
    "render_s": 0.81,
    "deliver_s": 0.05,
}


def test_json_line_has_every_field() -> None:
    logger, stream = capture(JsonFormatter())
    log_unit(logger, FIELDS)
    line = json.loads(stream.getvalue())
    assert {k: line[k] for k in FIELDS} == FIELDS
    assert line["level"] == "info" and line["message"] == "unit delivered"


def test_text_line_is_readable_and_failures_are_errors() -> None:
    logger, stream = capture(TextFormatter())
    log_unit(logger, {**FIELDS, "status": "failed", "error": "SMTP 550"})
    text = stream.getvalue()
    assert "ERROR" in text and "unit failed job=daily campaign=c1 period=2026-11-25 status=failed" in text
    assert "error=SMTP 550" in text
