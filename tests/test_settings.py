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
        ("jobs:\n  - name: a\n    schedule: daily 07:00\n  - name: b\n    schedule: '61 * * * *'\n",
         "{path}:5 jobs[1].schedule: invalid cron expression '61 * * * *'"),
        ("jobs:\n  - name: a\n    schedule: every day\n",
         "{path}:3 jobs[0].schedule: invalid schedule 'every day' (expected a 5-field cron expression, hourly, "
         "daily HH:MM, weekly DAY HH:MM or monthly D HH:MM)"),
        ("jobs:\n  - name: Daily_Push\n    schedule: hourly\n", "{path}:2 jobs[0].name: String should match pattern '^[a-z0-9-]+$'"),
        ("jobs:\n  - name: a\n    schedule: hourly\n    timezone: Europe/Paaris\n", "{path}:4 jobs[0].timezone: unknown timezone 'Europe/Paaris'"),
        ("jobs:\n  - name: a\n    schedule: hourly\n    email:\n      to: [boss]\n", "{path}:5 jobs[0].email.to[0]: invalid e-mail address 'boss'"),
        ("smtp:\n  prot: 25\n", "{path}:2 smtp.prot: unknown setting (did you mean `port`?)"),
        ("jobs:\n  - name: a\n    schedule: hourly\n    perod: yesterday\n",
         "{path}:4 jobs[0].perod: unknown setting (did you mean `period`?)"),
        ("smtp:\n  frm: a@b.test\n", "{path}:2 smtp.frm: unknown setting (did you mean `from`?)"),
        ("colours: many\n", "{path}:1 colours: unknown setting"),
        ("smtp:\n  password_env: ${REPORTER_TEST_UNSET_VARIABLE}\n",
         "{path}:2 smtp.password_env: environment variable REPORTER_TEST_UNSET_VARIABLE is not set"),
        ("jobs:\n  - name: a\n    schedule: hourly\n  - name: a\n    schedule: hourly\n",
         "{path}:1 jobs: job name 'a' is used twice (jobs[1])"),
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
    result = subprocess.run([sys.executable, "-m", "reporter", "--config", str(path), "campaigns"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [  # in the order of the file's lines
        f"{path}:3 jobs[0].schedule: invalid cron expression '61 * * * *'",
        f"{path}:5 smtp.port: Input should be greater than or equal to 1",
    ]
