"""Running one unit of work: claim, render, store in the archive, e-mail, tell destinations, record.

The one code path of scheduled runs and on-demand runs. The run log says what
happened at every step, so a unit is never delivered twice and a failed one
can be retried: a retry sends only to the recipients that did not get it, and
never to one whose outcome is unknown (unless asked to `resend`). A unit
already delivered is sent to recipients added since. Named destinations
(webhook, Slack, Teams) are recipients of the run log like e-mail addresses:
one row each, under the destination's name. While a unit is in hand its
heartbeat shows its owner is alive.
"""

from __future__ import annotations

import logging
import shlex
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr
from html import escape as html_escape

from sqlalchemy import Engine

from reporter.branding import Branding
from reporter.delivery.archive import Archive
from reporter.delivery.destinations import kind_of, send_notice
from reporter.delivery.email import Attachment, Outcome, build_message, send
from reporter.delivery.transport import Attempt
from reporter.errors import ReporterError, UnitFailed
from reporter.files import period_name
from reporter.jobs.notices import failure_notice, portfolio_notice, report_link, report_notice
from reporter.jobs.runlog import (
    Claim,
    ClaimResult,
    claim,
    handled_recipients,
    heartbeat,
    mark_final,
    recipient_statuses,
    record_delivery,
    set_status,
    take,
)
from reporter.metrics.model import Period
from reporter.models import RunStatus
from reporter.production import Production, Report, produce, produce_portfolio
from reporter.settings import DEFAULT_SUBJECT, Settings
from reporter.timezones import zone

log = logging.getLogger(__name__)


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
    destinations: tuple[str, ...] = ()  # names of webhook, Slack and Teams destinations (e-mail ones are in to/cc/bcc)
    portfolio: tuple[str, ...] | None = None  # a portfolio unit's campaigns (campaign_id is then PORTFOLIO)

    @property
    def period(self) -> str:
        return period_name(Period(self.start, self.end, self.timezone))

    @property
    def recipients(self) -> tuple[str, ...]:
        return self.to + self.cc + self.bcc

    @property
    def delivers(self) -> bool:
        """Whether the unit goes anywhere beyond the archive (e-mail or destinations)."""
        return bool(self.recipients or self.destinations)


@dataclass(frozen=True)
class UnitResult:
    unit: Unit
    claim: Claim
    status: str
    paths: tuple[str, ...] = ()
    outcomes: tuple[Outcome, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    note: str = ""  # e.g. that only new recipients were sent to

    @property
    def message(self) -> str:
        u = self.unit
        where = f"{u.job} / {u.campaign_id} / {u.period}"
        if self.claim.result == ClaimResult.DONE:
            if self.claim.status == RunStatus.UNKNOWN:
                return (
                    f"{where}: delivery outcome unknown (attempt {self.claim.attempts}): the server may have "
                    "delivered it; not re-sent (--resend sends it again)"
                )
            return f"{where}: already {self.claim.status} (attempt {self.claim.attempts}); nothing to do"
        if self.claim.result == ClaimResult.BUSY:
            return f"{where}: being produced by another process ({self.claim.status}); nothing to do"
        parts = [f"{where}: {self.status}"] + ([self.note] if self.note else [])
        failed = [o for o in self.outcomes if not o.sent and not o.unknown]
        if failed:
            parts.append("not delivered to " + ", ".join(f"{o.recipient} ({o.code} {o.message})" for o in failed))
        unknown = [o for o in self.outcomes if o.unknown]
        if unknown:
            parts.append(
                "outcome unknown for "
                + ", ".join(o.recipient for o in unknown)
                + " (the server may have delivered it; not re-sent automatically, --resend sends it again)"
            )
        return "; ".join(parts)


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


def run_unit(
    engine: Engine,
    unit: Unit,
    production: Production,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None] | None = None,
    resend: bool = False,
    settings: Settings | None = None,
) -> UnitResult:
    """Claim the unit and produce it; a unit already done or in hand elsewhere is left alone.

    A delivered unit is sent to recipients (and destinations) that have not had it; with `resend`,
    also to those whose outcome is unknown. `settings` holds the destinations of the unit and of
    `notify.on_failure`.
    """
    terminal = (RunStatus.DELIVERED, RunStatus.UNKNOWN) + (() if unit.delivers else (RunStatus.STORED,))
    got = claim(
        engine,
        unit.job,
        unit.campaign_id,
        unit.period,
        unit.start,
        unit.end,
        unit.timezone,
        clock(),
        terminal,
        timedelta(seconds=production.abandon_after_s),
    )
    note = ""
    if got.result == ClaimResult.DONE and unit.delivers and got.status in (RunStatus.DELIVERED, RunStatus.UNKNOWN):
        new = not_yet_told(engine, unit, got.run_id, resend)
        if new:
            if not take(engine, got.run_id, got.status, clock()):
                return UnitResult(
                    unit, Claim(ClaimResult.BUSY, got.run_id, RunStatus.CLAIMED, got.attempts), RunStatus.CLAIMED
                )
            got = Claim(ClaimResult.RETRY, got.run_id, RunStatus.CLAIMED, got.attempts + 1)
            note = f"sent only to {', '.join(_address(r) for r in new)} (the others already had it)"
    if got.result in (ClaimResult.DONE, ClaimResult.BUSY):
        return UnitResult(unit, got, got.status)
    timings: dict[str, float] = {}
    try:
        with heartbeat(engine, got.run_id, clock, production.heartbeat_s):
            set_status(engine, got.run_id, RunStatus.RENDERING, clock())
            t = time.perf_counter()
            report = produce_unit(engine, unit, _formats(unit), clock(), production.branding)
            timings["render_s"] = time.perf_counter() - t
            _checkpoint()
            paths: list[str] = []
            folder = None
            if unit.archive:
                archive = Archive(production.archive_root)
                stored = report.store_in(archive, unit.job)
                paths = [str(stored.path(archive.root, a.name)) for a in stored.artifacts]
                folder = stored.folder
                if production.retention_days or production.retention_runs:
                    archive.apply_retention(clock(), production.retention_days, production.retention_runs)
            set_status(engine, got.run_id, RunStatus.STORED, clock(), artifacts=paths, final=not unit.delivers)
            if not unit.delivers:
                return UnitResult(unit, got, RunStatus.STORED, tuple(paths), timings=timings)
            _checkpoint()
            t = time.perf_counter()
            outcomes = (
                _deliver(engine, got.run_id, unit, production, report, paths, clock, sleep, resend)
                if unit.recipients
                else []
            )
            if unit.destinations:
                _checkpoint()
                outcomes += _tell_destinations(engine, got.run_id, unit, report, folder, settings, clock, sleep, resend)
            timings["deliver_s"] = time.perf_counter() - t
    except BaseException as exc:
        # Interrupted or broken: the unit is recorded as failed, so it can be retried at once.
        set_status(engine, got.run_id, RunStatus.FAILED, clock(), error=f"{type(exc).__name__}: {exc}")
        if not isinstance(exc, Exception):
            raise
        raise UnitFailed(f"{unit.job} / {unit.campaign_id} / {unit.period}: failed: {exc}") from exc
    failed = [o for o in outcomes if not o.sent and not o.unknown]
    standing = recipient_statuses(engine, got.run_id)  # this attempt's outcomes and the earlier ones
    unknown = sorted(r for r in {_address(r) for r in unit.recipients} if standing.get(r) == "unknown")
    if failed:
        error = "not delivered to " + ", ".join(f"{o.recipient} ({o.code} {o.message})" for o in failed)
        set_status(engine, got.run_id, RunStatus.FAILED, clock(), error=error)
        if not any(o.transient for o in failed):  # refused for good: retrying would not change the answer
            tell_operators(engine, got.run_id, unit, production, error, clock, settings=settings, sleep=sleep)
        return UnitResult(unit, got, RunStatus.FAILED, tuple(paths), tuple(outcomes), timings, note)
    if unknown:
        error = "outcome unknown for " + ", ".join(unknown) + " (the server may have delivered it)"
        set_status(engine, got.run_id, RunStatus.UNKNOWN, clock(), error=error)
        return UnitResult(unit, got, RunStatus.UNKNOWN, tuple(paths), tuple(outcomes), timings, note)
    set_status(engine, got.run_id, RunStatus.DELIVERED, clock())
    return UnitResult(unit, got, RunStatus.DELIVERED, tuple(paths), tuple(outcomes), timings, note)


def not_yet_told(engine: Engine, unit: Unit, run_id: int, resend: bool = False) -> list[str]:
    """The unit's recipients and destinations its delivered run has not been sent to (see handled_recipients)."""
    handled = handled_recipients(engine, run_id, resend)
    return [r for r in unit.recipients if _address(r) not in handled] + [
        d for d in unit.destinations if d not in handled
    ]


def _address(recipient: str) -> str:
    return parseaddr(recipient)[1] or recipient


def tell_operators(
    engine: Engine,
    run_id: int,
    unit: Unit,
    production: Production,
    error: str,
    clock: Callable[[], datetime],
    why: str = "failed",
    settings: Settings | None = None,
    sleep: Callable[[float], None] | None = None,
) -> None:
    """Tell `notify.on_failure` (addresses and destinations) that a unit failed for good: once per unit, whichever
    process gets here first."""
    if not mark_final(engine, run_id, clock()):
        return
    where = f"{unit.job} / {unit.campaign_id} / {unit.period}"
    log.error("%s: %s for good: %s", where, why, error)
    addresses = [t for t in production.notify_to if "@" in t]
    names = [t for t in production.notify_to if "@" not in t]
    local = zone(unit.timezone)
    command = (
        f"reporter run {shlex.quote(unit.job)} --campaign {shlex.quote(unit.campaign_id)} --period "
        f"{unit.start.astimezone(local).date()}..{unit.end.astimezone(local).date()}"
    )
    if names and settings is None:
        log.error("%s: cannot tell destinations %s: no settings to find them in", where, ", ".join(names))
    elif names and settings is not None:
        notice = failure_notice(unit.job, unit.campaign_id, unit.period, why, error, command)
        for name in names:
            last = send_notice(name, notice, settings, sleep=sleep, clock=clock)[-1]
            if last.status != "delivered":
                log.error("%s: could not tell destination %s of the failure: %s", where, name, last.message)
    if not addresses:
        return
    if production.smtp is None:
        log.error("%s: cannot tell %s: no SMTP server configured", where, ", ".join(addresses))
        return
    text = (
        f"The report {where} {why} for good and will not be retried automatically.\n\n"
        f"Last error: {error}\n\n"
        f"To try again: {command}\n"
    )
    message = build_message(
        production.sender,
        addresses,
        [],
        f"reporter: {where} {why}",
        f"<pre>{html_escape(text)}</pre>",
        text,
        [],
        clock(),
    )
    for outcome in send(production.smtp, message, production.sender, addresses):
        if not outcome.sent:
            log.error(
                "%s: could not tell %s of the failure: %s %s", where, outcome.recipient, outcome.code, outcome.message
            )


EXPORT_TYPES = {"csv": "application/zip", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def produce_unit(
    engine: Engine, unit: Unit, formats: tuple[str, ...], generated_at: datetime, branding: Branding
) -> Report:
    """The unit's report: its campaign's, or its portfolio's (one report of the unit's campaigns)."""
    if unit.portfolio is not None:
        return produce_portfolio(
            engine, unit.portfolio, unit.start, unit.end, unit.timezone, formats, generated_at, branding
        )
    return produce(engine, unit.campaign_id, unit.start, unit.end, unit.timezone, formats, generated_at, branding)


def _formats(unit: Unit) -> tuple[str, ...]:
    """The unit's formats, and the PDF also when there are recipients (the mail attaches or links it)."""
    return unit.formats + (("pdf",) if unit.recipients and "pdf" not in unit.formats else ())


def preview_unit(engine: Engine, unit: Unit, production: Production, clock: Callable[[], datetime]) -> UnitResult:
    """A dry run: render and store under the archive's preview folder, send nothing, log nothing in the run log."""
    report = produce_unit(engine, unit, unit.formats, clock(), production.branding)
    archive = Archive(f"{production.archive_root}/_preview")
    stored = report.store_in(archive, unit.job)
    if unit.delivers:
        log.info("dry run: would send %s to %s", unit.campaign_id, ", ".join(unit.recipients + unit.destinations))
    preview = Claim(ClaimResult.NEW, 0, "preview", 0)
    return UnitResult(unit, preview, "preview", tuple(str(stored.path(archive.root, a.name)) for a in stored.artifacts))


def _deliver(
    engine: Engine,
    run_id: int,
    unit: Unit,
    production: Production,
    report: Report,
    paths: list[str],
    clock: Callable[[], datetime],
    sleep: Callable[[float], None] | None,
    resend: bool,
) -> list[Outcome]:
    if production.smtp is None:
        raise ReporterError("no SMTP server configured")
    done = handled_recipients(engine, run_id, resend)
    pending = [r for r in unit.recipients if _address(r) not in done]
    if not pending:  # every address has it: this attempt is for a destination
        return []
    files = report.files
    pdf_name = report.named("pdf")
    assert pdf_name is not None  # _formats asks for it
    attachments = []
    note = "The full report is attached as a PDF."
    if len(files[pdf_name]) <= production.max_attachment_bytes:
        attachments.append(Attachment(pdf_name, "application/pdf", files[pdf_name]))
    else:
        where = next((p for p in paths if p.endswith(".pdf")), None)
        size = len(files[pdf_name]) / 2**20
        note = (
            f"The PDF ({size:.1f} MB) is larger than the {production.max_attachment_bytes / 2**20:.0f} MB limit for "
            "attachments; "
            + (
                f"it is in the report archive: {where}"
                if where
                else "it was not archived (archive is off for this job)."
            )
        )
    html_name = report.named("html")
    if unit.attach_html and html_name and len(files[html_name]) <= production.max_attachment_bytes:
        attachments.append(Attachment(html_name, "text/html", files[html_name]))
    for fmt, content_type in EXPORT_TYPES.items():  # the figures, when the job asks for them
        name = report.named(fmt)
        if name is None:
            continue
        if len(files[name]) <= production.max_attachment_bytes:
            attachments.append(Attachment(name, content_type, files[name]))
        else:
            where = next((p for p in paths if p.endswith(name)), None)
            note += f" The {fmt.upper()} export is larger than the attachment limit; " + (
                f"it is in the report archive: {where}" if where else "it was not archived (archive is off)."
            )
    body = report.email(unit.subject, note, production.branding)
    to = [r for r in unit.to if r in pending]
    cc = [r for r in unit.cc if r in pending]
    message = build_message(production.sender, to, cc, body.subject, body.html, body.text, attachments, clock())
    outcomes = send(production.smtp, message, production.sender, pending, sleep=sleep)
    kinds = {_address(r): kind for kind, group in (("bcc", unit.bcc), ("cc", unit.cc), ("to", unit.to)) for r in group}
    for outcome in outcomes:
        record_delivery(
            engine,
            run_id,
            outcome.recipient,
            outcome.status,
            outcome.code,
            outcome.message,
            clock(),
            kinds.get(outcome.recipient),
        )
    return outcomes


def _tell_destinations(
    engine: Engine,
    run_id: int,
    unit: Unit,
    report: Report,
    folder: str | None,
    settings: Settings | None,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None] | None,
    resend: bool,
) -> list[Outcome]:
    """Give each destination that has not had it the report notice; record each outcome as it comes."""
    if settings is None:
        raise ReporterError(f"destinations {', '.join(unit.destinations)} given without the settings that define them")
    done = handled_recipients(engine, run_id, resend)
    link = report_link(settings.web.base_url, folder)
    if report.stats is None:
        assert report.portfolio is not None
        notice = portfolio_notice(unit.job, unit.period, unit.subject, report.portfolio, report.rendered.summary, link)
    else:
        notice = report_notice(unit.job, unit.period, unit.subject, report.stats, report.rendered.summary, link)
    outcomes = []
    for name in unit.destinations:
        if name in done:
            continue
        attempts = send_notice(name, notice, settings, sleep=sleep, clock=clock)
        last = attempts[-1]
        message = _attempts_text(attempts)
        status = "sent" if last.status == "delivered" else last.status
        record_delivery(engine, run_id, name, status, last.code, message, clock(), kind_of(name, settings))
        outcomes.append(
            Outcome(
                name,
                last.status == "delivered",
                last.code,
                message,
                transient=last.transient,
                unknown=last.status == "unknown",
            )
        )
    return outcomes


def _attempts_text(attempts: list[Attempt]) -> str:
    """The last attempt's message, and what the earlier ones got: `200 OK (attempt 2; earlier: 503)`."""
    last = attempts[-1]
    if len(attempts) == 1:
        return last.message
    earlier = ", ".join(str(a.code) if a.code else a.message.partition(":")[0] for a in attempts[:-1])
    return f"{last.message} (attempt {len(attempts)}; earlier: {earlier})"
