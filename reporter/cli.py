"""The `reporter` command: parses options, calls one core function, prints.

User errors (bad usage, config or input) are one line on stderr and exit code 2;
a failed piece of work is exit code 1; `--debug` shows the traceback.
"""

from __future__ import annotations

import atexit
import functools
import gc
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from reporter.errors import OptionError, PeriodError, ReporterError, TimezoneError, UnknownCampaignError, UserError

DEFAULT_CONFIG = Path("config/reporter.yaml")


@dataclass
class AppContext:
    """What every sub-command needs: the database URL and the config path."""

    db_url: str
    config_path: Path | None
    debug: bool
    db_source: str = "--db"  # where the URL came from, named in its errors
    _engine: Any = None
    _settings: Any = None

    def settings(self) -> Any:
        """The validated config (defaults without a file)."""
        if self._settings is None:
            from reporter.settings import load_settings

            self._settings = load_settings(self.config_path)
        return self._settings

    def engine(self, migrate: bool = True) -> Any:
        """The database engine; the schema is checked (and the embedded default migrated)."""
        if self._engine is None:
            from reporter.db import ensure_schema, make_engine, with_copy
            from reporter.errors import DatabaseError

            try:
                engine = make_engine(self.db_url)
            except DatabaseError as exc:
                raise DatabaseError(f"{self.db_source}: {exc}") from exc
            if migrate:
                ensure_schema(engine)
            self._engine = with_copy(engine, self.settings().database.columnar_copy)
        return self._engine


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="REPORTER_CONFIG",
    help="Config file [env REPORTER_CONFIG; default config/reporter.yaml when it exists].",
)
@click.option(
    "--db",
    "db",
    envvar="REPORTER_DATABASE_URL",
    help="SQLAlchemy database URL [env REPORTER_DATABASE_URL; default sqlite:///reporter.db].",
)
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logging.")
@click.version_option(package_name="reporter")
@click.pass_context
def cli(ctx: click.Context, config: Path | None, db: str | None, debug: bool) -> None:
    """Scheduled PDF and HTML reports of push-notification campaigns."""
    from reporter.db import DEFAULT_URL
    from reporter.logs import configure_default
    from reporter.settings import load_settings

    configure_default(debug)
    if config is None and DEFAULT_CONFIG.exists():
        config = DEFAULT_CONFIG
    elif config is not None and not config.exists():
        raise UserError(f"--config: {config}: no such file")
    settings = load_settings(config)  # a bad config stops every command (exit 2, one line per problem)
    url = db or (settings.database.url if "database" in settings.model_fields_set else DEFAULT_URL)
    ctx.obj = AppContext(url, config, debug, "--db" if db else "database.url", _settings=settings)


def _program() -> str:
    """How the user can call this program again: `reporter` when on the PATH, else its path (.venv/bin/reporter)."""
    import shutil

    argv0 = Path(sys.argv[0])
    if argv0.name != "reporter" or shutil.which("reporter") == str(argv0):
        return "reporter"
    try:
        return str(argv0.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(argv0)


def _console(stderr: bool = False) -> Any:
    from reporter.terminal import console

    return console(stderr)


def _echo(message: object, err: bool = False) -> None:
    from reporter.terminal import echo

    echo(message, err)


# -- db -------------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(app: AppContext) -> None:
    """Create or migrate the schema (Alembic) to this version, and build the indexes a killed load left unbuilt."""
    from reporter.db import upgrade
    from reporter.ingest.store import build_event_indexes

    engine = app.engine(migrate=False)
    before, after = upgrade(engine)
    if before == after:
        click.echo(f"database already at revision {after}")
    else:
        click.echo(f"database migrated from {before or 'empty'} to revision {after}")
    built = build_event_indexes(engine)
    if built:
        click.echo(f"built the events table's indexes that a load stopped before its end left out: {', '.join(built)}")


# -- load ----------------------------------------------------------------------------------


@cli.group()
def load() -> None:
    """Load campaigns or events from CSV, JSON Lines (optionally .gz) or YAML/JSON."""


def _print_summary(kind: str, summary: Any) -> None:
    parts = [f"loaded {summary.loaded:,} {kind}"]
    if kind == "events":
        parts.append(f"skipped {summary.duplicates:,} duplicates")
    parts.append(f"rejected {summary.rejected:,}")
    line = ", ".join(parts)
    if summary.rejects_path is not None:
        line += f" (see {summary.rejects_path})"
    _echo(line)
    for reason, count in sorted(summary.reasons.items(), key=lambda kv: -kv[1]):
        _echo(f"  {count:>10,}  {reason}")


@load.command("campaigns")
@click.argument("file", type=click.Path(path_type=Path))
@click.pass_obj
def load_campaigns_cmd(app: AppContext, file: Path) -> None:
    """Load (insert or update) campaigns from FILE."""
    from reporter.ingest import load_campaigns

    _print_summary("campaigns", load_campaigns(app.engine(), file))


@load.command("events")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--batch-size", default=25_000, show_default=True, type=click.IntRange(min=1))
@click.pass_obj
def load_events_cmd(app: AppContext, file: Path, batch_size: int) -> None:
    """Load events from FILE, streamed in batches (one transaction each)."""
    from reporter.db import analyze
    from reporter.ingest import load_events

    engine = app.engine()
    console = _console(stderr=True)
    if console.is_terminal:
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task(f"loading {file.name}", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            summary = load_events(engine, file, batch_size=batch_size, progress=progress)
    else:
        summary = load_events(engine, file, batch_size=batch_size)
    if summary.loaded:
        analyze(engine)
    _print_summary("events", summary)


# -- campaigns and demo ----------------------------------------------------------------------


@cli.command("campaigns")
@click.option("--name", help="Only campaigns whose name or id contains TEXT (any case).", metavar="TEXT")
@click.option("--type", "ctype", type=click.Choice(["single", "ab"]), help="Only campaigns of this type.")
@click.option(
    "--active-since",
    metavar="DATE",
    help="Only campaigns with an event at or after DATE: a date (midnight in the config's timezone) or ISO 8601.",
)
@click.pass_obj
def campaigns_cmd(app: AppContext, name: str | None, ctype: str | None, active_since: str | None) -> None:
    """List the loaded campaigns: id, name, type, start, number of sent."""
    from rich.table import Table

    from reporter.catalog import list_campaigns

    since = _parse_bound(active_since, "--active-since", app.settings().timezone)
    rows = list_campaigns(app.engine(), name=name, type=ctype, active_since=since)
    table = Table("id", "name", "type", "start", "sent", box=None)
    for row in rows:
        table.add_row(row.campaign_id, row.name, row.type, row.start_at.date().isoformat(), f"{row.sent:,}")
    console = _console()
    given = (("--name", name), ("--type", ctype), ("--active-since", active_since))
    filters = [f"{option} {value!r}" for option, value in given if value]
    if rows:
        console.print(table)
    elif filters:
        console.print(f"no campaigns match {', '.join(filters)} (`reporter campaigns` lists them all)")
    else:
        console.print("no campaigns loaded (try `reporter demo` or `reporter load campaigns FILE`)")


@cli.command("demo")
@click.option("--users", default=5_000, show_default=True, type=click.IntRange(min=1), help="Users per campaign.")
@click.option("--seed", default=1, show_default=True, type=int, help="Random seed (same seed, same data).")
@click.option(
    "--reset", is_flag=True, help="Delete the demo campaigns' data first (to load it with other --users/--seed)."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Archive root to store the reports in [default: archive.root of the config].",
)
@click.pass_context
def demo_cmd(ctx: click.Context, users: int, seed: int, reset: bool, out: Path | None) -> None:
    """Create the database, load a synthetic data set, show its campaigns and archive their reports."""
    from datetime import datetime, timedelta

    from reporter.branding import Branding
    from reporter.catalog import list_campaigns
    from reporter.db import analyze, shown_url
    from reporter.delivery.archive import Archive
    from reporter.demo import PLANS, demo_events, load_demo, reset_demo
    from reporter.files import DEFAULT_FORMATS
    from reporter.production import produce, produce_portfolio

    app: AppContext = ctx.obj
    engine = app.engine()
    settings = app.settings()
    console = _console()
    chosen = [
        f"--{name}"
        for name in ("users", "seed")
        if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
    ]
    present = demo_events(engine)
    if reset:
        with console.status("deleting the demo data..."):
            reset_demo(engine)
    elif present and chosen:
        raise UserError(
            f"{' and '.join(chosen)}: the demo data is already loaded ({present:,} events), so "
            f"{'they do' if len(chosen) > 1 else 'it does'} not apply; add --reset to rebuild it"
        )
    if present and not reset:
        console.print(f"demo data: already loaded, {present:,} events ({shown_url(app.db_url)}; --reset rebuilds it)")
    else:
        with console.status("generating and loading the demo data..."):
            loaded, _existing = load_demo(engine, users, seed)
            analyze(engine)
        console.print(f"demo data: {loaded:,} events loaded ({shown_url(app.db_url)})")
    demo_ids = {p.campaign_id for p in PLANS}
    campaigns = [c for c in list_campaigns(engine) if c.campaign_id in demo_ids]
    _print_headlines(console, engine, campaigns)
    archive = Archive(out or settings.archive.root)
    branding = Branding(company="Acme Inc. (demo)", docs_url=settings.docs_url)
    with console.status("rendering the reports..."):
        generated_at = datetime.now(UTC).replace(microsecond=0)
        runs = [
            produce(
                engine, c.campaign_id, None, None, settings.timezone, DEFAULT_FORMATS, generated_at, branding
            ).store_in(archive, "demo")
            for c in campaigns
        ]
        ids = [c.campaign_id for c in campaigns]
        end = _after_last_send(engine, ids, settings.timezone) if ids else None
        if end is not None:  # and the portfolio of their last week of sends, with the figures as a spreadsheet
            formats = ("pdf", "html", "xlsx")
            week = produce_portfolio(
                engine, ids, end - timedelta(days=7), end, settings.timezone, formats, generated_at, branding
            )
            runs.append(week.store_in(archive, "demo"))
    console.print(f"Reports, in the archive as the job demo ({archive.root}):")
    for run in runs:
        for artifact in run.artifacts:
            console.print(f"  {run.path(archive.root, artifact.name)}", highlight=False, soft_wrap=True)
    web = settings.web
    console.print(
        f"Next: open a PDF above, or browse the archive with `{_program()} serve`, then http://127.0.0.1:8000/"
        + (
            ""
            if web.anonymous or web.users
            else " (with web.anonymous: true or web.users in the config; see the README's web app section)"
        ),
        highlight=False,
        soft_wrap=True,
    )


def _after_last_send(engine: Any, campaign_ids: list[str], tz_name: str) -> datetime | None:
    """The local midnight after these campaigns' last send: the end of the demo portfolio's week (their events go
    on for days after the last send, conversions and errors; a week of those would read as a collapse)."""
    from datetime import timedelta

    from sqlalchemy import func, select

    from reporter.models import Campaign, Event, EventType
    from reporter.timezones import from_us, local_midnight, zone

    with engine.connect() as conn:
        last = conn.execute(
            select(func.max(Event.ts))
            .join(Campaign, Campaign.id == Event.campaign_pk)
            .where(Campaign.campaign_id.in_(campaign_ids), Event.event == int(EventType.SENT))
        ).scalar_one()
    if last is None:  # nothing sent: no week to show
        return None
    tz = zone(tz_name)
    return local_midnight(from_us(last).astimezone(tz).date() + timedelta(days=1), tz)


def _print_headlines(console: Any, engine: Any, campaigns: list[Any]) -> None:
    from rich.table import Table

    from reporter.metrics import compute_stats
    from reporter.stats_table import format_count, format_rate

    table = Table("campaign", "type", "sent", "CTR", "converted", "conv. rate", "revenue", box=None)
    for column in table.columns[2:]:
        column.justify = "right"
    with engine.connect() as conn:
        for c in campaigns:
            t = compute_stats(conn, c.campaign_id).totals
            table.add_row(
                c.campaign_id,
                c.type,
                format_count(t.sent),
                format_rate(t.ctr),
                format_count(t.converted_users),
                format_rate(t.conversion_rate),
                f"{t.revenue:,.2f} {c.currency}",
            )
    console.print(table)
    console.print(f"Details: {_program()} stats CAMPAIGN (add --json for the machine-readable figures)")


# -- stats -----------------------------------------------------------------------------------


def _parse_bound(value: str | None, option: str, tz_name: str) -> Any:
    """A --from/--to value: a date (midnight in the timezone) or a full ISO 8601 timestamp."""
    from datetime import date, datetime

    from reporter.timezones import local_midnight, zone

    if value is None:
        return None
    tz = zone(tz_name)
    try:
        if len(value) == 10:
            return local_midnight(date.fromisoformat(value), tz)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise OptionError(option, f"not a date or ISO 8601 timestamp: {value!r}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)


def period_options(command: Any) -> Any:
    """--from, --to and --tz, shared by the commands that cover a period.

    The core's period and timezone errors are named by these options here.
    """

    @functools.wraps(command)
    def naming_the_options(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("tz") is None:  # the config's timezone is the default everywhere
            kwargs["tz"] = click.get_current_context().obj.settings().timezone
        try:
            return command(*args, **kwargs)
        except TimezoneError as exc:
            raise OptionError("--tz", str(exc)) from None
        except PeriodError as exc:
            raise OptionError("--from/--to", str(exc)) from None

    func = click.option(
        "--tz",
        "tz",
        default=None,
        help="IANA timezone of buckets and dates [default: timezone of the config, else UTC].",
    )(naming_the_options)
    func = click.option("--to", "end", help="End (exclusive): a date (midnight in --tz) or ISO 8601 timestamp.")(func)
    func = click.option("--from", "start", help="Start: a date (midnight in --tz) or ISO 8601 timestamp.")(func)
    return func


@cli.command("stats")
@click.argument("campaign")
@period_options
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout (the documented shape).")
@click.option("--csv", "as_csv", is_flag=True, help="The headline card as CSV on stdout (a header and one row).")
@click.pass_obj
def stats_cmd(
    app: AppContext, campaign: str, start: str | None, end: str | None, tz: str, as_json: bool, as_csv: bool
) -> None:
    """The figures of one campaign over a period (default: its whole life, in the config's timezone)."""
    import json

    from reporter.metrics import compute_stats_concurrently
    from reporter.metrics.serialize import stats_to_json

    if as_json and as_csv:
        raise OptionError("--csv", "give --json or --csv, not both")
    from_dt = _parse_bound(start, "--from", tz)
    to_dt = _parse_bound(end, "--to", tz)
    stats = compute_stats_concurrently(app.engine(), campaign, from_dt, to_dt, tz)
    if as_csv:
        from reporter.exports import card_csv

        click.echo(card_csv(stats_to_json(stats)), nl=False)
    elif as_json:
        click.echo(json.dumps(stats_to_json(stats), ensure_ascii=False, indent=2))
    else:
        from reporter.stats_table import print_stats

        print_stats(_console(), stats)


@cli.command("render")
@click.argument("campaign", required=False)
@period_options
@click.option(
    "--format", "formats", default="pdf,html", show_default=True, help="pdf, html, csv, xlsx (comma-separated)."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("rendered"),
    show_default=True,
    help="Folder for the files (not the archive: jobs, deliver and demo store there).",
)
@click.option("--portfolio", is_flag=True, help="One report of many campaigns (all, or those of --campaigns).")
@click.option("--campaigns", "campaign_list", default=None, help="With --portfolio: campaign ids, comma-separated.")
@click.pass_obj
def render_cmd(
    app: AppContext,
    campaign: str | None,
    start: str | None,
    end: str | None,
    tz: str,
    formats: str,
    out: Path,
    portfolio: bool,
    campaign_list: str | None,
) -> None:
    """Render a campaign's report (single-message or A/B), or with --portfolio many campaigns' one, and print the
    file paths."""
    from reporter.production import branding_of, render_campaign, render_portfolio_files

    if portfolio and campaign is not None:
        raise OptionError("CAMPAIGN", "give a campaign id or --portfolio, not both")
    if not portfolio and campaign is None:
        raise OptionError("CAMPAIGN", "give a campaign id (`reporter campaigns` lists them), or --portfolio")
    if campaign_list is not None and not portfolio:
        raise OptionError("--campaigns", "only with --portfolio (a single campaign is the CAMPAIGN argument)")
    from_dt, to_dt = _parse_bound(start, "--from", tz), _parse_bound(end, "--to", tz)
    try:
        if portfolio:
            if from_dt is None or to_dt is None:
                raise OptionError("--from/--to", "a portfolio needs its period: give both --from and --to")
            ids = [c.strip() for c in campaign_list.split(",") if c.strip()] if campaign_list is not None else None
            if ids == []:
                raise OptionError("--campaigns", "no campaign id given (leave --campaigns out for every campaign)")
            paths = render_portfolio_files(
                app.engine(), ids, out, _formats(formats), from_dt, to_dt, tz, branding=branding_of(app.settings())
            )
        else:
            assert campaign is not None
            paths = render_campaign(
                app.engine(), campaign, out, _formats(formats), from_dt, to_dt, tz, branding=branding_of(app.settings())
            )
    except OSError as exc:
        raise OptionError("--out", f"cannot write into {out}: {exc.strerror or exc}") from None
    for path in paths:
        click.echo(str(path))


def _formats(value: str) -> tuple[str, ...]:
    from reporter.errors import FormatError
    from reporter.production import parse_formats

    try:
        return parse_formats(value)
    except FormatError as exc:
        raise OptionError("--format", str(exc)) from None


@cli.command("deliver")
@click.argument("campaign")
@period_options
@click.option("--job", default="adhoc", show_default=True, help="Job name the run is logged and archived under.")
@click.option("--mail-to", "mail_to", multiple=True, help="Recipient (repeatable).")
@click.option("--mail-cc", "mail_cc", multiple=True, help="Cc recipient (repeatable).")
@click.option("--mail-bcc", "mail_bcc", multiple=True, help="Bcc recipient (repeatable).")
@click.option("--subject", default=None, help="Subject template: {campaign}, {period}, {campaign_id}.")
@click.option("--attach-html", is_flag=True, help="Attach the HTML report too.")
@click.option("--no-archive", is_flag=True, help="Do not store the report in the archive.")
@click.option("--format", "formats", default="pdf,html", show_default=True)
@click.option("--resend", is_flag=True, help="Send again to recipients whose delivery outcome is unknown.")
@click.pass_obj
def deliver_cmd(
    app: AppContext,
    campaign: str,
    start: str | None,
    end: str | None,
    tz: str,
    job: str,
    mail_to: tuple[str, ...],
    mail_cc: tuple[str, ...],
    mail_bcc: tuple[str, ...],
    subject: str | None,
    attach_html: bool,
    no_archive: bool,
    formats: str,
    resend: bool,
) -> None:
    """Produce one campaign's report now: archive it and e-mail it, once (logged in the run log)."""
    from reporter.jobs.runner import deliver_now
    from reporter.settings import check_address

    for option, addresses in (("--mail-to", mail_to), ("--mail-cc", mail_cc), ("--mail-bcc", mail_bcc)):
        for address in addresses:
            try:
                check_address(address)
            except ValueError as exc:
                raise UserError(f"{option}: {exc}") from None
    if not (mail_to or mail_cc or mail_bcc) and no_archive:
        raise UserError("--no-archive: with no recipient either, there is nothing to deliver")
    result = deliver_now(
        app.engine(),
        app.settings(),
        campaign,
        _parse_bound(start, "--from", tz),
        _parse_bound(end, "--to", tz),
        tz,
        job,
        mail_to,
        mail_cc,
        mail_bcc,
        subject,
        attach_html,
        not no_archive,
        _formats(formats),
        resend,
    )
    for path in result.paths:
        click.echo(path)
    _echo(result.message, err=result.status in ("failed", "unknown"))
    if result.status in ("failed", "unknown"):
        sys.exit(1)


# -- jobs ------------------------------------------------------------------------------------


def _configure_logging(app: AppContext) -> None:
    from reporter.logs import configure

    logging_settings = app.settings().logging
    configure(logging_settings.format, "debug" if app.debug else logging_settings.level)


@cli.command("run")
@click.argument("job")
@click.option("--campaign", "campaigns", multiple=True, help="Only this campaign (repeatable).")
@click.option("--period", help="A period name (yesterday, last_week, ...) or FROM..TO dates, TO excluded.")
@click.option("--dry-run", is_flag=True, help="Render and store under the archive's _preview folder; send nothing.")
@click.option("--resend", is_flag=True, help="Send again to recipients whose delivery outcome is unknown.")
@click.pass_obj
def run_cmd(
    app: AppContext, job: str, campaigns: tuple[str, ...], period: str | None, dry_run: bool, resend: bool
) -> None:
    """Run one configured job now (the scheduler's code path)."""
    import signal
    from datetime import datetime

    from reporter.jobs.runner import production_for, run_job
    from reporter.jobs.unit import stop_now
    from reporter.production import Production

    settings = app.settings()
    job_settings = settings.job(job)
    _configure_logging(app)
    if dry_run:
        production = Production.from_settings(settings, mail=False)
    else:
        production = production_for(settings, [job_settings], check=True)
    engine = app.engine()
    signal.signal(signal.SIGTERM, stop_now)
    try:
        results = run_job(
            engine, settings, job_settings, datetime.now(UTC), production, campaigns, period, dry_run, resend=resend
        )
    except PeriodError as exc:
        raise OptionError("--period", str(exc)) from None
    except UnknownCampaignError as exc:
        raise OptionError("--campaign", str(exc)) from None
    if not results:
        click.echo(f"{job}: no campaign to report on")
    for result in results:
        for path in result.paths:
            click.echo(path)
        _echo(result.message)
    if any(r.status in ("failed", "unknown") for r in results):
        sys.exit(1)


@cli.command("schedule")
@click.pass_obj
def schedule_cmd(app: AppContext) -> None:
    """Run the scheduler in the foreground; SIGINT or SIGTERM stops it cleanly."""
    from reporter.jobs.runner import production_for
    from reporter.jobs.scheduler import serve

    _configure_logging(app)
    settings = app.settings()
    production_for(settings)  # an unset password variable stops here, not at 7 in the morning
    serve(app.engine(), settings, app.config_path.resolve() if app.config_path else None, app.db_url)


@cli.command("worker")
@click.option("--concurrency", default=1, show_default=True, type=click.IntRange(1, 64), help="Units produced at once.")
@click.option("--name", default=None, help="The worker's name in the broker [default: reporter-PID@HOST].")
@click.pass_obj
def worker_cmd(app: AppContext, concurrency: int, name: str | None) -> None:
    """Produce the units of the work queue (queue.url) until stopped; SIGTERM or Ctrl-C finish the unit in hand."""
    from reporter.jobs.queue import run_worker
    from reporter.jobs.runner import production_for

    _configure_logging(app)
    settings = app.settings()
    production_for(settings)  # an unset secret stops here, not at the first unit
    app.engine()  # the schema checked before any unit
    config = str(app.config_path.resolve()) if app.config_path else None
    raise SystemExit(run_worker(settings, config, app.db_url, concurrency, name))


@cli.command("jobs")
@click.pass_obj
def jobs_cmd(app: AppContext) -> None:
    """List the configured jobs: schedule, next run, last run and its status."""
    from datetime import datetime

    from rich.table import Table

    from reporter.history import job_overview

    settings = app.settings()
    table = Table("job", "schedule", "timezone", "campaigns", "period", "next run", "last run", "status", box=None)
    for job in job_overview(app.engine(), settings, datetime.now(UTC)):
        table.add_row(
            job["name"],
            job["schedule"],
            job["timezone"],
            job["campaigns"],
            job["period"],
            job["next_run"] or "never",
            job["last_run"] or "—",
            job["last_status"] or "—",
        )
    _console().print(table if settings.jobs else "no jobs configured")


@cli.command("alerts")
@click.argument("rule", required=False)
@click.pass_obj
def alerts_cmd(app: AppContext, rule: str | None) -> None:
    """Where each alert rule stands, per campaign (and variant or platform), with its last evaluation."""
    from rich.table import Table

    from reporter.alerts.check import shown
    from reporter.alerts.store import states

    settings = app.settings()
    if rule is not None:
        settings.alert(rule)  # an unknown rule is exit 2
    rows = states(app.engine(), rule)
    table = Table("rule", "campaign", "group", "state", "value", "since", "last evaluated", "last told", box=None)
    for r in rows:
        metric = settings.alert(r.rule).metric if r.rule in {a.name for a in settings.alerts} else ""
        table.add_row(
            r.rule,
            r.campaign_id,
            r.grp or "—",
            r.state,
            shown(metric, r.value),
            r.since.isoformat(timespec="seconds"),
            r.last_slot.isoformat(timespec="seconds") if r.last_slot else "—",
            r.last_notified_at.isoformat(timespec="seconds") if r.last_notified_at else "—",
        )
    configured = ", ".join(a.name for a in settings.alerts) or "none"
    _console().print(table if rows else f"no alert evaluated yet (configured rules: {configured})")


@cli.group("alert")
def alert_group() -> None:
    """One alert rule."""


@alert_group.command("check")
@click.argument("name")
@click.option("--dry-run", is_flag=True, help="Evaluate and print; change no state, tell nobody.")
@click.pass_obj
def alert_check(app: AppContext, name: str, dry_run: bool) -> None:
    """Evaluate an alert rule now: its figure per campaign, the state it moves to, the notices told."""
    from reporter.alerts.check import shown
    from reporter.alerts.run import check_now

    _configure_logging(app)
    settings = app.settings()
    evaluations = check_now(app.engine(), settings, name, dry_run=dry_run)
    if not evaluations:
        click.echo(f"{name}: no campaign to evaluate")
    rule = settings.alert(name)
    for e in evaluations:
        where = e.campaign_id + (f" ({rule.by} {e.group})" if e.group else "")
        value = shown(rule.metric, e.value)
        verdict = (
            (
                "no verdict ("
                + (
                    f"{e.volume:,} sends, under min_volume {rule.min_volume:,}"
                    if e.volume < rule.min_volume
                    else "the figure is undefined"
                )
                + ")"
            )
            if e.breached is None
            else ("breached" if e.breached else "within the condition")
        )
        told = f"; {e.notice} notice" + (" (dry run: not told)" if dry_run else "") if e.notice else ""
        state = e.state if e.counted or dry_run else f"{e.state} (this slot was already evaluated)"
        _echo(f"{name} / {where}: {rule.metric} {value}, {verdict}: {state}{told}")


@cli.command("history")
@click.argument("job", required=False)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@click.pass_obj
def history_cmd(app: AppContext, job: str | None, limit: int) -> None:
    """The run log: job, campaign, period, status, times, error, artifacts, deliveries."""
    from rich.table import Table

    from reporter.history import runs
    from reporter.terminal import lines

    table = Table(
        "job", "campaign", "period", "status", "try", "claimed", "finished", "deliveries", "error / artifacts", box=None
    )
    rows = runs(app.engine(), job, limit)
    settings = app.settings()
    if job and not rows and job not in {j.name for j in settings.jobs}:
        known = ", ".join(j.name for j in settings.jobs) or "none"
        raise UserError(f"unknown job {job!r}: no such job in the config ({known}) and none in the run log")
    root = Path(settings.archive.root).resolve()

    def shown(path: str) -> str:  # archive-relative: the part a reader needs, at any terminal width
        try:
            return str(Path(path).resolve().relative_to(root))
        except ValueError:
            return path

    for r in rows:
        deliveries = ", ".join(
            f"{d.recipient} {d.status}{f' ({d.smtp_code})' if d.status == 'failed' else ''}" for d in r.deliveries
        )
        table.add_row(
            r.job,
            r.campaign_id,
            r.period,
            r.status,
            str(r.attempts),
            r.claimed_at.isoformat(timespec="seconds"),
            r.finished_at.isoformat(timespec="seconds") if r.finished_at else "—",
            deliveries or "—",
            r.error or lines([shown(a) for a in r.artifacts]) or "—",
        )
    _console().print(table if rows else f"no runs of {job} yet" if job else "the run log is empty")


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.pass_obj
def serve_cmd(app: AppContext, host: str, port: int) -> None:
    """Start the archive web app."""
    import errno
    import socket

    import uvicorn

    from reporter.web.app import build_app

    _configure_logging(app)
    web = build_app(app.settings(), app.engine(), app.config_path, app.db_url)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        busy = exc.errno == errno.EADDRINUSE
        raise OptionError(
            "--port" if busy else "--host",
            f"cannot listen on {host}:{port}: "
            + (
                "the port is in use (another `reporter serve`?); choose another with --port"
                if busy
                else exc.strerror or str(exc)
            ),
        ) from None
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    click.echo(f"serving the report archive on http://{shown}:{port}/ (Ctrl-C stops)")
    server = uvicorn.Server(uvicorn.Config(web, log_level="warning", server_header=False))
    server.run(sockets=[sock])


@cli.command("hash-password")
def hash_password_cmd() -> None:
    """Read a password (prompt, or stdin when piped) and print its hash for web.users[].password_hash."""
    from reporter.web.auth import hash_password

    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise UserError("hash-password: empty password")
    click.echo(hash_password(password))


@cli.group("config")
def config_group() -> None:
    """The configuration file."""


@config_group.command("check")
@click.pass_obj
def config_check(app: AppContext) -> None:
    """Validate the config (done on every command) and print the jobs with their next fire times."""
    from datetime import datetime

    from reporter.jobs.schedule import next_fire_time

    settings = app.settings()
    click.echo(f"{app.config_path or 'built-in defaults'}: valid, {len(settings.jobs)} jobs")
    now = datetime.now(UTC)
    for job in settings.jobs:
        tz = settings.timezone_of(job)
        nxt = next_fire_time(job.schedule, tz, now)
        click.echo(f"  {job.name}: {job.schedule} ({tz}), next {nxt.isoformat() if nxt else 'never'}")


# -- archive ---------------------------------------------------------------------------------


@cli.group("archive")
def archive_group() -> None:
    """The report archive."""


@archive_group.command("reindex")
@click.option(
    "--archive", "root", type=click.Path(path_type=Path), help="Archive root [default: archive.root of the config]."
)
@click.pass_obj
def archive_reindex(app: AppContext, root: Path | None) -> None:
    """Rebuild the archive's index.json from the run folders' manifests (a damaged index is kept aside)."""
    from reporter.delivery.archive import Archive
    from reporter.errors import ArchiveRootError

    archive = Archive(root or app.settings().archive.root)
    try:
        runs = archive.reindex()
    except ArchiveRootError as exc:
        if root is None:
            raise
        raise OptionError("--archive", f"{exc.root}: {exc.problem}") from None
    click.echo(f"indexed {len(runs)} runs in {archive.root}")


# -- entry point ------------------------------------------------------------------------------


def _no_last_collection() -> None:
    """Leave the objects alive at exit to the operating system instead of a last garbage collection over all of
    them (after a report, the libraries' millions of objects: 0.4 s of a 4 s command). Nothing of ours waits for
    it: files are written and closed, connections closed, logs flushed by their own exit handler; and Python
    does not promise finalizers at exit anyway."""
    gc.freeze()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: runs the CLI and maps errors to exit codes."""
    args = sys.argv[1:] if argv is None else argv
    atexit.unregister(_no_last_collection)  # once per process, however often main runs (the tests call it)
    atexit.register(_no_last_collection)
    debug = "--debug" in args or os.environ.get("REPORTER_DEBUG") == "1"
    try:
        cli.main(args=args, prog_name="reporter", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:  # one line, as every other error: the usage is one --help away
        command = exc.ctx.command_path if exc.ctx is not None else "reporter"
        _echo(f"error: {exc.format_message()} (see {command} --help)", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ReporterError as exc:
        if debug:
            raise
        from reporter.errors import ConfigError

        if isinstance(exc, ConfigError):
            for line in exc.problems:
                _echo(line, err=True)
        else:
            _echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # the one place that turns the unexpected into a line
        if debug:
            raise
        _echo(f"error: unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)", err=True)
        sys.exit(1)
    sys.exit(0)
