"""A unit of work (jobs/unit.py): claim it, produce the report once, store it, deliver it, record every outcome.

Against the demo data, a real SMTP server and the run log; the delivery itself (headers, TLS, the
SMTP dialogue) is in tests/delivery/test_email.py, faults in tests/delivery/test_faults.py.
"""

from __future__ import annotations

import threading
from dataclasses import replace as copy
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from reporter.delivery.archive import Archive
from reporter.errors import UnitFailed
from reporter.jobs.runlog import ClaimResult
from reporter.jobs.unit import preview_unit, run_unit
from reporter.models import Delivery as DeliveryRow
from reporter.models import Run
from reporter.production import Production
from tests.delivery.conftest import NOW, START, SmtpServer, clock, no_sleep, target, unit


def test_permanent_failure_for_one_recipient_then_retry_sends_only_to_it(
    demo_engine: Engine, smtp_server: SmtpServer, tmp_path
) -> None:
    smtp_server.handler.refuse = {"cc@example.test"}
    job = unit()
    first = run_unit(demo_engine, job, target(smtp_server, tmp_path), clock, sleep=no_sleep)
    assert first.status == "failed"
    assert sorted(smtp_server.handler.received[0].recipients) == ["hidden@example.test", "owner@example.test"]
    assert smtp_server.handler.data_attempts == 1  # a 550 is not retried
    with demo_engine.connect() as conn:
        run = conn.execute(select(Run.status, Run.error, Run.id).where(Run.job == job.job)).one()
        rows = dict(
            conn.execute(select(DeliveryRow.recipient, DeliveryRow.smtp_code).where(DeliveryRow.run_id == run.id)).all()
        )
    assert run.status == "failed" and "cc@example.test (550" in run.error
    assert rows == {"owner@example.test": 250, "cc@example.test": 550, "hidden@example.test": 250}
    smtp_server.handler.refuse = set()
    second = run_unit(demo_engine, job, target(smtp_server, tmp_path), clock)
    assert second.claim.result == ClaimResult.RETRY and second.status == "delivered"
    assert [r.recipients for r in smtp_server.handler.received[1:]] == [["cc@example.test"]]
    third = run_unit(demo_engine, job, target(smtp_server, tmp_path), clock)
    assert third.claim.result == ClaimResult.DONE
    assert "already delivered" in third.message
    assert len(smtp_server.handler.received) == 2


def test_large_pdf_is_linked_not_attached(demo_engine: Engine, smtp_server: SmtpServer, tmp_path) -> None:
    result = run_unit(demo_engine, unit(), target(smtp_server, tmp_path, max_bytes=1000), clock)
    assert result.status == "delivered"
    msg = smtp_server.handler.received[0].message
    assert list(msg.iter_attachments()) == []
    pdf_path = next(p for p in result.paths if p.endswith(".pdf"))
    assert pdf_path in msg.get_body(("plain",)).get_content()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_attempts_deliver_once(
    backend: str, request: pytest.FixtureRequest, smtp_server: SmtpServer, tmp_path
) -> None:
    if backend == "sqlite":
        engine = request.getfixturevalue("demo_engine")
    else:
        from reporter.db import make_engine, upgrade
        from reporter.demo import load_demo

        engine = make_engine(request.getfixturevalue("postgres_url"))
        upgrade(engine)
        load_demo(engine, 100, 1)
    job = unit()
    barrier = threading.Barrier(2)
    results = []

    def attempt() -> None:
        barrier.wait()
        results.append(run_unit(engine, job, target(smtp_server, tmp_path), clock))

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.claim.result for r in results) in (["busy", "new"], ["done", "new"])
    assert len(smtp_server.handler.received) == 1
    assert [r.status for r in results if r.claim.result == "new"] == ["delivered"]


def test_html_attached_on_request(demo_engine: Engine, smtp_server: SmtpServer, tmp_path) -> None:
    result = run_unit(demo_engine, unit(attach_html=True), target(smtp_server, tmp_path), clock)
    assert result.status == "delivered"
    types = sorted(p.get_content_type() for p in smtp_server.handler.received[0].message.iter_attachments())
    assert types == ["application/pdf", "text/html"]


def test_retention_runs_after_storing(demo_engine: Engine, tmp_path) -> None:

    archive_only = unit(to=(), cc=(), bcc=())
    base = Production(str(tmp_path / "archive"), None, "r@acme.test", 2**20, retention_runs=1)
    weeks = [START + timedelta(weeks=i) for i in range(3)]
    for i, start in enumerate(weeks):
        later = NOW + timedelta(days=i)
        run_unit(demo_engine, copy(archive_only, start=start, end=start + timedelta(weeks=1)), base, lambda t=later: t)
    assert [r.period for r in Archive(tmp_path / "archive").runs()] == ["2026-W43"]


def test_an_archive_only_unit_is_stored_once_and_then_done(demo_engine: Engine, tmp_path: Path) -> None:
    archive_only = unit(to=(), cc=(), bcc=(), formats=("html",))
    production = Production(str(tmp_path / "archive"), None, "r@acme.test", 2**20)
    first = run_unit(demo_engine, archive_only, production, clock)
    assert (first.claim.result, first.status) == (ClaimResult.NEW, "stored")
    assert [Path(p).name for p in first.paths] == ["welcome-series_2026-W41.html"]  # no PDF: nobody to mail it to
    again = run_unit(demo_engine, archive_only, production, clock)
    assert (again.claim.result, again.status, again.paths) == (ClaimResult.DONE, "stored", ())
    with demo_engine.connect() as conn:
        assert conn.execute(select(Run.attempts).where(Run.job == archive_only.job)).scalar_one() == 1


def test_a_mailed_unit_renders_the_pdf_even_when_only_html_is_archived(
    demo_engine: Engine, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    result = run_unit(demo_engine, unit(formats=("html",)), target(smtp_server, tmp_path), clock)
    assert result.status == "delivered"
    assert sorted(Path(p).name for p in result.paths) == ["welcome-series_2026-W41.html", "welcome-series_2026-W41.pdf"]
    attached = [p.get_filename() for p in smtp_server.handler.received[0].message.iter_attachments()]
    assert attached == ["welcome-series_2026-W41.pdf"]


def test_a_unit_that_cannot_render_is_recorded_failed_and_retried_whole(
    demo_engine: Engine, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    broken = unit(campaign_id="no-such-campaign")
    with pytest.raises(UnitFailed, match=f"{broken.job} / no-such-campaign / 2026-W41: failed: unknown campaign"):
        run_unit(demo_engine, broken, target(smtp_server, tmp_path), clock)
    with demo_engine.connect() as conn:
        run = conn.execute(select(Run.status, Run.error, Run.attempts).where(Run.job == broken.job)).one()
    assert (run.status, run.attempts) == ("failed", 1)
    assert run.error.startswith("UnknownCampaignError: unknown campaign 'no-such-campaign'")
    assert smtp_server.handler.received == [] and not (tmp_path / "archive").exists()
    with pytest.raises(UnitFailed):
        run_unit(demo_engine, broken, target(smtp_server, tmp_path), clock)
    with demo_engine.connect() as conn:
        assert conn.execute(select(Run.attempts).where(Run.job == broken.job)).scalar_one() == 2


def test_a_dry_run_renders_into_the_preview_folder_and_records_nothing(
    demo_engine: Engine, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    job = unit(formats=("pdf", "html"))
    result = preview_unit(demo_engine, job, target(smtp_server, tmp_path), clock)
    assert result.status == "preview"
    assert sorted(Path(p).relative_to(tmp_path / "archive").as_posix() for p in result.paths) == [
        f"_preview/{job.job}/welcome-series/2026-W41/welcome-series_2026-W41.html",
        f"_preview/{job.job}/welcome-series/2026-W41/welcome-series_2026-W41.pdf",
    ]
    assert smtp_server.handler.received == []
    with demo_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Run).where(Run.job == job.job)).scalar_one() == 0
    assert Archive(tmp_path / "archive").runs() == []


def test_exports_are_attached_and_archived(demo_engine: Engine, smtp_server: SmtpServer, tmp_path) -> None:
    result = run_unit(demo_engine, unit(formats=("csv", "xlsx")), target(smtp_server, tmp_path), clock)
    assert result.status == "delivered"
    attached = {
        p.get_filename(): p.get_content_type() for p in smtp_server.handler.received[0].message.iter_attachments()
    }
    assert attached == {
        "welcome-series_2026-W41.pdf": "application/pdf",  # the mail always carries the report
        "welcome-series_2026-W41.csv.zip": "application/zip",
        "welcome-series_2026-W41.xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
    assert sorted(Path(p).name for p in result.paths) == sorted(attached)


def test_a_portfolio_unit_is_produced_stored_and_mailed_once(
    demo_engine: Engine, smtp_server: SmtpServer, tmp_path
) -> None:
    from reporter.production import PORTFOLIO

    job = unit(campaign_id=PORTFOLIO, portfolio=("welcome-series", "cart-reminder"), formats=("pdf", "xlsx"))
    result = run_unit(demo_engine, job, target(smtp_server, tmp_path), clock)
    assert result.status == "delivered"
    (mail,) = smtp_server.handler.received
    assert mail.message["Subject"] == "Push report: Campaign portfolio — Oct 5, 2026 – Oct 11, 2026"
    names = sorted(p.get_filename() for p in mail.message.iter_attachments())
    assert names == ["portfolio_2026-W41.pdf", "portfolio_2026-W41.xlsx"]
    text = mail.message.get_body(("plain",)).get_content()
    assert "2 campaigns sent" in text and "Campaigns with sends: 2" in text
    (run,) = Archive(tmp_path / "archive").runs()
    assert (run.job, run.campaign_id, run.period) == (job.job, PORTFOLIO, "2026-W41")
    again = run_unit(demo_engine, job, target(smtp_server, tmp_path), clock)
    assert again.claim.result == ClaimResult.DONE and len(smtp_server.handler.received) == 1


def test_an_export_over_the_attachment_limit_is_linked(demo_engine: Engine, smtp_server: SmtpServer, tmp_path) -> None:
    result = run_unit(demo_engine, unit(formats=("xlsx",)), target(smtp_server, tmp_path, max_bytes=1000), clock)
    assert result.status == "delivered"
    msg = smtp_server.handler.received[0].message
    assert list(msg.iter_attachments()) == []  # the PDF and the workbook are both over 1,000 bytes
    xlsx = next(p for p in result.paths if p.endswith(".xlsx"))
    assert f"The XLSX export is larger than the attachment limit; it is in the report archive: {xlsx}" in (
        msg.get_body(("plain",)).get_content()
    )
