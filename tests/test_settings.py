"""The config file: the shipped example validates; each class of error gives its documented line."""

from __future__ import annotations

from pathlib import Path

import pytest

from reporter.errors import ConfigError
from reporter.settings import load_settings

EXAMPLE = Path(__file__).parent.parent / "config" / "reporter.yaml"


def test_the_example_validates() -> None:
    settings = load_settings(EXAMPLE)
    assert [j.name for j in settings.jobs] == ["daily-push", "weekly-ab", "monthly-all"]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (
            "jobs:\n  - name: a\n    schedule: daily 07:00\n  - name: b\n    schedule: '61 * * * *'\n",
            "{path}:5 jobs[1].schedule: invalid cron expression '61 * * * *'",
        ),
        (
            "jobs:\n  - name: a\n    schedule: every day\n",
            "{path}:3 jobs[0].schedule: invalid schedule 'every day' (expected a 5-field cron expression, hourly, "
            "daily HH:MM, weekly DAY HH:MM or monthly D HH:MM)",
        ),
        (
            "jobs:\n  - name: Daily_Push\n    schedule: hourly\n",
            "{path}:2 jobs[0].name: String should match pattern '^[a-z0-9-]+$'",
        ),
        (
            "jobs:\n  - name: a\n    schedule: hourly\n    timezone: Europe/Paaris\n",
            "{path}:4 jobs[0].timezone: unknown timezone 'Europe/Paaris'",
        ),
        (
            "jobs:\n  - name: a\n    schedule: hourly\n    email:\n      to: [boss]\n",
            "{path}:5 jobs[0].email.to[0]: invalid e-mail address 'boss'",
        ),
        ("smtp:\n  prot: 25\n", "{path}:2 smtp.prot: unknown setting (did you mean `port`?)"),
        (
            "jobs:\n  - name: a\n    schedule: hourly\n    perod: yesterday\n",
            "{path}:4 jobs[0].perod: unknown setting (did you mean `period`?)",
        ),
        ("smtp:\n  frm: a@b.test\n", "{path}:2 smtp.frm: unknown setting (did you mean `from`?)"),
        ("colours: many\n", "{path}:1 colours: unknown setting"),
        (
            "smtp:\n  password_env: ${REPORTER_TEST_UNSET_VARIABLE}\n",
            "{path}:2 smtp.password_env: environment variable REPORTER_TEST_UNSET_VARIABLE is not set",
        ),
        (
            "jobs:\n  - name: a\n    schedule: hourly\n  - name: a\n    schedule: hourly\n",
            "{path}:1 jobs: job name 'a' is used twice (jobs[1])",
        ),
        ("jobs: [\n", None),
    ],
)
def test_each_class_of_error_names_file_line_and_field(tmp_path: Path, text: str, line: str | None) -> None:
    path = tmp_path / "reporter.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    if line is None:
        assert info.value.problems[0].startswith(f"{path}:") and "not valid YAML" in info.value.problems[0]
    else:
        assert info.value.problems == [line.format(path=path)]


def test_environment_interpolation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPORTER_TEST_HOST", "mail.acme.test")
    path = tmp_path / "reporter.yaml"
    path.write_text("smtp:\n  host: ${REPORTER_TEST_HOST}\n")
    assert load_settings(path).smtp.host == "mail.acme.test"


def test_cli_stops_on_a_bad_config_with_one_line_per_problem(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "reporter.yaml"
    path.write_text("jobs:\n  - name: a\n    schedule: '61 * * * *'\nsmtp:\n  port: 0\n")
    result = subprocess.run(
        [sys.executable, "-m", "reporter", "--config", str(path), "campaigns"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [  # in the order of the file's lines
        f"{path}:3 jobs[0].schedule: invalid cron expression '61 * * * *'",
        f"{path}:5 smtp.port: Input should be greater than or equal to 1",
    ]


DEST = "destinations:\n  ops-hook:\n    type: webhook\n    url_env: OPS_URL\n    secret_env: OPS_SECRET\n"


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        (
            DEST + "jobs:\n  - name: a\n    schedule: hourly\n    destinations: [ops-hook, ops-hok, ops-hook]\n",
            [
                "{path}:9 jobs[0].destinations[1]: unknown destination 'ops-hok' (destinations: ops-hook)",
                "{path}:9 jobs[0].destinations[2]: destination 'ops-hook' is listed twice",
            ],
        ),
        (
            DEST + "notify:\n  on_failure: [ops@acme.test, ops-hook, pager]\n",
            ["{path}:7 notify.on_failure[2]: unknown destination 'pager' (destinations: ops-hook)"],
        ),
        ("notify:\n  on_failure: [ops@acme]\n", ["{path}:2 notify.on_failure[0]: invalid e-mail address 'ops@acme'"]),
        (
            "alerts:\n  - name: r\n    schedule: hourly\n    metric: ctr\n    condition: {below: 1}\n    notify: "
            "[pager]\n",
            ["{path}:6 alerts[0].notify[0]: unknown destination 'pager' (destinations: none configured)"],
        ),
        (
            "destinations:\n  hook:\n    type: webhook\n    url_env: URL\n",
            [
                "{path}:2 destinations.hook: a webhook destination needs secret_env (the name of the environment "
                "variable "
                "holding its signing secret)"
            ],
        ),
        (
            "destinations:\n  team:\n    type: slack\n    url_env: https://hooks.slack.com/services/T0/B0/x\n",
            ["{path}:4 destinations.team.url_env: String should match pattern '^[A-Za-z_][A-Za-z0-9_]*$'"],
        ),
        (
            "destinations:\n  team:\n    type: teams\n    url_env: U\n    secret_env: S\n    to: [a@acme.test]\n",
            [
                "{path}:5 destinations.team.secret_env: not a setting of a teams destination (only webhooks are "
                "signed)",
                "{path}:6 destinations.team.to: not a setting of a teams destination (only email ones have recipients)",
            ],
        ),
        (
            "destinations:\n  list:\n    type: email\n    retries: 2\n",
            [
                "{path}:2 destinations.list: an email destination needs at least one of to, cc or bcc",
                "{path}:4 destinations.list.retries: not a setting of an email destination (it uses the smtp settings)",
            ],
        ),
        (
            "destinations:\n  Team Chat:\n    type: slack\n    url_env: U\n",
            [
                "{path}:2 destinations.Team Chat: invalid destination name 'Team Chat' (lower-case letters, digits, "
                "- and _, "
                "e.g. ops-slack)"
            ],
        ),
        (
            "destinations:\n  team:\n    type: slack\n    url_env: U\n    conect_timeout_s: 3\n",
            ["{path}:5 destinations.team.conect_timeout_s: unknown setting (did you mean `connect_timeout_s`?)"],
        ),
        (
            "destinations:\n  team:\n    type: discord\n    url_env: U\n",
            ["{path}:3 destinations.team.type: Input should be 'email', 'webhook', 'slack' or 'teams'"],
        ),
        (
            "web:\n  base_url: reports.acme.test\n",
            ["{path}:2 web.base_url: String should match pattern '^https?://[^\\s\\\"'<>]+$'"],
        ),
    ],
)
def test_destination_errors_name_file_line_and_field(tmp_path: Path, text: str, lines: list[str]) -> None:
    path = tmp_path / "reporter.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert info.value.problems == [line.format(path=path) for line in lines]


def test_destinations_load_with_their_defaults(tmp_path: Path) -> None:
    path = tmp_path / "reporter.yaml"
    path.write_text(
        DEST + "  team:\n    type: teams\n    url_env: TEAMS_URL\n    retries: 5\n"
        "notify:\n  on_failure: [ops@acme.test, team]\n"
        "jobs:\n  - name: a\n    schedule: hourly\n    destinations: [team, ops-hook]\n"
    )
    settings = load_settings(path)
    hook = settings.destinations["ops-hook"]
    assert (
        hook.type,
        hook.url_env,
        hook.secret_env,
        hook.connect_timeout_s,
        hook.read_timeout_s,
        hook.retries,
        hook.backoff_s,
        hook.max_wait_s,
    ) == ("webhook", "OPS_URL", "OPS_SECRET", 5, 15, 3, 1, 60)
    assert settings.destinations["team"].retries == 5
    assert settings.notify.on_failure == ["ops@acme.test", "team"] and settings.job("a").destinations == [
        "team",
        "ops-hook",
    ]
