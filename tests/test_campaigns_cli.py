"""`reporter campaigns` and its filters: --name, --type, --active-since, in SQL, combined with AND."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from reporter.catalog import list_campaigns
from reporter.errors import UserError
from reporter.ingest import load_campaigns, load_events
from tests.test_cli import run

AB = '"[{""variant"":""A"",""name"":""One"",""split_pct"":50},{""variant"":""B"",""name"":""Two"",""split_pct"":50}]"'
CAMPAIGNS = (
    "campaign_id,name,type,start_at,end_at,conversion_event,conversion_window_hours,control_group_pct,currency,"
    "variants\n"
    "spring_sale,Spring Sale,single,2026-11-01T00:00:00Z,,Charged,24,0,USD,\n"
    f"bf-2026,Black Friday,ab,2026-11-02T00:00:00Z,,Charged,24,0,EUR,{AB}\n"
    f"teaser,Spring 50% Teaser,ab,2026-11-03T00:00:00Z,,Charged,24,0,EUR,{AB}\n"
)
# The last event of each: spring_sale 2026-11-10 09:00Z, bf-2026 2026-11-27 12:00Z, teaser 2026-11-20 03:00Z
# (in New York, the config's timezone below, 2026-11-19 22:00: the day before 2026-11-20).
EVENTS = (
    "campaign_id,user_id,event,ts,variant\n"
    "spring_sale,u1,sent,2026-11-01T10:00:00Z,\n"
    "spring_sale,u2,sent,2026-11-10T09:00:00Z,\n"
    "bf-2026,u1,sent,2026-11-02T10:00:00Z,A\n"
    "bf-2026,u2,sent,2026-11-02T10:00:00Z,B\n"
    "bf-2026,u3,sent,2026-11-27T12:00:00Z,A\n"
    "teaser,u1,sent,2026-11-03T10:00:00Z,B\n"
    "teaser,u1,click,2026-11-20T03:00:00Z,B\n"
)


def load(engine: Engine, folder: Path) -> None:
    (folder / "campaigns.csv").write_text(CAMPAIGNS)
    (folder / "events.csv").write_text(EVENTS)
    assert load_campaigns(engine, folder / "campaigns.csv").loaded == 3
    assert load_events(engine, folder / "events.csv").loaded == 7


def ids(
    engine: Engine, name: str | None = None, type: str | None = None, active_since: datetime | None = None
) -> list[str]:
    return [c.campaign_id for c in list_campaigns(engine, name, type, active_since)]


def test_filters_select_in_sql_and_combine_with_and(engine: Engine, tmp_path: Path) -> None:
    load(engine, tmp_path)
    assert ids(engine) == ["spring_sale", "bf-2026", "teaser"]
    assert ids(engine, name="SPRING") == ["spring_sale", "teaser"]  # any case, in the name
    assert ids(engine, name="bf-20") == ["bf-2026"]  # in the id
    assert ids(engine, name="_") == ["spring_sale"]  # LIKE's wildcards are plain characters
    assert ids(engine, name="50%") == ["teaser"]
    assert ids(engine, name="nowhere") == []
    assert ids(engine, type="ab") == ["bf-2026", "teaser"]
    assert ids(engine, type="single") == ["spring_sale"]
    assert ids(engine, active_since=datetime(2026, 11, 20, 3, tzinfo=UTC)) == ["bf-2026", "teaser"]  # at: included
    assert ids(engine, active_since=datetime(2026, 11, 20, 3, 0, 0, 1, tzinfo=UTC)) == ["bf-2026"]
    assert ids(engine, name="spring", type="ab") == ["teaser"]
    assert ids(engine, name="spring", type="ab", active_since=datetime(2026, 11, 21, tzinfo=UTC)) == []
    sent = {c.campaign_id: c.sent for c in list_campaigns(engine, type="ab")}
    assert sent == {"bf-2026": 3, "teaser": 1}


def test_a_campaign_without_events_is_never_active(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "campaigns.csv").write_text(CAMPAIGNS)
    load_campaigns(engine, tmp_path / "campaigns.csv")
    assert ids(engine, active_since=datetime(2000, 1, 1, tzinfo=UTC)) == []
    assert len(ids(engine)) == 3


def test_an_unknown_type_or_a_naive_time_is_refused(sqlite_engine: Engine) -> None:
    with pytest.raises(UserError, match="unknown campaign type 'email' \\(types: single, ab\\)"):
        list_campaigns(sqlite_engine, type="email")
    with pytest.raises(ValueError, match="aware"):
        list_campaigns(sqlite_engine, active_since=datetime(2026, 11, 20))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database with the three campaigns, and a config whose timezone is New York."""
    path = tmp_path_factory.mktemp("campaigns")
    (path / "campaigns.csv").write_text(CAMPAIGNS)
    (path / "events.csv").write_text(EVENTS)
    (path / "reporter.yaml").write_text("timezone: America/New_York\n")
    assert run(["--config", "reporter.yaml", "load", "campaigns", "campaigns.csv"], path).returncode == 0
    assert run(["--config", "reporter.yaml", "load", "events", "events.csv"], path).returncode == 0
    return path


def listed(folder: Path, *args: str) -> list[str]:
    result = run(["--config", "reporter.yaml", "campaigns", *args], folder)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    return [line.split()[0] for line in result.stdout.splitlines()[1:]]


def test_the_listing_keeps_its_format(folder: Path) -> None:
    result = run(["--config", "reporter.yaml", "campaigns", "--type", "single"], folder)
    assert [line.split() for line in result.stdout.splitlines()] == [
        ["id", "name", "type", "start", "sent"],
        ["spring_sale", "Spring", "Sale", "single", "2026-11-01", "2"],
    ]


def test_the_options_filter_the_listing(folder: Path) -> None:
    assert listed(folder) == ["spring_sale", "bf-2026", "teaser"]
    assert listed(folder, "--name", "spring") == ["spring_sale", "teaser"]
    assert listed(folder, "--type", "ab") == ["bf-2026", "teaser"]
    assert listed(folder, "--name", "Spring", "--type", "ab") == ["teaser"]
    # A date is midnight in the config's timezone: teaser's last event was on 2026-11-19 there.
    assert listed(folder, "--active-since", "2026-11-20") == ["bf-2026"]
    assert listed(folder, "--active-since", "2026-11-19") == ["bf-2026", "teaser"]
    assert listed(folder, "--active-since", "2026-11-19T22:00") == ["bf-2026", "teaser"]  # New York time, at it
    assert listed(folder, "--active-since", "2026-11-20T03:00:01+00:00") == ["bf-2026"]
    assert listed(folder, "--active-since", "2026-11-01", "--type", "single", "--name", "SALE") == ["spring_sale"]


def test_no_match_is_a_message_and_exit_0(folder: Path) -> None:
    result = run(["--config", "reporter.yaml", "campaigns", "--name", "summer", "--type", "ab"], folder)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "no campaigns match --name 'summer', --type 'ab' (`reporter campaigns` lists them all)\n"


@pytest.mark.parametrize(
    ("args", "stderr"),
    [
        (["--active-since", "yesterday"], "error: --active-since: not a date or ISO 8601 timestamp: 'yesterday'\n"),
        (["--active-since", "2026-02-30"], "error: --active-since: not a date or ISO 8601 timestamp: '2026-02-30'\n"),
        (
            ["--type", "email"],
            "error: Invalid value for '--type': 'email' is not one of 'single', 'ab'. "
            "(see reporter campaigns --help)\n",
        ),
    ],
)
def test_a_bad_value_is_one_line_and_exit_2(folder: Path, args: list[str], stderr: str) -> None:
    result = run(["--config", "reporter.yaml", "campaigns", *args], folder)
    assert (result.returncode, result.stderr, result.stdout) == (2, stderr, "")
