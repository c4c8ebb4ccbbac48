"""The configuration file (config/reporter.yaml): one typed, frozen model, validated with pydantic.

`${NAME}` in a string is replaced by the environment variable NAME. Secrets are
never in the file: `*_env` keys name the variable that holds them. A bad file
is a ConfigError whose lines read `path:line field: problem`.
"""

from __future__ import annotations

import os
import re
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from reporter import DOCS_URL
from reporter.db import DEFAULT_URL
from reporter.errors import ConfigError, UserError
from reporter.files import DEFAULT_FORMATS, FORMATS, HEX_COLOUR
from reporter.jobs.periods import PERIODS

ADDRESS = re.compile(r"[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\".]+")


def check_address(value: str) -> str:
    _name, addr = parseaddr(value)
    if not addr or not ADDRESS.fullmatch(addr):
        raise ValueError(f"invalid e-mail address {value!r}")
    return value


EmailAddress = Annotated[str, AfterValidator(check_address)]
DEFAULT_SUBJECT = "Push report: {campaign} — {period}"


def check_timezone(value: str) -> str:
    from reporter.timezones import parse_zone

    parse_zone(value)
    return value


TimezoneName = Annotated[str, AfterValidator(check_timezone)]

ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
DESTINATION_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def check_destination_name(value: str) -> str:
    if not DESTINATION_NAME.fullmatch(value):
        raise ValueError(f"invalid destination name {value!r} (lower-case letters, digits, - and _, e.g. ops-slack)")
    return value


def check_target(value: str) -> str:
    """An e-mail address (it has an @) or a destination's name; whether that destination exists is checked later."""
    return check_address(value) if "@" in value else check_destination_name(value)


DestinationName = Annotated[str, AfterValidator(check_destination_name)]
NotifyTarget = Annotated[str, AfterValidator(check_target)]


def invalid(title: str, problems: list[tuple[tuple[str | int, ...], str]]) -> ValidationError:
    """A ValidationError with one problem per location (relative to the model that raises it), for file:line errors."""
    return ValidationError.from_exception_data(
        title,
        [
            InitErrorDetails(
                type=PydanticCustomError("value_error", "{message}", {"message": message}), loc=loc, input=None
            )
            for loc, message in problems
        ],
    )


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(Model):
    url: str = Field(DEFAULT_URL, description="Any SQLAlchemy URL; --db and REPORTER_DATABASE_URL override it.")
    columnar_copy: Path | None = Field(
        None, description="A DuckDB file the figures are computed in, kept up to date with the database's events."
    )


class ArchiveSettings(Model):
    root: Path = Field(Path("reports"), description="Where report artifacts are stored.")
    retention_days: int = Field(365, ge=0, description="Delete runs older than this many days (0 = keep forever).")
    retention_runs: int = Field(0, ge=0, description="Keep at most this many runs per job and campaign (0 = no limit).")


class BrandingSettings(Model):
    company: str = Field("", description="Shown in the report header, footer and e-mail.")
    logo: Path | None = Field(None, description="A local SVG or PNG, embedded in the report (never fetched).")
    accent: str = Field("#3b5bdb", pattern=f"^{HEX_COLOUR}$", description="Accent colour (hex).")


class SmtpSettings(Model):
    host: str = Field("localhost", min_length=1, description="SMTP server host.")
    port: int = Field(587, ge=1, le=65535, description="SMTP server port.")
    security: Literal["starttls", "ssl", "none"] = Field(
        "starttls", description="starttls, ssl (implicit TLS) or none."
    )
    username: str | None = Field(None, description="Login name; no login when absent.")
    password_env: str | None = Field(
        None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Name of the environment variable holding the password."
    )
    sender: EmailAddress = Field("reports@localhost.localdomain", alias="from", description="The From address.")
    timeout_s: float = Field(30, gt=0, description="Seconds before a connection or reply times out.")
    data_timeout_s: float = Field(
        600,
        gt=0,
        description="Seconds to wait for the reply to the end of the message "
        "(RFC 5321: 10 minutes); no reply in time is an unknown outcome, never re-sent "
        "automatically.",
    )
    max_attachment_mb: float = Field(10, gt=0, description="Above this size the mail links to the archive instead.")
    retries: int = Field(4, ge=0, le=20, description="Retries of a transient failure (exponential backoff).")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def password(self) -> str | None:
        """The password from the environment; a named variable that is unset is a config error."""
        if not self.password_env:
            return None
        value = os.environ.get(self.password_env)
        if value is None:
            raise UserError(f"smtp.password_env: the environment variable {self.password_env} is not set")
        return value


QUEUE_SCHEMES = ("redis", "rediss", "amqp", "amqps", "pyamqp")


class QueueSettings(Model):
    """Where units of work go to be produced by `reporter worker` processes (Celery); none: in process."""

    url: str | None = Field(
        None,
        pattern=r"^(redis|rediss|amqp|amqps|pyamqp)://[^\s]*$",
        description="The broker: redis://host:6379/0 or amqp://user@host:5672//; no password here (url_env).",
    )
    url_env: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Name of the environment variable holding the broker URL (with its password), instead of url.",
    )
    name: str = Field("reporter", pattern=r"^[A-Za-z0-9._-]+$", description="The queue's name on the broker.")

    @field_validator("url")
    @classmethod
    def _no_password(cls, value: str | None) -> str | None:
        if value is not None and re.match(r"^[a-z]+://[^/@]*:[^/@]*@", value):
            raise ValueError(
                "a password does not belong in the config: put the URL in an environment variable "
                "named by queue.url_env"
            )
        return value

    @model_validator(mode="after")
    def _one(self) -> QueueSettings:
        if self.url and self.url_env:
            raise ValueError("give queue.url or queue.url_env, not both")
        return self

    @property
    def configured(self) -> bool:
        """Whether units go to a work queue (queue.url or queue.url_env), not produced in process."""
        return self.url is not None or self.url_env is not None

    def broker_url(self) -> str | None:
        """The broker URL (from the environment for url_env), None when units run in process."""
        if not self.url_env:
            return self.url
        value = os.environ.get(self.url_env, "").strip()
        if not value:
            raise UserError(f"queue.url_env: the environment variable {self.url_env} is not set")
        if not value.startswith(tuple(f"{s}://" for s in QUEUE_SCHEMES)):
            raise UserError(f"queue.url_env: {self.url_env} is not a redis:// or amqp:// URL")
        return value


class SchedulerSettings(Model):
    misfire_grace_s: int = Field(3600, ge=1, description="A job missed by less than this runs once at start-up.")
    workers: int = Field(2, ge=1, le=64, description="Processes rendering in parallel.")
    instance: str = Field(
        "", pattern=r"^[a-z0-9-]*$", description="This scheduler's name; each instance keeps its own job store table."
    )
    abandon_after_s: int = Field(
        120,
        ge=5,
        description="A unit whose owner has shown no sign of life for this long "
        "(its heartbeat) is abandoned and taken over.",
    )
    retry_for_h: float = Field(
        48,
        ge=0,
        description="Failed and abandoned units are retried, with backoff, for this "
        "many hours after their first attempt (0: never).",
    )


class NotifySettings(Model):
    on_failure: list[NotifyTarget] = Field(
        default_factory=list,
        description="E-mail addresses or destination names, "
        "told once when a unit fails for good (a permanent refusal, or retries "
        "given up).",
    )


class LoggingSettings(Model):
    format: Literal["text", "json"] = Field(
        "text", description="text: human-readable lines; json: one JSON object per line."
    )
    level: Literal["debug", "info", "warning", "error"] = Field("info", description="The lowest level logged.")


class WebUser(Model):
    name: str = Field(min_length=1)
    password_hash: str = Field(min_length=1)
    role: Literal["viewer", "operator"] = "viewer"


class WebSettings(Model):
    secret_key_env: str = Field("REPORTER_WEB_SECRET", description="Variable holding the session signing key.")
    anonymous: bool = Field(False, description="Anyone may browse (viewer role); nobody may run jobs.")
    users: list[WebUser] = Field(default_factory=list, description="Users of the web app.")
    session_hours: float = Field(
        12,
        gt=0,
        description="A login lasts this long from the moment it was made, however "
        "much it is used; a logout ends it at once.",
    )
    login_user_failures: int = Field(
        5,
        ge=1,
        description="Wrong passwords for one user name within login_window_s "
        "before that name is locked out (answered 429).",
    )
    login_address_failures: int = Field(
        20,
        ge=1,
        description="Wrong passwords from one client address within login_window_s before that address is locked out.",
    )
    login_window_s: int = Field(
        900,
        ge=1,
        description="Seconds over which failed logins are counted; also the first "
        "lockout, each further lockout of the same name or address twice "
        "the last.",
    )
    login_lockout_max_s: int = Field(
        86400,
        ge=1,
        description="The longest lockout; a name or address with no failure for this long starts again from the first.",
    )
    password_threads: int = Field(
        1,
        ge=1,
        le=16,
        description="Passwords verified at once (argon2, in threads beside "
        "the event loop; each takes a core for about 0.25 s).",
    )
    base_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s\"'<>]+$",
        description="The web app's address as its readers reach it (e.g. "
        "https://reports.example.com); notices link to the archived report under "
        "it. No link without it.",
    )


class EmailSettings(Model):
    to: list[EmailAddress] = Field(default_factory=list)
    cc: list[EmailAddress] = Field(default_factory=list)
    bcc: list[EmailAddress] = Field(default_factory=list)
    subject: str = DEFAULT_SUBJECT
    attach_html: bool = False

    @field_validator("subject")
    @classmethod
    def _subject_fields(cls, value: str) -> str:
        import string

        for _text, name, _spec, _conv in string.Formatter().parse(value):
            if name is not None and name not in ("campaign", "period", "campaign_id"):
                raise ValueError(f"unknown placeholder {{{name}}} (use {{campaign}}, {{period}} or {{campaign_id}})")
        return value


HTTP_TYPES = ("webhook", "slack", "teams")
HTTP_ONLY = ("url_env", "connect_timeout_s", "read_timeout_s", "retries", "backoff_s", "max_wait_s")


class DestinationSettings(Model):
    """A named destination: an e-mail list, a signed JSON webhook, a Slack channel or a Microsoft Teams channel."""

    type: Literal["email", "webhook", "slack", "teams"] = Field(
        description="email (uses the smtp settings), webhook (a signed JSON POST), slack (an incoming webhook) or "
        "teams (a Power Automate Workflows webhook)."
    )
    url_env: str | None = Field(
        None,
        pattern=ENV_NAME,
        description="webhook, slack, teams: the name of the "
        "environment variable holding the URL (a URL is a secret: never in the file, never "
        "printed or logged).",
    )
    secret_env: str | None = Field(
        None,
        pattern=ENV_NAME,
        description="webhook (required): the name of the environment variable holding the HMAC-SHA256 signing secret.",
    )
    to: list[EmailAddress] = Field(default_factory=list, description="email: To recipients.")
    cc: list[EmailAddress] = Field(default_factory=list, description="email: Cc recipients.")
    bcc: list[EmailAddress] = Field(default_factory=list, description="email: Bcc recipients.")
    connect_timeout_s: float = Field(
        5, gt=0, le=300, description="Seconds to wait for the connection (and the TLS handshake)."
    )
    read_timeout_s: float = Field(15, gt=0, le=600, description="Seconds to wait for each read of the answer.")
    retries: int = Field(
        3,
        ge=0,
        le=10,
        description="Retries after a 5xx, a 429, a connection error or a timeout; other 4xx are not retried.",
    )
    backoff_s: float = Field(1, gt=0, le=300, description="The wait before the first retry; each next one doubles.")
    max_wait_s: float = Field(
        60, gt=0, le=3600, description="The longest wait between attempts, a Retry-After header's included."
    )

    @model_validator(mode="after")
    def _fits_type(self) -> DestinationSettings:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        given = self.model_fields_set
        if self.type == "email":
            if not (self.to or self.cc or self.bcc):
                problems.append(((), "an email destination needs at least one of to, cc or bcc"))
            problems += [
                ((key,), "not a setting of an email destination (it uses the smtp settings)")
                for key in (*HTTP_ONLY, "secret_env")
                if key in given
            ]
        else:
            if self.url_env is None:
                problems.append(
                    (
                        (),
                        f"a {self.type} destination needs url_env (the name of the environment "
                        "variable holding its URL)",
                    )
                )
            if self.type == "webhook" and self.secret_env is None:
                problems.append(
                    (
                        (),
                        "a webhook destination needs secret_env (the name of the environment variable "
                        "holding its signing secret)",
                    )
                )
            if self.type != "webhook" and "secret_env" in given:
                problems.append(
                    (("secret_env",), f"not a setting of a {self.type} destination (only webhooks are signed)")
                )
            problems += [
                ((key,), f"not a setting of a {self.type} destination (only email ones have recipients)")
                for key in ("to", "cc", "bcc")
                if key in given
            ]
        if problems:
            raise invalid("DestinationSettings", problems)
        return self


class CampaignPattern(Model):
    name: str = Field(min_length=1, description="A glob on campaign names, e.g. 'Black Friday*'.")


class JobSettings(Model):
    name: str = Field(pattern=r"^[a-z0-9-]+$", max_length=100)
    schedule: str
    timezone: TimezoneName | None = None
    campaigns: Literal["active"] | list[str] | CampaignPattern = "active"
    period: Literal[PERIODS] = "yesterday"  # type: ignore[valid-type]
    kind: Literal["campaign", "portfolio"] = Field(
        "campaign", description="campaign: one report per campaign; portfolio: one report of all its campaigns."
    )
    formats: list[Literal[FORMATS]] = Field(default_factory=lambda: list(DEFAULT_FORMATS), min_length=1)  # type: ignore[valid-type]
    archive: bool = True
    email: EmailSettings | None = None
    destinations: list[DestinationName] = Field(
        default_factory=list,
        description="Named destinations (see destinations) told of each report, besides or instead of email.",
    )

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        from reporter.jobs.schedule import trigger

        trigger(value, "UTC")  # raises ValueError with the reason
        return value

    @model_validator(mode="after")
    def _portfolio_period(self) -> JobSettings:
        if self.kind == "portfolio" and self.period == "campaign_lifetime":
            raise ValueError("a portfolio job needs a calendar period (campaign_lifetime differs by campaign)")
        return self


class AlertCondition(Model):
    """above / below a threshold, or a change against the previous window (by a relative or pp amount)."""

    above: float | None = None
    below: float | None = None
    change: str | None = Field(
        None,
        pattern=r"^[+-]?\d+(\.\d+)?(%|pp)$",
        description="A change against the previous window of the same length: 50% or 1.5pp; "
        "a sign (+/-) watches one direction only.",
    )

    @model_validator(mode="after")
    def _one(self) -> AlertCondition:
        given = [k for k in ("above", "below", "change") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of above, below or change")
        return self


class AlertSettings(Model):
    """A rule: alert when a campaign's figure breaches a condition for some consecutive evaluations."""

    name: str = Field(pattern=r"^[a-z0-9-]+$", max_length=100)
    schedule: str
    timezone: TimezoneName | None = None
    campaigns: Literal["active"] | list[str] | CampaignPattern = "active"
    metric: str
    by: Literal["variant", "platform"] | None = None
    condition: AlertCondition
    window: str = Field("last_6_hours", description="last_N_hours, or a report period name (yesterday, ...).")
    min_volume: int = Field(100, ge=0, description="No verdict on fewer sends than this in the window.")
    for_evaluations: int = Field(1, ge=1, alias="for", description="Consecutive breaching evaluations before firing.")
    renotify_after_h: float | None = Field(
        None, gt=0, alias="renotify_after", description="Hours after which a firing alert is told again."
    )
    notify: list[str] = Field(default_factory=list, description="Destinations (names) or e-mail addresses.")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        from reporter.jobs.schedule import trigger

        trigger(value, "UTC")
        return value

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        from reporter.alerts.rules import WINDOW

        periods = [p for p in PERIODS if p != "campaign_lifetime"]
        if not WINDOW.match(value) and value not in periods:
            raise ValueError(f"invalid window {value!r} (expected last_N_hours or one of {', '.join(periods)})")
        return value

    @model_validator(mode="after")
    def _metric(self) -> AlertSettings:
        from reporter.alerts.rules import BY_PLATFORM, BY_VARIANT, METRICS, RATES

        allowed = {"variant": BY_VARIANT, "platform": BY_PLATFORM, None: METRICS}[self.by]
        if self.metric not in allowed:
            split = f" split by {self.by}" if self.by else ""
            raise ValueError(f"metric {self.metric!r} cannot be watched{split} (one of {', '.join(allowed)})")
        change = self.condition.change
        if change and change.endswith("pp") and self.metric not in RATES:
            raise ValueError(f"a change in pp needs a rate; {self.metric} is a count (use a % change)")
        return self


class Settings(Model):
    database: DatabaseSettings = DatabaseSettings()
    timezone: TimezoneName = Field("UTC", description="Default timezone of reports and schedules (IANA name).")
    archive: ArchiveSettings = ArchiveSettings()
    branding: BrandingSettings = BrandingSettings()
    docs_url: str = Field(
        DOCS_URL,
        pattern=r"^https?://[^\s\"'<>]+$",
        description="Where the reports' footer links for the definition of every figure.",
    )
    smtp: SmtpSettings = SmtpSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    queue: QueueSettings = QueueSettings()
    notify: NotifySettings = NotifySettings()
    logging: LoggingSettings = LoggingSettings()
    web: WebSettings = WebSettings()
    destinations: dict[DestinationName, DestinationSettings] = Field(
        default_factory=dict,
        description="Named destinations of report, failure and alert notices: e-mail lists, "
        "signed webhooks, Slack and Teams channels.",
    )
    jobs: list[JobSettings] = Field(default_factory=list, description="Report jobs.")
    alerts: list[AlertSettings] = Field(default_factory=list, description="Alert rules on campaign figures.")

    @property
    def mails(self) -> bool:
        """Whether an SMTP server is configured (an `smtp:` section): without one, jobs archive and mail nobody."""
        return "smtp" in self.model_fields_set

    def timezone_of(self, job: JobSettings) -> str:
        """The job's timezone, or the config's default."""
        return job.timezone or self.timezone

    @field_validator("jobs")
    @classmethod
    def _unique_job_names(cls, jobs: list[JobSettings]) -> list[JobSettings]:
        seen: set[str] = set()
        for i, job in enumerate(jobs):
            if job.name in seen:
                raise ValueError(f"job name {job.name!r} is used twice (jobs[{i}])")
            seen.add(job.name)
        return jobs

    @field_validator("alerts")
    @classmethod
    def _unique_alert_names(cls, alerts: list[AlertSettings]) -> list[AlertSettings]:
        names = [a.name for a in alerts]
        twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
        if twice is not None:
            raise ValueError(
                f"alert name {twice!r} is used twice (alerts[{names.index(twice, names.index(twice) + 1)}])"
            )
        return alerts

    @model_validator(mode="after")
    def _known_destinations(self) -> Settings:
        """Every destination a job, notify.on_failure or an alert names is configured."""
        known = ", ".join(sorted(self.destinations)) or "none configured"
        problems: list[tuple[tuple[str | int, ...], str]] = []

        def check(loc: tuple[str | int, ...], names: list[str], addresses: bool) -> None:
            for i, name in enumerate(names):
                if addresses and "@" in name:
                    continue
                if name not in self.destinations:
                    problems.append(((*loc, i), f"unknown destination {name!r} (destinations: {known})"))
                elif name in names[:i]:
                    problems.append(((*loc, i), f"destination {name!r} is listed twice"))

        for i, job in enumerate(self.jobs):
            check(("jobs", i, "destinations"), job.destinations, addresses=False)
        check(("notify", "on_failure"), self.notify.on_failure, addresses=True)
        for i, rule in enumerate(self.alerts):
            check(("alerts", i, "notify"), rule.notify, addresses=True)
        if problems:
            raise invalid("Settings", problems)
        return self

    def alert(self, name: str) -> AlertSettings:
        """The alert rule of that name; a UserError naming the configured ones otherwise."""
        for rule in self.alerts:
            if rule.name == name:
                return rule
        known = ", ".join(a.name for a in self.alerts) or "none"
        raise UserError(f"unknown alert {name!r} (configured: {known})")

    def job(self, name: str) -> JobSettings:
        """The job of that name; a user error listing the configured ones otherwise."""
        for job in self.jobs:
            if job.name == name:
                return job
        names = ", ".join(j.name for j in self.jobs) or "none configured"
        raise UserError(f"unknown job {name!r} (jobs: {names})")


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _interpolate(node: Any, path: str, missing: list[tuple[str, str]]) -> Any:
    if isinstance(node, str):

        def sub(match: re.Match[str]) -> str:
            value = os.environ.get(match[1])
            if value is None:
                missing.append((path, match[1]))
                return ""
            return value

        return _ENV.sub(sub, node)
    if isinstance(node, dict):
        return {k: _interpolate(v, f"{path}.{k}" if path else str(k), missing) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, f"{path}[{i}]", missing) for i, v in enumerate(node)]
    return node


def _lines(text: str) -> dict[str, int]:
    """The line of every key path in a YAML document: {'smtp.port': 14, 'jobs[1].schedule': 30}."""
    import yaml

    lines: dict[str, int] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = f"{path}.{key.value}" if path else str(key.value)
                lines[sub] = key.start_mark.line + 1
                walk(value, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                sub = f"{path}[{i}]"
                lines[sub] = item.start_mark.line + 1
                walk(item, sub)

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        walk(root, "")
    return lines


def _loc(parts: tuple[Any, ...]) -> str:
    out = ""
    for part in parts:
        if part == "[key]":
            continue  # pydantic's mark of a bad mapping key: the key itself is the location
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_of(lines: dict[str, int], path: str) -> int:
    while path:
        if path in lines:
            return lines[path]
        shorter = re.sub(r"(\.[^.\[\]]+|\[\d+\])$", "", path)
        if shorter == path:
            break  # a location this file does not spell (a key with brackets): the top of the file
        path = shorter
    return 1


def _model_at(parts: tuple[Any, ...]) -> type[BaseModel] | None:
    """The settings model that holds the key at `parts` (list indexes skipped), None when there is none."""
    from typing import get_origin

    model: type[BaseModel] = Settings
    keyed = False  # the previous part was a mapping (destinations): this part is one of its keys
    for part in parts:
        if isinstance(part, int) or keyed:
            keyed = False
            continue
        field = next((f for name, f in model.model_fields.items() if part in (name, f.alias)), None)
        if field is None:
            return None
        found = [t for t in _types(field.annotation) if isinstance(t, type) and issubclass(t, BaseModel)]
        if not found:
            return None
        model = found[0]
        keyed = get_origin(field.annotation) is dict
    return model


def _types(annotation: Any) -> list[Any]:
    from typing import get_args

    args = get_args(annotation)
    return [annotation] if not args else [t for a in args for t in _types(a)]


def _suggestion(loc: tuple[Any, ...]) -> str:
    """ " (did you mean `period`?)" for a misspelt key, else ""."""
    from difflib import get_close_matches

    model = _model_at(loc[:-1])
    if model is None or not isinstance(loc[-1], str):
        return ""
    names = [f.alias or name for name, f in model.model_fields.items()]
    close = get_close_matches(loc[-1], names, n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""


def load_settings(path: Path | None) -> Settings:
    """The settings of a config file (defaults when None); ConfigError lists every problem."""
    import yaml

    if path is None:
        return Settings()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read the config: {exc.strerror or exc}"]) from exc
    try:
        data = yaml.safe_load(text)
        lines = _lines(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError([f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path}:1: expected a mapping of settings at the top level"])
    missing: list[tuple[str, str]] = []
    data = _interpolate(data, "", missing)
    found = [(_line_of(lines, where), f"{where}: environment variable {name} is not set") for where, name in missing]
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        unset = {where for where, _name in missing}
        for error in exc.errors():
            where = _loc(error["loc"])
            if where in unset:
                continue  # already reported: its variable is not set
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown setting" + _suggestion(tuple(error["loc"]))
            found.append((_line_of(lines, where), f"{where}: {message}"))
        raise ConfigError(_by_line(path, found)) from exc
    if found:
        raise ConfigError(_by_line(path, found))
    return settings


def _by_line(path: Path, found: list[tuple[int, str]]) -> list[str]:
    """The problems in the order of the file's lines (stable for problems on one line)."""
    return [f"{path}:{line} {text}" for line, text in sorted(found, key=lambda item: item[0])]
