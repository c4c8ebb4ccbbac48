"""`reporter alert check` and `reporter alerts` on the demo data, telling a real SMTP server."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

from tests.delivery.conftest import SmtpServer, demo_url, smtp_server  # noqa: F401
from tests.jobs.test_run import cli


def config(tmp_path: Path, port: int, name: str = "errors") -> Path:
    path = tmp_path / "reporter.yaml"
    path.write_text(
        f"smtp:\n  host: 127.0.0.1\n  port: {port}\n  security: none\n  from: reports@acme.test\n  retries: 0\n"
        f"alerts:\n  - name: {name}\n    schedule: hourly\n    campaigns: [cart-reminder]\n    metric: error_rate\n"
        "    condition: {above: 3}\n    window: last_month\n    min_volume: 100\n    notify: [ops@acme.test]\n"
    )
    return path


def test_check_tells_once_and_lists_the_state(demo_url: str, smtp_server: SmtpServer, tmp_path: Path) -> None:
    path = config(tmp_path, smtp_server.port)
    base = ["--config", str(path), "--db", demo_url]
    dry = cli([*base, "alert", "check", "errors", "--dry-run"], tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("errors / cart-reminder: error_rate ") and "(dry run: not told)" in dry.stdout
    assert smtp_server.handler.received == []
    assert cli([*base, "alerts"], tmp_path).stdout == "no alert evaluated yet (configured rules: errors)\n"
    first = cli([*base, "alert", "check", "errors"], tmp_path)
    assert first.returncode == 0, first.stderr
    assert "breached: firing; firing notice" in first.stdout
    [mail] = smtp_server.handler.received
    assert mail.recipients == ["ops@acme.test"]
    assert mail.message["Subject"] == "reporter alert errors firing: cart-reminder"
    assert "error_rate" in mail.message.get_body(("plain",)).get_content()
    second = cli([*base, "alert", "check", "errors"], tmp_path)  # still firing: nothing more to tell
    assert "breached: firing\n" in second.stdout and len(smtp_server.handler.received) == 1
    listing = cli([*base, "alerts", "errors"], tmp_path)
    assert "errors  cart-reminder  —      firing" in listing.stdout
    unknown = cli([*base, "alerts", "nope"], tmp_path)
    assert (unknown.returncode, unknown.stderr) == (2, "error: unknown alert 'nope' (configured: errors)\n")


def test_the_scheduler_evaluates_each_rule_at_its_fire_times(
    demo_url: str, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    from datetime import datetime

    from reporter.alerts.run import scheduled_check
    from reporter.alerts.store import states
    from reporter.db import make_engine
    from reporter.jobs.scheduler import build_scheduler, sync_jobs
    from reporter.settings import load_settings

    path = config(tmp_path, smtp_server.port, "hourly-errors")
    settings = load_settings(path)
    engine = make_engine(demo_url)
    scheduler = build_scheduler(engine, settings, processes=False)
    scheduler.start(paused=True)
    try:
        report = sync_jobs(scheduler, settings, path, demo_url)
        job = scheduler.get_job("alert:hourly-errors")
        assert "alert:hourly-errors" in report.added
        assert (job.func_ref, job.kwargs["alert_name"]) == ("reporter.alerts.run:scheduled_check", "hourly-errors")
    finally:
        scheduler.shutdown(wait=False)
    slot = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    assert scheduled_check("hourly-errors", str(path), demo_url, slot.isoformat()) == 1
    assert scheduled_check("hourly-errors", str(path), demo_url, slot.isoformat()) == 1  # a second scheduler, same slot
    [state] = states(engine, "hourly-errors")
    assert (state.campaign_id, state.state, state.breaches, state.last_slot) == ("cart-reminder", "firing", 1, slot)
    assert [m.message["Subject"] for m in smtp_server.handler.received] == [
        "reporter alert hourly-errors firing: cart-reminder"
    ]
    engine.dispose()
