"""Producing a report: the one home of the work from campaign data to files.

`produce` computes the figures (and the previous period's, for the
comparison), renders the HTML, lays out the PDF when asked for, and names the
files `<campaign>_<period>.<format>` wherever they go (a folder, the archive,
an attachment). `Production` is how and where reports go (archive, SMTP,
branding, limits), built once from the settings. `reporter render` writes a
report with `write_report`; the scheduler, `reporter run`, `reporter
deliver` and the web's "Run now" go through `reporter.jobs.runner`, which
produces each unit through `produce`.
"""

from __future__ import annotations

import base64
import gc
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from reporter.branding import Branding
from reporter.db import copy_path, sqlite_in_memory
from reporter.delivery.archive import Archive, ArchivedRun
from reporter.delivery.email import SmtpConfig, check_connection
from reporter.errors import FormatError, PeriodError, UserError
from reporter.files import DEFAULT_FORMATS, EXTENSIONS, FORMATS, period_name, safe_name, write_atomic
from reporter.layout_engine import load_weasyprint
from reporter.metrics import CampaignStats, compute_stats_concurrently
from reporter.metrics.model import Period
from reporter.metrics.portfolio import Portfolio, portfolio
from reporter.metrics.serialize import stats_to_json
from reporter.settings import Settings
from reporter.timezones import zone

if TYPE_CHECKING:
    from reporter.exports import Table
    from reporter.render import EmailBody, Rendered


def parse_formats(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """`pdf,html` -> ('pdf', 'html'); an unknown format is a FormatError."""
    items = value.split(",") if isinstance(value, str) else list(value)
    formats = tuple(dict.fromkeys(f.strip().lower() for f in items if f.strip()))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise FormatError(
            f"unknown format {unknown[0]!r} (expected pdf, html, csv or xlsx)"
            if unknown
            else "no format given (expected pdf, html, csv or xlsx)"
        )
    return formats


def report_name(campaign_id: str, period: Period) -> str:
    """The base name of a report's files: `<campaign>_<period>` (the period's ISO form)."""
    return f"{safe_name(campaign_id)}_{period_name(period)}"


PORTFOLIO = "@portfolio"  # the campaign id of a portfolio's unit of work and archived runs (no campaign id has an @)


@dataclass(frozen=True)
class Report:
    """One report over one period: a campaign's (`stats`) or a portfolio's, its HTML, and its files by name."""

    stats: CampaignStats | None
    rendered: Rendered
    files: dict[str, bytes]
    portfolio: Portfolio | None = None
    title: str = ""  # a portfolio's title

    @property
    def campaign_id(self) -> str:
        return self.stats.campaign.id if self.stats is not None else PORTFOLIO

    @property
    def campaign_name(self) -> str:
        return self.stats.campaign.name if self.stats is not None else self.title

    @property
    def period(self) -> Period:
        if self.stats is not None:
            return self.stats.period
        assert self.portfolio is not None
        return self.portfolio.period

    def named(self, fmt: str) -> str | None:
        """The name of the file of one format, None when it was not produced."""
        return next((name for name in self.files if name.endswith(f".{EXTENSIONS[fmt]}")), None)

    def store_in(self, archive: Archive, job: str) -> ArchivedRun:
        """Store the report's files in the archive as `job`'s run of this campaign (or portfolio) and period."""
        p = self.period
        return archive.store(
            job,
            self.campaign_id,
            self.campaign_name,
            period_name(p),
            p.timezone,
            self.rendered.generated_at,
            self.files,
        )

    def email(self, subject_template: str, note: str, branding: Branding) -> EmailBody:
        from reporter.portfolio_report import render_portfolio_email
        from reporter.render import render_email

        if self.stats is None:
            assert self.portfolio is not None
            return render_portfolio_email(self.portfolio, self.title, subject_template, note, branding)
        return render_email(self.stats, subject_template, note, branding, self.rendered.summary)


def previous_stats(engine: Engine, stats: CampaignStats) -> CampaignStats:
    """The same campaign's headline card over the period of equal length just before (what the report's changes
    compare with: its totals and control group; no trend, split or verdicts, which cost most of a report's reads)."""
    length = stats.period.end - stats.period.start
    return compute_stats_concurrently(
        engine, stats.campaign.id, stats.period.start - length, stats.period.start, stats.period.timezone, card=True
    )


RENDERING = ("reporter.render", "reporter.portfolio_report")  # Matplotlib and Jinja2 come with them
LAYOUT = ("weasyprint",)
_IMPORTING = threading.Lock()


@contextmanager
def rendering_loaded_meanwhile(pdf: bool) -> Iterator[None]:
    """Import the rendering modules (and WeasyPrint when a PDF is due) on a thread while the block runs.

    The block is the figures' computation, which waits on the database (SQLite, PostgreSQL and DuckDB run
    their statements without holding Python's lock): the second or so a fresh process spends importing
    Matplotlib, Jinja2 and WeasyPrint happens meanwhile instead of after it. A process that has them already
    starts no thread; the thread is always finished when the block is left (nothing outlives `produce`).

    The garbage collector rests meanwhile (imports make objects to keep, which each collection would walk
    again), and once the imports are done the objects alive (the libraries' millions, long-lived by nature) are
    moved out of its sight (`gc.freeze`): the rendering's full collections no longer walk them all. Together
    0.5 s of a fresh `reporter render` of a million-user campaign (3.8 s -> 3.3 s). The importing thread
    freezes, while the figures are still being computed, not the report's thread after them, without a full
    collection first: that walk of every object took 0.1 s of the report's critical path to free the imports'
    own garbage, about 1 MB. What is frozen (that garbage, and what the figures' thread holds at that instant:
    its statements, rows on their way) is never collected; a process that renders again and again (the
    scheduler, a worker) pays it once.
    """
    imports = RenderingImports(pdf)
    imports.start()
    try:
        yield
    finally:
        imports.finish()


class RenderingImports:
    """The rendering modules imported on a thread from `start()` (see rendering_loaded_meanwhile) until
    `finish()`, which waits for them and is always called; without `start()`, `finish()` only waits for another
    report's thread that may be importing them."""

    def __init__(self, pdf: bool) -> None:
        self._missing = _missing(pdf)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not self._missing or self._thread is not None:
            return
        thread = threading.Thread(target=_load, args=(self._missing,), name="reporter-imports")
        _collector.rest()
        try:
            thread.start()
        except BaseException:
            _collector.resume()
            raise
        self._thread = thread  # only a started thread is joined (and the collector resumed) by finish()

    def finish(self) -> None:
        if self._thread is None:
            with _IMPORTING:  # another report's thread may still be importing them: wait until they are whole
                return
        try:
            self._thread.join()
        finally:
            _collector.resume()


def _missing(pdf: bool) -> list[str]:
    return [name for name in RENDERING + (LAYOUT if pdf else ()) if name not in sys.modules]


def _load(missing: list[str]) -> None:
    # One thread at a time imports them: two importing Matplotlib at once see it half made (seen: "module
    # 'matplotlib' has no attribute 'get_data_path'" when two reports started together).
    with _IMPORTING:
        for name in missing:
            with suppress(Exception):  # a failing import fails again, with its message, where it is used
                if name == "weasyprint":
                    load_weasyprint()  # without the library look-ups' processes (reporter.layout_engine)
                else:
                    __import__(name)
        if all(name in sys.modules for name in missing):  # once: a failing import is not frozen again and again
            gc.freeze()  # without collecting first (see rendering_loaded_meanwhile)


class _Collector:
    """The garbage collector off while any thread's rendering modules import, back as it was after the last."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._resting = 0
        self._was_on = False

    def rest(self) -> None:
        with self._lock:
            if self._resting == 0:
                self._was_on = gc.isenabled()
                gc.disable()
            self._resting += 1

    def resume(self) -> None:
        with self._lock:
            self._resting -= 1
            if self._resting == 0 and self._was_on:
                gc.enable()


_collector = _Collector()


def timestamp_now(now: datetime | None = None) -> datetime:
    """When a report is generated: `now` (by default the clock's, to the second, UTC), or the instant of
    SOURCE_DATE_EPOCH when that is set (the reproducible-builds convention): the same data, the same files."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        if not epoch.isdigit():
            raise UserError(f"SOURCE_DATE_EPOCH must be a number of seconds since 1970-01-01 UTC, got {epoch!r}")
        return datetime.fromtimestamp(int(epoch), UTC)
    return now or datetime.now(UTC).replace(microsecond=0)


def produce(
    engine: Engine,
    campaign_id: str,
    start: datetime | None,
    end: datetime | None,
    tz: str,
    formats: tuple[str, ...],
    generated_at: datetime,
    branding: Branding = Branding(),
) -> Report:
    """Compute, render and lay out one campaign's report (the PDF only when `formats` asks for it).

    `generated_at` gives way to SOURCE_DATE_EPOCH when that is set, whoever's clock it came from (the jobs',
    the demo's).
    """
    generated_at = timestamp_now(generated_at)
    copy = copy_path(engine)
    if copy is not None:
        # Through the columnar copy the figures take well under a second on every core DuckDB has, and the
        # card of the period before rides on their connection. The rendering modules are imported beside
        # the queries that follow those over every user (their hash tables, up to 75 MB each for a million
        # users): the import's 45 MB never meet those. Imported beside all of them, a million-user
        # campaign's report peaked at 265 MB; after all of them it took 0.13 s more (2.69 s, 226 MB).
        from reporter.metrics.columnar import compute_stats_and_previous

        imports = RenderingImports("pdf" in formats)
        try:
            stats, previous = compute_stats_and_previous(
                engine, copy, campaign_id, start, end, tz, lighter_queries_next=imports.start
            )
        finally:
            imports.finish()
        from reporter.render import draw_charts

        charts = draw_charts(stats)
    else:
        with rendering_loaded_meanwhile("pdf" in formats):
            stats = compute_stats_concurrently(engine, campaign_id, start, end, tz)
        from reporter.render import draw_charts

        # The previous period's card is computed while the charts are drawn: its database's work runs without
        # Python's lock, the charts' drawing with it.
        if sqlite_in_memory(engine):  # its database exists for this thread's connection only
            charts = draw_charts(stats)
            previous = previous_stats(engine, stats)
        else:
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="reporter-card") as pool:
                card = pool.submit(previous_stats, engine, stats)
                charts = draw_charts(stats)
                previous = card.result()
    from reporter.render import render_html

    rendered = render_html(stats, previous, generated_at, branding, charts)
    base = report_name(stats.campaign.id, stats.period)
    return Report(stats, rendered, _files(base, rendered, formats, lambda: _campaign_tables(stats)))


def produce_portfolio(
    engine: Engine,
    campaign_ids: Sequence[str] | None,
    start: datetime,
    end: datetime,
    tz: str,
    formats: tuple[str, ...],
    generated_at: datetime,
    branding: Branding = Branding(),
    title: str = "Campaign portfolio",
) -> Report:
    """Compute, render and lay out the portfolio report of these campaigns (every one when None) over a period."""
    generated_at = timestamp_now(generated_at)
    period = resolve_portfolio_period(start, end, tz)
    with rendering_loaded_meanwhile("pdf" in formats):
        figures = portfolio(engine, period, campaign_ids)
    from reporter.portfolio_report import render_portfolio

    rendered = render_portfolio(figures, generated_at, branding, title)
    base = f"portfolio_{period_name(period)}"
    files = _files(base, rendered, formats, lambda: _portfolio_tables(figures))
    return Report(None, rendered, files, figures, title)


def resolve_portfolio_period(start: datetime, end: datetime, tz: str) -> Period:
    if start >= end:
        raise PeriodError(f"the period is empty: from {start.isoformat()} is not before to {end.isoformat()}")
    zone_ = zone(tz)
    return Period(start.astimezone(zone_), end.astimezone(zone_), tz)


def _campaign_tables(stats: CampaignStats) -> list[Table]:
    from reporter.exports import campaign_tables

    return campaign_tables(stats_to_json(stats))


def _portfolio_tables(figures: Portfolio) -> list[Table]:
    from reporter.exports import portfolio_tables

    return portfolio_tables(figures)


def _files(
    base: str, rendered: Rendered, formats: tuple[str, ...], tables: Callable[[], list[Table]]
) -> dict[str, bytes]:
    """The report's files by name, in the order of FORMATS: each format's bytes, made only when asked for.

    The exports carry the report's generation time (SOURCE_DATE_EPOCH when set): the same data, the same bytes.
    """
    from reporter.render import render_pdf

    made: list[Table] | None = None

    def export(fmt: str) -> bytes:
        from reporter.exports import csv_zip, to_xlsx  # XlsxWriter and the rest: only for a CSV or XLSX export

        nonlocal made
        made = tables() if made is None else made
        return csv_zip(made, rendered.generated_at) if fmt == "csv" else to_xlsx(made, rendered.generated_at)

    files = {}
    for fmt in FORMATS:
        if fmt not in formats:
            continue
        name = f"{base}.{EXTENSIONS[fmt]}"
        files[name] = (
            render_pdf(rendered) if fmt == "pdf" else rendered.html.encode("utf-8") if fmt == "html" else export(fmt)
        )
    return files


def write_report(report: Report, folder: Path) -> tuple[Path, ...]:
    """Write the report's files (atomically) into `folder`; returns their paths."""
    paths = []
    for name, data in report.files.items():
        write_atomic(folder / name, data)
        paths.append(folder / name)
    return tuple(paths)


@dataclass(frozen=True)
class Production:
    """How and where reports go: the archive, the SMTP server, the sender, the limits, the branding."""

    archive_root: str
    smtp: SmtpConfig | None
    sender: str
    max_attachment_bytes: int
    branding: Branding = Branding()
    retention_days: int = 0  # 0: keep forever
    retention_runs: int = 0  # 0: no limit
    abandon_after_s: float = 120.0  # a unit in hand with no heartbeat for this long is taken over
    notify_to: tuple[str, ...] = ()  # operators told once of a unit's final failure

    @property
    def heartbeat_s(self) -> float:
        return min(max(self.abandon_after_s / 4, 0.5), 30.0)

    @classmethod
    def from_settings(cls, settings: Settings, mail: bool, check: bool = False) -> Production:
        """The production of the config; with `mail`, the SMTP server too (reached first when `check`).

        No SMTP server when the config has no `smtp:` section: the jobs archive and mail nobody.
        """
        smtp = smtp_of(settings, check) if mail and settings.mails else None
        return cls(
            str(settings.archive.root),
            smtp,
            settings.smtp.sender,
            int(settings.smtp.max_attachment_mb * 2**20),
            branding_of(settings),
            settings.archive.retention_days,
            settings.archive.retention_runs,
            settings.scheduler.abandon_after_s,
            tuple(settings.notify.on_failure),
        )


def branding_of(settings: Settings) -> Branding:
    """The report branding of the config (the logo embedded, never fetched)."""
    b = settings.branding
    logo = None
    if b.logo is not None:
        kind = {".svg": "svg+xml", ".png": "png"}.get(b.logo.suffix.lower())
        if kind is None or not b.logo.is_file():
            raise UserError(f"branding.logo: {b.logo} is not a readable .svg or .png file")
        logo = f"data:image/{kind};base64," + base64.b64encode(b.logo.read_bytes()).decode()
    return Branding(company=b.company, accent=b.accent, logo_data_uri=logo, docs_url=settings.docs_url)


def smtp_of(settings: Settings, check: bool) -> SmtpConfig:
    """The SMTP settings with the password from the environment, checked by connecting when asked."""
    s = settings.smtp
    config = SmtpConfig(
        s.host, s.port, s.security, s.username, s.password(), s.timeout_s, s.retries, data_timeout_s=s.data_timeout_s
    )
    if check:
        check_connection(config)
    return config


def render_campaign(
    engine: Engine,
    campaign_id: str,
    out: Path,
    formats: tuple[str, ...] = DEFAULT_FORMATS,
    start: datetime | None = None,
    end: datetime | None = None,
    tz: str = "UTC",
    generated_at: datetime | None = None,
    branding: Branding = Branding(),
) -> tuple[Path, ...]:
    """Produce one campaign's report and write it into `out` (`reporter render`)."""
    report = produce(engine, campaign_id, start, end, tz, formats, timestamp_now(generated_at), branding)
    return write_report(report, out)


def render_portfolio_files(
    engine: Engine,
    campaign_ids: Sequence[str] | None,
    out: Path,
    formats: tuple[str, ...],
    start: datetime,
    end: datetime,
    tz: str = "UTC",
    generated_at: datetime | None = None,
    branding: Branding = Branding(),
) -> tuple[Path, ...]:
    """Produce the portfolio report of these campaigns (every one when None) and write it into `out`."""
    report = produce_portfolio(engine, campaign_ids, start, end, tz, formats, timestamp_now(generated_at), branding)
    return write_report(report, out)
