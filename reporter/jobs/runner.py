"""Running a configured job: which campaigns, which period, one unit of work each.

`run_job` is the one path of `reporter run` and of the scheduler;
`scheduled_run` is the thin function APScheduler calls (by textual reference).
`retry_units` is the scheduler's second duty: failed and abandoned units of
earlier runs are retried with backoff until `scheduler.retry_for_h` has
passed, then given up (logged, and operators told once).
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from email.utils import parseaddr
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, exists, select

from reporter.delivery.destinations import check_destinations
from reporter.errors import PeriodError, UnitFailed, UnknownCampaignError, UserError
from reporter.jobs.periods import PERIODS, period_bounds
from reporter.jobs.runlog import WORKING, abandoned, retry_backoff, set_status, unfinished
from reporter.jobs.schedule import latest_fire_time
from reporter.jobs.unit import STOP, Unit, UnitResult, preview_unit, run_unit, stop_now, tell_operators
from reporter.logs import log_unit
from reporter.models import Campaign, Event, EventType, RunStatus
from reporter.production import PORTFOLIO, Production
from reporter.settings import DEFAULT_SUBJECT, JobSettings, Settings
from reporter.timezones import from_us, local_midnight, to_us, zone

if TYPE_CHECKING:
    from reporter.jobs.queue import UnitQueue

log = logging.getLogger(__name__)


def parse_period(value: str, tz: str) -> tuple[datetime, datetime] | str:
    """--period: a period name, or FROM..TO dates (TO excluded) in the job's timezone."""
    if value in PERIODS:
        return value
    if len(value) == 10 and ".." not in value:  # one day
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise PeriodError(f"not a period name or FROM..TO dates: {value!r}") from None
        z = zone(tz)
        return local_midnight(day, z), local_midnight(day + timedelta(days=1), z)
    if ".." in value:
        first, _, last = value.partition("..")
        try:
            start, end = date.fromisoformat(first), date.fromisoformat(last)
        except ValueError:
            raise PeriodError(f"not a period name or FROM..TO dates: {value!r}") from None
        if start >= end:
            raise PeriodError(f"the period is empty: {value!r} (TO is excluded)")
        z = zone(tz)
        return local_midnight(start, z), local_midnight(end, z)
    raise PeriodError(f"not a period name ({', '.join(PERIODS)}) or FROM..TO dates: {value!r}")


def select_campaigns(engine: Engine, job: JobSettings, start: datetime, end: datetime) -> list[str]:
    """The job's campaigns: a list, a name pattern, or `active` (at least one send in the period)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(Campaign.id, Campaign.campaign_id, Campaign.name).order_by(Campaign.campaign_id)
        ).all()
        if job.campaigns == "active":
            sent = exists().where(
                Event.campaign_pk == Campaign.id,
                Event.event == int(EventType.SENT),
                Event.ts >= to_us(start),
                Event.ts < to_us(end),
            )
            return list(conn.execute(select(Campaign.campaign_id).where(sent).order_by(Campaign.campaign_id)).scalars())
    if isinstance(job.campaigns, list):
        known = {cid for _, cid, _ in rows}
        unknown = [c for c in job.campaigns if c not in known]
        if unknown:
            log.warning("job %s: unknown campaigns skipped: %s", job.name, ", ".join(unknown))
        return [c for c in job.campaigns if c in known]
    return [cid for _, cid, name in rows if fnmatchcase(name, job.campaigns.name)]


def portfolio_campaigns(engine: Engine, job: JobSettings, start: datetime, end: datetime) -> list[str]:
    """A portfolio's campaigns: the job's, `active` meaning with a send in the period or the one before it (the
    campaigns that stopped sending are listed apart in the report, not dropped)."""
    return select_campaigns(engine, job, start - (end - start), end)


def _first_event(engine: Engine, campaign_id: str) -> datetime | None:
    with engine.connect() as conn:
        first = conn.execute(select(Campaign.first_event_us).where(Campaign.campaign_id == campaign_id)).scalar()
    return from_us(first) if first is not None else None


def unit_template(settings: Settings, job: JobSettings, tz: str, at: datetime) -> Unit:
    """A unit of the job with its formats, recipients and destinations; campaign and period still to fill in.

    An email destination's addresses join the job's own (each address once): they get the report mail.
    """
    email = job.email
    lists = {
        "to": list(email.to if email else ()),
        "cc": list(email.cc if email else ()),
        "bcc": list(email.bcc if email else ()),
    }
    named = [settings.destinations[name] for name in job.destinations]
    for destination in (d for d in named if d.type == "email"):
        for kind in ("to", "cc", "bcc"):
            lists[kind] += getattr(destination, kind)
    seen: set[str] = set()
    for kind in ("to", "cc", "bcc"):  # an address in two places gets one mail, as the first place says
        kept = []
        for recipient in lists[kind]:
            if parseaddr(recipient)[1] not in seen:
                seen.add(parseaddr(recipient)[1])
                kept.append(recipient)
        lists[kind] = kept
    mail: dict[str, Any] = {} if email is None else {"subject": email.subject, "attach_html": email.attach_html}
    return Unit(
        job=job.name,
        campaign_id="",
        start=at,
        end=at,
        timezone=tz,
        formats=tuple(job.formats),
        archive=job.archive,
        to=tuple(lists["to"]),
        cc=tuple(lists["cc"]),
        bcc=tuple(lists["bcc"]),
        destinations=tuple(n for n, d in zip(job.destinations, named, strict=True) if d.type != "email"),
        **mail,
    )


def _mails(settings: Settings, job: JobSettings) -> bool:
    """Whether the job e-mails anyone: its `email:` or an email destination."""
    return bool(job.email) or any(settings.destinations[name].type == "email" for name in job.destinations)


def plan_units(
    engine: Engine,
    settings: Settings,
    job: JobSettings,
    fire_time: datetime,
    campaigns: Sequence[str] = (),
    period: str | None = None,
) -> list[Unit]:
    """The units of one run of a job: one per campaign, each with its period."""
    tz = settings.timezone_of(job)
    chosen = parse_period(period, tz) if period else job.period
    template = unit_template(settings, job, tz, fire_time)
    if isinstance(chosen, tuple):
        start, end = chosen
    elif chosen != "campaign_lifetime":
        start, end = period_bounds(chosen, fire_time, tz)
    else:
        start, end = datetime(1970, 1, 2, tzinfo=UTC), fire_time
    ids = list(campaigns) if campaigns else select_campaigns(engine, job, start, end)
    if campaigns:
        with engine.connect() as conn:
            known = set(conn.execute(select(Campaign.campaign_id).where(Campaign.campaign_id.in_(ids))).scalars())
        missing = [c for c in ids if c not in known]
        if missing:
            raise UnknownCampaignError(missing[0])
    if job.kind == "portfolio":
        if not campaigns:
            ids = portfolio_campaigns(engine, job, start, end)
        return [replace(template, campaign_id=PORTFOLIO, start=start, end=end, portfolio=tuple(ids))]
    units = []
    for cid in ids:
        if chosen == "campaign_lifetime":
            start, end = period_bounds("campaign_lifetime", fire_time, tz, _first_event(engine, cid))
        units.append(replace(template, campaign_id=cid, start=start, end=end))
    return units


def production_for(settings: Settings, jobs: Sequence[JobSettings] | None = None, check: bool = False) -> Production:
    """The production of these jobs (all by default): with the SMTP server when one mails or operators are notified.

    An unset URL or secret variable of a destination they use is a UserError here, at start-up.
    """
    chosen = settings.jobs if jobs is None else jobs
    notify = settings.notify.on_failure
    check_destinations(
        settings, [*(n for job in chosen for n in job.destinations), *(t for t in notify if "@" not in t)]
    )
    mails = any(_mails(settings, job) for job in chosen)
    mail = mails or any("@" in t for t in notify)
    return Production.from_settings(settings, mail=mail, check=check and mails)


def run_job(
    engine: Engine,
    settings: Settings,
    job: JobSettings,
    fire_time: datetime,
    production: Production,
    campaigns: Sequence[str] = (),
    period: str | None = None,
    dry_run: bool = False,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    resend: bool = False,
    queue: UnitQueue | None = None,
) -> list[UnitResult]:
    """Run every unit of one run of a job (or send each to `queue`); a failed unit does not stop the others."""
    STOP.clear()  # a SIGTERM seen by an earlier run of this process ended that run, not this one
    results = []
    failures = []
    unmailed = ""
    units = plan_units(engine, settings, job, fire_time, campaigns, period)  # bad arguments stop here, unlogged
    if _mails(settings, job) and not settings.mails:
        unmailed = "not mailed: no SMTP server is configured (add an smtp: section to the config)"
        log.warning("%s: %s", job.name, unmailed)
    for unit in units:
        if unmailed:
            unit = replace(unit, to=(), cc=(), bcc=())
        if queue is not None and not dry_run:
            sent = queue.put(unit, resend)
            results.append(sent)
            status = "queued" if sent.claim.result != "done" else "skipped (done)"
            log_unit(log, {"job": unit.job, "campaign": unit.campaign_id, "period": unit.period, "status": status})
            continue
        try:
            result = run_one(engine, settings, unit, production, clock, resend, dry_run)
        except UnitFailed as exc:
            failures.append(exc)
            if STOP.is_set():
                break  # SIGTERM: leave the remaining units for the next run
            continue
        results.append(replace(result, note=unmailed) if unmailed and not result.note else result)
    if failures:
        raise UnitFailed("; ".join(str(f) for f in failures)) from failures[0]
    return results


def run_one(
    engine: Engine,
    settings: Settings,
    unit: Unit,
    production: Production,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    resend: bool = False,
    dry_run: bool = False,
) -> UnitResult:
    """Produce one unit here (a job's run, a queue worker) and log its outcome; UnitFailed when it failed."""
    fields = {"job": unit.job, "campaign": unit.campaign_id, "period": unit.period}
    try:
        if dry_run:
            result = preview_unit(engine, unit, production, clock)
        else:
            result = run_unit(engine, unit, production, clock, resend=resend, settings=settings)
    except UnitFailed as exc:
        log_unit(log, {**fields, "status": "failed", "error": str(exc.__cause__ or exc)})
        raise
    log_unit(
        log,
        {
            **fields,
            "status": str(result.status)
            if result.claim.result in ("new", "retry")
            else f"skipped ({result.claim.result})",
            "attempt": result.claim.attempts,
            **{k: round(v, 3) for k, v in result.timings.items()},
            "error": "; ".join(f"{o.recipient} {o.code}" for o in result.outcomes if not o.sent) or None,
        },
    )
    return result


def deliver_now(
    engine: Engine,
    settings: Settings,
    campaign_id: str,
    start: datetime | None,
    end: datetime | None,
    tz: str,
    job: str = "adhoc",
    to: Sequence[str] = (),
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
    subject: str | None = None,
    attach_html: bool = False,
    archive: bool = True,
    formats: tuple[str, ...] = ("pdf", "html"),
    resend: bool = False,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> UnitResult:
    """One campaign's report now, archived and mailed once, as a unit of the run log (`reporter deliver`).

    The addresses must be valid (`settings.check_address`); the period defaults as `reporter stats` does.
    """
    from reporter.metrics import resolve_period

    recipients = (*to, *cc, *bcc)
    if not recipients and not archive:
        raise UserError("with no recipient and no archive there is nothing to deliver")
    if recipients and not settings.mails:
        raise UserError("no SMTP server is configured: add an smtp: section to the config to send e-mail")
    production = Production.from_settings(settings, mail=bool(recipients), check=bool(recipients))
    with engine.connect() as conn:
        period = resolve_period(conn, campaign_id, start, end, tz)
    unit = Unit(
        job=job,
        campaign_id=campaign_id,
        start=period.start,
        end=period.end,
        timezone=tz,
        formats=formats,
        archive=archive,
        to=tuple(to),
        cc=tuple(cc),
        bcc=tuple(bcc),
        subject=subject or DEFAULT_SUBJECT,
        attach_html=attach_html,
    )
    return run_unit(engine, unit, production, clock, resend=resend, settings=settings)


def retry_units(
    engine: Engine,
    settings: Settings,
    production: Production,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    queue: UnitQueue | None = None,
) -> list[UnitResult]:
    """Retry the configured jobs' failed and abandoned units whose backoff has passed; give up after retry_for_h.

    With a `queue`, each is sent to the workers instead of produced here.

    A unit is retried with the job's current settings (recipients, formats) and
    the period it was planned for. Units of `reporter deliver` (no job in the
    config) are left to the operator.
    """
    now = clock()
    retry_for = timedelta(hours=settings.scheduler.retry_for_h)
    abandon_after = timedelta(seconds=settings.scheduler.abandon_after_s)
    jobs = {job.name: job for job in settings.jobs}
    results = []
    for run in unfinished(engine):
        job = jobs.get(run.job)
        if job is None:
            continue
        status, error, waited = run.status, run.error, False
        if status in WORKING:
            why = abandoned(status, run.owner, run.updated_at, now, abandon_after)
            if why is None:
                continue  # in hand, alive
            if not set_status(engine, run.id, RunStatus.FAILED, now, error=why, expect=status):
                continue
            log.warning("%s / %s / %s: %s", run.job, run.campaign_id, run.period, why)
            status, error, waited = RunStatus.FAILED, why, True  # it did not fail: no backoff
        unit = replace(
            unit_template(settings, job, run.timezone, now),
            campaign_id=run.campaign_id,
            start=run.period_from,
            end=run.period_to,
        )
        if run.campaign_id == PORTFOLIO:  # its campaigns as the job selects them for that period now
            unit = replace(unit, portfolio=tuple(portfolio_campaigns(engine, job, run.period_from, run.period_to)))
        if unit.period != run.period:
            log.warning("run %d: period %s no longer matches its bounds; not retried", run.id, run.period)
            continue
        first = run.first_claimed_at or run.claimed_at
        if now - first >= retry_for:
            tell_operators(
                engine,
                run.id,
                unit,
                production,
                error or "failed",
                clock,
                why=f"was given up after {run.attempts} attempts in {settings.scheduler.retry_for_h:g} h",
                settings=settings,
            )
            continue
        if not waited and now < run.updated_at + retry_backoff(run.attempts):
            continue
        fields = {"job": unit.job, "campaign": unit.campaign_id, "period": unit.period}
        if queue is not None:
            results.append(queue.put(unit, now=now))  # failed or abandoned: never done, so always sent
            log_unit(log, {**fields, "status": "queued", "retry": True, "attempt": run.attempts + 1})
            continue
        try:
            result = run_unit(engine, unit, production, clock, settings=settings)
        except UnitFailed as exc:
            log_unit(log, {**fields, "status": "failed", "retry": True, "error": str(exc.__cause__ or exc)})
            if STOP.is_set():
                break
            continue
        log_unit(log, {**fields, "status": str(result.status), "retry": True, "attempt": result.claim.attempts})
        results.append(result)
    return results


def scheduled_retry(config_path: str | None, db_url: str, fire_time: str | None = None) -> int:
    """What APScheduler runs every minute or so (in a worker process): `retry_units`."""
    settings, engine, production = _worker_setup(config_path, db_url)
    try:
        return len(retry_units(engine, settings, production, queue=queue_of(engine, settings)))
    finally:
        engine.dispose()


def _worker_setup(config_path: str | None, db_url: str) -> tuple[Settings, Engine, Production]:
    """A worker process's settings, engine and production; SIGTERM stops the unit in hand, never half-writes it."""
    import threading

    from reporter.db import make_engine, runtime_url, with_copy
    from reporter.logs import configure
    from reporter.settings import load_settings

    if threading.current_thread() is threading.main_thread():  # a worker process, not a thread pool
        signal.signal(signal.SIGTERM, stop_now)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the scheduler's: the report in hand finishes
    settings = load_settings(Path(config_path) if config_path else None)
    configure(settings.logging.format, settings.logging.level)  # worker processes may be spawned, not forked
    engine = with_copy(make_engine(runtime_url(db_url)), settings.database.columnar_copy)
    return settings, engine, production_for(settings)


def queue_of(engine: Engine, settings: Settings) -> UnitQueue | None:
    """The work queue when `queue.url` is set (Celery imported only then), else None: units run here."""
    if not settings.queue.configured:
        return None
    from reporter.jobs.queue import UnitQueue

    return UnitQueue(engine, settings)


def scheduled_run(job_name: str, config_path: str | None, db_url: str, fire_time: str | None = None) -> int:
    """What APScheduler runs (in a worker process): one run of the job, due at `fire_time` (with `queue.url`:
    its units sent to the workers)."""
    settings, engine, production = _worker_setup(config_path, db_url)
    job = settings.job(job_name)
    tz = settings.timezone_of(job)
    now = datetime.now(UTC)
    grace = timedelta(seconds=settings.scheduler.misfire_grace_s)
    due = (
        datetime.fromisoformat(fire_time)
        if fire_time
        else (latest_fire_time(job.schedule, tz, now, grace + timedelta(minutes=1)) or now)
    )
    try:
        return len(run_job(engine, settings, job, due, production, queue=queue_of(engine, settings)))
    finally:
        engine.dispose()
