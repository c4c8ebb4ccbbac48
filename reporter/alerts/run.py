"""Alert rules as the scheduler and the CLI run them: one evaluation now or at a fire time, notices told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from reporter.alerts.check import Evaluation, check_rule
from reporter.alerts.tell import teller
from reporter.settings import Settings

FUNCTION = "reporter.alerts.run:scheduled_check"
PREFIX = "alert:"  # scheduler job ids of alert rules; report jobs' names match [a-z0-9-]+


def check_now(
    engine: Engine, settings: Settings, name: str, dry_run: bool = False, slot: datetime | None = None
) -> list[Evaluation]:
    """Evaluate one rule now (`reporter alert check`); a dry run changes no state and tells nobody."""
    from reporter.production import Production

    rule = settings.alert(name)
    now = datetime.now(UTC)
    tell = None if dry_run else teller(settings, Production.from_settings(settings, mail=True))
    return check_rule(engine, settings, rule, slot or now, now, tell, dry_run=dry_run)


def scheduled_check(alert_name: str, config_path: str | None, db_url: str, fire_time: str | None = None) -> int:
    """What APScheduler runs (in a worker process) at a rule's fire time: one evaluation of that slot."""
    from reporter.jobs.runner import _worker_setup

    settings, engine, _production = _worker_setup(config_path, db_url)
    try:
        slot = datetime.fromisoformat(fire_time) if fire_time else datetime.now(UTC)
        # A slot's identity is its fire time to the second: two schedulers name the same one.
        slot = slot.astimezone(UTC).replace(microsecond=0)
        late = datetime.now(UTC) - slot
        if late > timedelta(seconds=settings.scheduler.misfire_grace_s):
            return 0
        return len(check_now(engine, settings, alert_name, slot=slot))
    finally:
        engine.dispose()
