"""`reporter run`: the on-demand path, with its dry run and its bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.delivery.conftest import SmtpServer

JOBS = """  - name: weekly
    schedule: "0 8 * * 1"
    campaigns: [welcome-series, cart-reminder]
    period: last_week
    email:
      to: [boss@acme.test]
      cc: ["Ana <ana@acme.test>"]
"""


def cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPORTER_")}
    return subprocess.run(
        [sys.executable, "-m", "reporter", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300
    )


def test_run_delivers_each_campaign_once(
    demo_url: str, smtp_server: SmtpServer, config_factory, tmp_path: Path
) -> None:
    config = config_factory(smtp_server.port, JOBS)
    args = ["--config", str(config), "--db", demo_url, "run", "weekly", "--period", "2026-10-05..2026-10-12"]
    first = cli(args, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "weekly / welcome-series / 2026-W41: delivered" in first.stdout
    assert "weekly / cart-reminder / 2026-W41: delivered" in first.stdout
    assert (
        "unit delivered job=weekly campaign=welcome-series period=2026-W41 status=delivered attempt=1" in first.stderr
    )
    assert len(smtp_server.handler.received) == 2
    assert (tmp_path / "archive" / "weekly" / "welcome-series" / "2026-W41" / "welcome-series_2026-W41.pdf").exists()
    second = cli(args, tmp_path)
    assert second.returncode == 0
    assert second.stdout.count("already delivered") == 2
    assert len(smtp_server.handler.received) == 2
    history = cli(["--config", str(config), "--db", demo_url, "history", "weekly"], tmp_path)
    assert history.returncode == 0 and "delivered" in history.stdout and "boss@acme.test" in history.stdout


def test_dry_run_stores_a_preview_and_sends_nothing(
    demo_url: str, smtp_server: SmtpServer, config_factory, tmp_path: Path
) -> None:
    config = config_factory(smtp_server.port, JOBS)
    result = cli(
        [
            "--config",
            str(config),
            "--db",
            demo_url,
            "run",
            "weekly",
            "--campaign",
            "cart-reminder",
            "--period",
            "2026-10-05..2026-10-12",
            "--dry-run",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "would send cart-reminder to boss@acme.test, Ana <ana@acme.test>" in result.stderr
    assert smtp_server.handler.received == []
    assert (
        tmp_path / "archive" / "_preview" / "weekly" / "cart-reminder" / "2026-W41" / "cart-reminder_2026-W41.pdf"
    ).exists()
    assert not (tmp_path / "archive" / "weekly").exists()


def test_bad_run_input_is_exit_2(demo_url: str, smtp_server: SmtpServer, config_factory, tmp_path: Path) -> None:
    config = config_factory(smtp_server.port, JOBS)
    base = ["--config", str(config), "--db", demo_url, "run"]
    cases = [
        (["nightly"], "error: unknown job 'nightly' (jobs: weekly)\n"),
        (
            ["weekly", "--period", "fortnight"],
            "error: --period: not a period name (yesterday, last_7_days, last_week, last_month, month_to_date, "
            "campaign_lifetime) or FROM..TO dates: 'fortnight'\n",
        ),
        (
            ["weekly", "--campaign", "nope", "--period", "last_week"],
            "error: --campaign: unknown campaign 'nope' (see `reporter campaigns` for the loaded ones)\n",
        ),
    ]
    for args, message in cases:
        result = cli(base + args, tmp_path)
        assert (result.returncode, result.stderr) == (2, message)
    assert smtp_server.handler.received == []


def test_without_smtp_a_mailing_job_archives_and_says_it_did_not_mail(demo_url: str, tmp_path: Path) -> None:
    config = tmp_path / "reporter.yaml"
    config.write_text(
        f"archive:\n  root: {tmp_path / 'archive'}\njobs:\n  - name: nomail\n    schedule: hourly\n"
        "    campaigns: [cart-reminder]\n    email:\n      to: [boss@acme.test]\n"
    )
    result = cli(
        ["--config", str(config), "--db", demo_url, "run", "nomail", "--period", "2026-10-05..2026-10-12"], tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == (
        "nomail / cart-reminder / 2026-W41: stored; not mailed: no SMTP server is "
        "configured (add an smtp: section to the config)"
    )
    assert (tmp_path / "archive" / "nomail" / "cart-reminder" / "2026-W41" / "cart-reminder_2026-W41.pdf").is_file()
    deliver = cli(
        ["--config", str(config), "--db", demo_url, "deliver", "cart-reminder", "--mail-to", "a@acme.test"], tmp_path
    )
    assert (deliver.returncode, deliver.stderr) == (
        2,
        "error: no SMTP server is configured: add an smtp: section to the config to send e-mail\n",
    )


PORTFOLIO_JOB = """  - name: weekly-portfolio
    kind: portfolio
    schedule: "0 8 * * 1"
    period: last_week
    formats: [pdf, html, csv, xlsx]
    email:
      to: [boss@acme.test]
"""


def test_a_portfolio_job_mails_one_report_of_every_active_campaign(
    demo_url: str, smtp_server: SmtpServer, config_factory, tmp_path: Path
) -> None:
    config = config_factory(smtp_server.port, PORTFOLIO_JOB)
    args = ["--config", str(config), "--db", demo_url, "run", "weekly-portfolio", "--period", "2026-10-05..2026-10-12"]
    first = cli(args, tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("delivered") == 1
    assert "weekly-portfolio / @portfolio / 2026-W41: delivered" in first.stdout
    (mail,) = smtp_server.handler.received
    names = sorted(p.get_filename() for p in mail.message.iter_attachments())
    assert names == [f"portfolio_2026-W41.{ext}" for ext in ("csv.zip", "pdf", "xlsx")]
    html = mail.message.get_body(("html",)).get_content()
    assert "3 campaigns sent" in html
    stored = tmp_path / "archive" / "weekly-portfolio"
    assert sorted(p.name for p in stored.rglob("portfolio_*")) == sorted([*names, "portfolio_2026-W41.html"])
    assert cli(args, tmp_path).stdout.count("already delivered") == 1
    assert len(smtp_server.handler.received) == 1


def test_a_portfolio_of_campaign_lifetimes_is_refused(smtp_server: SmtpServer, config_factory, tmp_path: Path) -> None:
    config = config_factory(smtp_server.port, PORTFOLIO_JOB.replace("last_week", "campaign_lifetime"))
    result = cli(["--config", str(config), "config", "check"], tmp_path)
    assert result.returncode == 2
    assert "a portfolio job needs a calendar period (campaign_lifetime differs by campaign)" in result.stderr
