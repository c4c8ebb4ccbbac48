"""Control characters in data reach no terminal and no text log raw: they print as escapes (\\x1b, \\n, \\u202e)."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from reporter.logs import JsonFormatter, PlainFormatter, TextFormatter, log_unit

# What a terminal obeys: C0 and C1 controls (but the line ends), DEL, bidi embeddings, overrides and isolates.
RAW = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")

CAMPAIGN_ID = "evil\x1b[31m\nid\u202e"
NAME = "Sale\x1b[2J\x1b]0;pwned\x07 \u202eevil\rover\x9b"
VARIANT = "First\x85\x1b[5m end"
MARKUP_NAME = "Brackets [/] [bold]50%[/bold] :smile:"


def escaped(text: str) -> str:
    """The text as the reporter prints it (Python's escapes of the same characters)."""
    return RAW.sub(lambda m: ascii(m.group())[1:-1], text.replace("\n", "\\n"))


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("REPORTER_")}
    return subprocess.run(
        [sys.executable, "-m", "reporter", *args], cwd=cwd, capture_output=True, text=True, env=environ, timeout=300
    )


def assert_no_raw_controls(text: str) -> None:
    found = sorted({f"U+{ord(ch):04X}" for ch in RAW.findall(text)})
    assert not found, f"raw control characters in the output: {found}\n{text[:600]!r}"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A database with a campaign whose id, name and variant names carry escape sequences, and a few events."""
    path = tmp_path_factory.mktemp("escaping")
    campaigns = [
        {
            "campaign_id": CAMPAIGN_ID,
            "name": NAME,
            "type": "ab",
            "start_at": "2026-11-01T00:00:00Z",
            "variants": [
                {"variant": "A", "name": VARIANT, "split_pct": 50, "baseline": True},
                {"variant": "B", "name": "Second", "split_pct": 50},
            ],
        },
    ]
    (path / "campaigns.json").write_text(json.dumps(campaigns))
    events = [
        {
            "campaign_id": CAMPAIGN_ID,
            "variant": variant,
            "user_id": f"u{n}",
            "event": event,
            "ts": f"2026-11-02T10:0{n}:00Z",
        }
        for n, variant in enumerate("ABAB")
        for event in ("sent", "impression")
    ]
    (path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    for kind in ("campaigns", "events"):
        loaded = run(["load", kind, f"{kind}.json" if kind == "campaigns" else "events.jsonl"], path)
        assert loaded.returncode == 0, loaded.stderr
    (path / "reporter.yaml").write_text(
        f"archive:\n  root: {path / 'archive'}\nlogging:\n  format: text\n"
        "jobs:\n  - name: sales\n    schedule: daily 07:00\n    campaigns: {name: 'Sale*'}\n"
        "    period: campaign_lifetime\n    formats: [html]\n"
    )
    yield path


def test_campaign_list_escapes_names_and_ids(workdir: Path) -> None:
    result = run(["campaigns"], workdir)
    assert result.returncode == 0, result.stderr
    assert_no_raw_controls(result.stdout)
    assert escaped(CAMPAIGN_ID) in result.stdout and escaped(NAME) in result.stdout


def test_square_brackets_in_a_name_are_text(tmp_path: Path) -> None:
    """Rich markup in data is not markup: `[/]` used to stop `reporter campaigns` with a MarkupError."""
    record = {"campaign_id": "markup", "name": MARKUP_NAME, "type": "single", "start_at": "2026-11-01T00:00:00Z"}
    (tmp_path / "campaigns.json").write_text(json.dumps([record]))
    assert run(["load", "campaigns", "campaigns.json"], tmp_path).returncode == 0
    result = run(["campaigns"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert MARKUP_NAME in result.stdout


def test_stats_table_escapes_name_id_and_variants(workdir: Path) -> None:
    result = run(["stats", CAMPAIGN_ID], workdir)
    assert result.returncode == 0, result.stderr
    assert_no_raw_controls(result.stdout)
    assert f"{escaped(NAME)} ({escaped(CAMPAIGN_ID)}, ab)" in result.stdout
    assert f"A {escaped(VARIANT)}" in result.stdout


def test_stats_json_keeps_the_data_exact(workdir: Path) -> None:
    result = run(["stats", CAMPAIGN_ID, "--json"], workdir)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)  # the machine-readable output: data as it is, in JSON's own escaping
    assert doc["campaign"]["name"] == NAME and doc["campaign"]["id"] == CAMPAIGN_ID


def test_deliver_message_and_history_escape_the_id(workdir: Path) -> None:
    delivered = run(["--config", "reporter.yaml", "deliver", CAMPAIGN_ID, "--format", "html"], workdir)
    assert delivered.returncode == 0, delivered.stderr
    assert_no_raw_controls(delivered.stdout + delivered.stderr)
    assert f"adhoc / {escaped(CAMPAIGN_ID)} / " in delivered.stdout
    history = run(["--config", "reporter.yaml", "history"], workdir)
    assert history.returncode == 0, history.stderr
    assert_no_raw_controls(history.stdout)
    assert escaped(CAMPAIGN_ID) in history.stdout


def test_run_message_and_text_log_escape_the_id(workdir: Path) -> None:
    result = run(["--config", "reporter.yaml", "run", "sales", "--dry-run"], workdir)
    assert result.returncode == 0, result.stderr
    assert_no_raw_controls(result.stdout + result.stderr)
    assert f"sales / {escaped(CAMPAIGN_ID)} / " in result.stdout
    assert f"campaign={escaped(CAMPAIGN_ID)}" in result.stderr  # the unit's log line, one line


def test_report_html_has_no_code_point_html_forbids(workdir: Path) -> None:
    """The HTML report keeps the data's text (Jinja escapes markup) but shows controls as escapes: valid HTML."""
    result = run(["render", CAMPAIGN_ID, "--format", "html", "--out", "out"], workdir)
    assert result.returncode == 0, result.stderr
    page = (workdir / result.stdout.strip().splitlines()[-1]).read_bytes().decode("utf-8")
    forbidden = re.findall(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufdd0-\ufdef\ufffe\uffff]", page)
    assert forbidden == []
    assert "Sale\\x1b[2J\\x1b]0;pwned\\x07 \u202eevil\rover\\x9b" in page  # carriage return: whitespace in HTML
    assert "First\\x85\\x1b[5m end" in page


def test_error_line_escapes_what_it_quotes(tmp_path: Path) -> None:
    result = run(["--config", "missing\x1b[2J\n.yaml", "campaigns"], tmp_path)
    assert result.returncode == 2
    assert result.stderr == "error: --config: missing\\x1b[2J\\n.yaml: no such file\n"


def capture(formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger(f"test.escaping.{type(formatter).__name__}")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger, stream


@pytest.mark.parametrize("formatter", [TextFormatter(), PlainFormatter("%(levelname)s %(name)s: %(message)s")])
def test_text_log_line_is_one_escaped_line(formatter: logging.Formatter) -> None:
    logger, stream = capture(formatter)
    logger.warning("skipped %s", NAME)
    log_unit(logger, {"job": "daily", "campaign": CAMPAIGN_ID, "status": "failed", "error": f"SMTP 550 {VARIANT}"})
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert_no_raw_controls(stream.getvalue())
    assert f"skipped {escaped(NAME)}" in lines[0]
    if isinstance(formatter, TextFormatter):
        assert f"campaign={escaped(CAMPAIGN_ID)}" in lines[1] and f"error=SMTP 550 {escaped(VARIANT)}" in lines[1]


def test_json_log_line_escapes_every_control_and_decodes_to_the_data() -> None:
    logger, stream = capture(JsonFormatter())
    log_unit(logger, {"job": "daily", "campaign": CAMPAIGN_ID, "status": "failed", "error": NAME})
    text = stream.getvalue()
    assert text.count("\n") == 1
    assert_no_raw_controls(text)
    line = json.loads(text)
    assert line["campaign"] == CAMPAIGN_ID and line["error"] == NAME
