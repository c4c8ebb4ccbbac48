"""Running one unit of work: claim, render, store in the archive, e-mail, record.

The one code path of scheduled runs and on-demand runs. The run log says what
happened at every step, so a unit is never delivered twice and a failed one
can be retried: a retry sends only to the recipients that did not get it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parseaddr

from sqlalchemy import Engine

from reporter.delivery.archive import Archive
from reporter.delivery.email import Attachment, Outcome, SmtpConfig, build_message, send
from reporter.errors import ReporterError
from reporter.files import period_name, safe_name
from reporter.jobs.runlog import Claim, ClaimResult, claim, delivered_recipients, record_delivery, set_status
from reporter.metrics.model import Period
from reporter.models import RunStatus
from reporter.render import Branding, Rendered, render_email
from reporter.reports import build_report, report_bytes

log = logging.getLogger(__name__)
DEFAULT_SUBJECT = "Push report: {campaign} — {period}"


@dataclass(frozen=True)
class Unit:
    """What to produce and where to send it: one (job, campaign, period)."""

    job: str
    campaign_id: str
    start: datetime
    end: datetime
    timezone: str
    formats: tuple[str, ...] = ("pdf", "html")
    archive: bool = True
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    subject: str = DEFAULT_SUBJECT
    attach_html: bool = False

    @property
    def period(self) -> str:
        return period_name(Period(self.start, self.end, self.timezone))

    @property
    def recipients(self) -> tuple[str, ...]:
        return self.to + self.cc + self.bcc


@dataclass(frozen=True)
class Delivery:
    """Where delivery goes: the archive root, the SMTP server, the sender, the size limit."""

    archive_root: str
    smtp: SmtpConfig | None
    sender: str
    max_attachment_bytes: int
    branding: Branding = Branding()
    retention_days: int = 0  # 0: keep forever
    retention_runs: int = 0  # 0: no limit


@dataclass(frozen=True)
class UnitResult:
    unit: Unit
    claim: Claim
    status: str
    paths: tuple[str, ...] = ()
    outcomes: tuple[Outcome, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def message(self) -> str:
        u = self.unit
        where = f"{u.job} / {u.campaign_id} / {u.period}"
        if self.claim.result == ClaimResult.DONE:
            return f"{where}: already {self.claim.status} (attempt {self.claim.attempts}); nothing to do"
        if self.claim.result == ClaimResult.BUSY:
            return f"{where}: being produced by another process ({self.claim.status}); nothing to do"
        failed = [o for o in self.outcomes if not o.sent]
        if failed:
            return f"{where}: {self.status}; not delivered to " + ", ".join(f"{o.recipient} ({o.code} {o.message})" for o in failed)
        return f"{where}: {self.status}"


class UnitFailed(ReporterError):
    """A unit of work that failed to render, store or deliver (exit code 1)."""


class Interrupted(Exception):
    """SIGTERM arrived while a unit was in hand: it is recorded as failed and can be retried."""


# Set by the SIGTERM handler; checked between the steps of a unit, because a library
# that swallows exceptions (an image loader, say) could swallow the one the handler raises.
STOP = threading.Event()


def stop_now(_signum: int = 0, _frame: object = None) -> None:
    """The SIGTERM handler of processes that render: stop the unit in hand, never half-write it."""
    STOP.set()
    raise Interrupted("interrupted by SIGTERM")


def _checkpoint() -> None:
    if STOP.is_set():
        raise Interrupted("interrupted by SIGTERM")


def run_unit(engine: Engine, unit: Unit, delivery: Delivery, clock: Callable[[], datetime],
             sleep: Callable[[float], None] | None = None) -> UnitResult:
    """Claim the unit and produce it; a unit already done or in hand elsewhere is left alone."""
    terminal = (RunStatus.DELIVERED,) if unit.recipients else (RunStatus.DELIVERED, RunStatus.STORED)
    got = claim(engine, unit.job, unit.campaign_id, unit.period, unit.start, unit.end, unit.timezone, clock(), terminal)
    if got.result in (ClaimResult.DONE, ClaimResult.BUSY):
        return UnitResult(unit, got, got.status)
    timings: dict[str, float] = {}
    try:
        set_status(engine, got.run_id, RunStatus.RENDERING, clock())
        t = time.perf_counter()
        stats, rendered = build_report(engine, unit.campaign_id, unit.start, unit.end, unit.timezone, clock(), delivery.branding)
        files = _files(unit, rendered, with_pdf=bool(unit.recipients))  # the mail attaches or links the PDF
        timings["render_s"] = time.perf_counter() - t
        _checkpoint()
        paths: list[str] = []
        if unit.archive:
            archive = Archive(delivery.archive_root)
            stored = archive.store(unit.job, unit.campaign_id, stats.campaign.name, unit.period, unit.timezone,
                                   rendered.generated_at, files)
            paths = [str(stored.path(archive.root, a.name)) for a in stored.artifacts]
            if delivery.retention_days or delivery.retention_runs:
                archive.apply_retention(clock(), delivery.retention_days, delivery.retention_runs)
        set_status(engine, got.run_id, RunStatus.STORED, clock(), artifacts=paths, final=not unit.recipients)
        if not unit.recipients:
            return UnitResult(unit, got, RunStatus.STORED, tuple(paths), timings=timings)
        _checkpoint()
        t = time.perf_counter()
        outcomes = _deliver(engine, got.run_id, unit, delivery, stats, files, paths, clock, sleep)
        timings["deliver_s"] = time.perf_counter() - t
    except BaseException as exc:
        # Interrupted or broken: the unit is recorded as failed, so it can be retried at once.
        set_status(engine, got.run_id, RunStatus.FAILED, clock(), error=f"{type(exc).__name__}: {exc}")
        if not isinstance(exc, Exception):
            raise
        raise UnitFailed(f"{unit.job} / {unit.campaign_id} / {unit.period}: failed: {exc}") from exc
    failed = [o for o in outcomes if not o.sent]
    if failed:
        error = "not delivered to " + ", ".join(f"{o.recipient} ({o.code} {o.message})" for o in failed)
        set_status(engine, got.run_id, RunStatus.FAILED, clock(), error=error)
        return UnitResult(unit, got, RunStatus.FAILED, tuple(paths), tuple(outcomes), timings)
    set_status(engine, got.run_id, RunStatus.DELIVERED, clock())
    return UnitResult(unit, got, RunStatus.DELIVERED, tuple(paths), tuple(outcomes), timings)


def _files(unit: Unit, rendered: Rendered, with_pdf: bool) -> dict[str, bytes]:
    """The unit's archive files by name: its formats, and the PDF also when `with_pdf`."""
    formats = tuple(f for f in ("pdf", "html") if f in unit.formats or (f == "pdf" and with_pdf))
    base = safe_name(unit.campaign_id)
    return {f"{base}.{fmt}": data for fmt, data in report_bytes(rendered, formats).items()}


def preview_unit(engine: Engine, unit: Unit, delivery: Delivery, clock: Callable[[], datetime]) -> UnitResult:
    """A dry run: render and store under the archive's preview folder, send nothing, log nothing in the run log."""
    stats, rendered = build_report(engine, unit.campaign_id, unit.start, unit.end, unit.timezone, clock(), delivery.branding)
    files = _files(unit, rendered, with_pdf=False)
    archive = Archive(f"{delivery.archive_root}/_preview")
    stored = archive.store(unit.job, unit.campaign_id, stats.campaign.name, unit.period, unit.timezone,
                           rendered.generated_at, files)
    if unit.recipients:
        log.info("dry run: would send %s to %s", unit.campaign_id, ", ".join(unit.recipients))
    preview = Claim(ClaimResult.NEW, 0, "preview", 0)
    return UnitResult(unit, preview, "preview", tuple(str(stored.path(archive.root, a.name)) for a in stored.artifacts))


def _deliver(engine: Engine, run_id: int, unit: Unit, delivery: Delivery, stats: object, files: dict[str, bytes],
             paths: list[str], clock: Callable[[], datetime], sleep: Callable[[float], None] | None) -> list[Outcome]:
    if delivery.smtp is None:
        raise ReporterError("no SMTP server configured")
    done = delivered_recipients(engine, run_id)
    pending = [r for r in unit.recipients if (parseaddr(r)[1] or r) not in done]
    pdf_name = next(name for name in files if name.endswith(".pdf"))
    attachments = []
    note = "The full report is attached as a PDF."
    if len(files[pdf_name]) <= delivery.max_attachment_bytes:
        attachments.append(Attachment(pdf_name, "application/pdf", files[pdf_name]))
    else:
        where = next((p for p in paths if p.endswith(".pdf")), None)
        size = len(files[pdf_name]) / 2**20
        note = (f"The PDF ({size:.1f} MB) is larger than the {delivery.max_attachment_bytes / 2**20:.0f} MB limit for attachments; "
                + (f"it is in the report archive: {where}" if where else "it was not archived (archive is off for this job)."))
    html_name = next((name for name in files if name.endswith(".html")), None)
    if unit.attach_html and html_name and len(files[html_name]) <= delivery.max_attachment_bytes:
        attachments.append(Attachment(html_name, "text/html", files[html_name]))
    body = render_email(stats, unit.subject, note, delivery.branding)  # type: ignore[arg-type]
    to = [r for r in unit.to if r in pending]
    cc = [r for r in unit.cc if r in pending]
    message = build_message(delivery.sender, to, cc, body.subject, body.html, body.text, attachments, clock())
    outcomes = send(delivery.smtp, message, delivery.sender, pending, sleep=sleep)
    for outcome in outcomes:
        record_delivery(engine, run_id, outcome.recipient, outcome.sent, outcome.code, outcome.message, clock())
    return outcomes
