"""E-mail delivery against a real SMTP server: headers, alternatives, the attachment, TLS and login, retries; `deliver`.

What a unit does with the outcomes (the run log, partial failures, retries of a unit) is in tests/jobs/test_unit.py.
"""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader
from sqlalchemy import Engine, update

from reporter.delivery.email import SmtpConfig
from reporter.jobs.unit import run_unit
from reporter.models import Campaign
from reporter.production import Production
from tests.delivery.conftest import PASSWORD, USER, SmtpServer, clock, no_sleep, target, unit


def rename_campaign(engine: Engine, name: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(Campaign).where(Campaign.campaign_id == "welcome-series").values(name=name))


def check_message(server: SmtpServer) -> None:
    assert len(server.handler.received) == 1
    got = server.handler.received[0]
    assert sorted(got.recipients) == ["cc@example.test", "hidden@example.test", "owner@example.test"]
    msg = got.message
    assert msg["Subject"] == "Push report: Été ☕ à Zürich — Oct 5, 2026 – Oct 11, 2026"
    assert msg["From"] == "Acme Reports <reports@acme.test>"
    assert msg["To"] == "Café Owner <owner@example.test>"
    assert msg["Cc"] == "cc@example.test"
    assert msg["Bcc"] is None  # envelope only
    assert msg["Date"] and msg["Message-ID"].endswith("@acme.test>")
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "Été ☕ à Zürich" in text and "Été ☕ à Zürich" in html
    assert "<script" not in html and "style=" in html
    pdfs = [part for part in msg.iter_attachments() if part.get_content_type() == "application/pdf"]
    assert len(pdfs) == 1 and pdfs[0].get_filename() == "welcome-series_2026-W41.pdf"
    reader = PdfReader(io.BytesIO(pdfs[0].get_content()))
    assert "Été ☕ à Zürich" in reader.pages[0].extract_text()


def test_message_arrives_whole(demo_engine: Engine, smtp_server: SmtpServer, tmp_path) -> None:
    rename_campaign(demo_engine, "Été ☕ à Zürich")
    result = run_unit(demo_engine, unit(), target(smtp_server, tmp_path), clock)
    assert result.status == "delivered", result.message
    check_message(smtp_server)
    assert len(result.paths) == 2  # PDF and HTML in the archive


def test_starttls_with_login(demo_engine: Engine, tls_smtp_server: SmtpServer, tmp_path) -> None:
    rename_campaign(demo_engine, "Été ☕ à Zürich")
    result = run_unit(demo_engine, unit(), target(tls_smtp_server, tmp_path, "starttls", USER, PASSWORD), clock)
    assert result.status == "delivered", result.message
    check_message(tls_smtp_server)


def test_wrong_password_is_a_recorded_failure(demo_engine: Engine, tls_smtp_server: SmtpServer, tmp_path) -> None:
    result = run_unit(demo_engine, unit(), target(tls_smtp_server, tmp_path, "starttls", USER, "wrong"), clock)
    assert result.status == "failed"
    assert {o.code for o in result.outcomes} == {535}
    assert tls_smtp_server.handler.received == []


def test_transient_failure_then_success_delivers_once(demo_engine: Engine, smtp_server: SmtpServer, tmp_path) -> None:
    smtp_server.handler.defer_data = 1
    result = run_unit(demo_engine, unit(), target(smtp_server, tmp_path), clock, sleep=no_sleep)
    assert result.status == "delivered"
    assert smtp_server.handler.data_attempts == 2
    assert len(smtp_server.handler.received) == 1


def test_unreachable_server_is_retried_then_failed(demo_engine: Engine, tmp_path) -> None:
    from tests.delivery.conftest import free_port

    smtp = SmtpConfig("127.0.0.1", free_port(), "none", None, None, 2, 2, backoff_s=0.01)
    sleeps: list[float] = []
    result = run_unit(
        demo_engine, unit(), Production(str(tmp_path), smtp, "r@acme.test", 2**20), clock, sleep=sleeps.append
    )
    assert result.status == "failed"
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0]  # exponential backoff between the three attempts
    assert all(o.transient and "ConnectionRefused" in o.message for o in result.outcomes)


def _cli(args: list[str], cwd, env: dict[str, str] | None = None):
    import os
    import subprocess
    import sys

    environ = {k: v for k, v in os.environ.items() if not k.startswith(("REPORTER_", "SMTP_"))}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "reporter", *args], cwd=cwd, capture_output=True, text=True, env=environ, timeout=120
    )


def _config(tmp_path, port: int, extra: str = "") -> str:
    path = tmp_path / "reporter.yaml"
    path.write_text(
        f"archive:\n  root: {tmp_path / 'archive'}\nsmtp:\n  host: 127.0.0.1\n  port: {port}\n  security: none\n"
        f"  from: reports@acme.test\n{extra}"
    )
    return str(path)


def test_cli_delivers_once_and_says_so_the_second_time(demo_url: str, smtp_server: SmtpServer, tmp_path) -> None:
    args = [
        "--config",
        _config(tmp_path, smtp_server.port),
        "--db",
        demo_url,
        "deliver",
        "cart-reminder",
        "--from",
        "2026-10-05",
        "--to",
        "2026-10-12",
        "--job",
        "cli-test",
        "--mail-to",
        "boss@acme.test",
    ]
    first = _cli(args, tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-1] == "cli-test / cart-reminder / 2026-W41: delivered"
    second = _cli(args, tmp_path)
    assert second.returncode == 0
    assert "already delivered" in second.stdout
    assert len(smtp_server.handler.received) == 1


@pytest.mark.parametrize(
    ("extra", "args", "env", "expected"),
    [
        (
            "  username: u\n  password_env: SMTP_TEST_PASSWORD\n",
            ["--mail-to", "a@acme.test"],
            {},
            "error: smtp.password_env: the environment variable SMTP_TEST_PASSWORD is not set\n",
        ),
        ("", ["--mail-to", "not-an-address"], {}, "error: --mail-to: invalid e-mail address 'not-an-address'\n"),
    ],
)
def test_cli_bad_delivery_settings_are_exit_2_before_any_work(
    demo_url: str, smtp_server: SmtpServer, tmp_path, extra: str, args: list[str], env: dict, expected: str
) -> None:
    result = _cli(
        [
            "--config",
            _config(tmp_path, smtp_server.port, extra),
            "--db",
            demo_url,
            "deliver",
            "cart-reminder",
            "--job",
            "bad-input",
            *args,
        ],
        tmp_path,
        env,
    )
    assert (result.returncode, result.stderr) == (2, expected)
    assert not (tmp_path / "archive").exists()


def test_cli_unreachable_smtp_host_is_exit_2(demo_url: str, tmp_path) -> None:
    from tests.delivery.conftest import free_port

    result = _cli(
        [
            "--config",
            _config(tmp_path, free_port()),
            "--db",
            demo_url,
            "deliver",
            "cart-reminder",
            "--mail-to",
            "a@acme.test",
        ],
        tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: smtp.host: cannot reach 127.0.0.1:")
    assert not (tmp_path / "archive").exists()


def test_cli_invalid_sender_in_config_names_file_line_and_field(demo_url: str, tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("smtp:\n  host: 127.0.0.1\n  from: nobody\n")
    result = _cli(
        ["--config", str(path), "--db", demo_url, "deliver", "cart-reminder", "--mail-to", "a@acme.test"], tmp_path
    )
    assert (result.returncode, result.stderr) == (2, f"{path}:3 smtp.from: invalid e-mail address 'nobody'\n")
