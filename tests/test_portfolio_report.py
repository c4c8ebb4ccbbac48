"""The portfolio report: its rows against each campaign's own `stats --json`, its exports, its HTML and PDF checks,
with 0, 1, 3 and 200 campaigns."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine

from reporter.branding import Branding
from reporter.cli import main
from reporter.exports import portfolio_tables
from reporter.metrics.model import Period
from reporter.metrics.portfolio import portfolio
from reporter.portfolio_report import render_portfolio
from reporter.production import produce_portfolio
from reporter.render import render_pdf
from tests.test_pdf import fonts_of, pdf_without_warnings, run, tool
from tests.vnu import vnu_errors

GENERATED = datetime(2026, 11, 28, tzinfo=UTC)
WEEK = (datetime(2026, 10, 12, tzinfo=UTC), datetime(2026, 10, 19, tzinfo=UTC))
DEMO = ("black-friday-ab", "cart-reminder", "welcome-series")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, str]]:
    from reporter.db import make_engine, upgrade
    from reporter.demo import load_demo

    url = f"sqlite:///{tmp_path_factory.mktemp('portfolio') / 'demo.db'}"
    engine = make_engine(url)
    upgrade(engine)
    load_demo(engine, 400, 1)
    yield engine, url
    engine.dispose()


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_each_row_is_the_campaigns_own_stats_json(demo: tuple[Engine, str], capsys: pytest.CaptureFixture[str]) -> None:
    engine, url = demo
    (_, campaigns, _) = portfolio_tables(portfolio(engine, Period(*WEEK, "UTC")))
    rows = {r["campaign_id"]: r for r in campaigns.records()}
    assert sorted(rows) == list(DEMO)
    compared = 0
    for cid in DEMO:
        for start, end, prefix in ((*WEEK, ""), (WEEK[0] - timedelta(days=7), WEEK[0], "previous_")):
            code, out, err = cli(
                capsys, "--db", url, "stats", cid, "--json", "--from", start.date().isoformat(), "--to", str(end.date())
            )
            assert code == 0, err
            stats = json.loads(out)
            for key in ("sent", "sent_users", "impressions", "clicks", "ctr", "errors", "uninstalls", "conversions"):
                assert rows[cid][prefix + key] == stats["totals"][key], (cid, prefix, key)
                compared += 1
            for key in ("converted_users", "conversion_rate", "revenue", "impressed_users", "clicked_users"):
                assert rows[cid][prefix + key] == stats["totals"][key], (cid, prefix, key)
                compared += 1
            for key in (
                "users",
                "converted_users",
                "treatment_users",
                "incremental_conversions",
                "incremental_revenue",
            ):
                ours = rows[cid][prefix + (key if key.startswith(("treatment", "incremental")) else f"control_{key}")]
                assert ours == stats["control"][key], (cid, prefix, key)
                compared += 1
        verdict = json.loads(
            cli(capsys, "--db", url, "stats", cid, "--json", "--from", "2026-10-12", "--to", "2026-10-19")[1]
        )
        assert rows[cid]["ab_verdict"] == verdict["verdict"] and rows[cid]["ab_winner"] == verdict["winner"]
    assert compared == 3 * 2 * 18


def test_the_exports_round_trip(demo: tuple[Engine, str], tmp_path: Path) -> None:
    engine, _ = demo
    report = produce_portfolio(engine, None, *WEEK, "UTC", ("csv", "xlsx"), GENERATED)
    assert sorted(report.files) == ["portfolio_2026-W42.csv.zip", "portfolio_2026-W42.xlsx"]
    tables = portfolio_tables(report.portfolio)  # type: ignore[arg-type]
    with zipfile.ZipFile(io.BytesIO(report.files["portfolio_2026-W42.csv.zip"])) as zipped:
        assert zipped.namelist() == ["portfolio.csv", "campaigns.csv", "daily_sends.csv", "columns.csv"]
        for table in tables:
            parsed = list(csv.DictReader(io.StringIO(zipped.read(f"{table.name}.csv").decode("utf-8"), newline="")))
            assert len(parsed) == len(table.rows)
            for record, row in zip(parsed, table.records(), strict=True):
                for column in table.columns:
                    value = row[column.key]
                    text = record[column.key]
                    if value is None:
                        assert text == ""
                    elif isinstance(value, bool):
                        assert text == str(value).lower()
                    elif isinstance(value, int | float):
                        assert float(text) == value and (isinstance(value, float) or text == str(value))
                    elif isinstance(value, date):
                        assert type(value).fromisoformat(text) == value
                    else:
                        assert text == value
    book = load_workbook(io.BytesIO(report.files["portfolio_2026-W42.xlsx"]))
    assert book.sheetnames == ["portfolio", "campaigns", "daily_sends", "columns"]
    sheet = book["campaigns"]
    header = [c.value for c in sheet[1]]
    campaigns = tables[1]
    assert header == [c.title for c in campaigns.columns]
    for got, row in zip(sheet.iter_rows(min_row=2, values_only=True), campaigns.rows, strict=True):
        for value, expected in zip(got, row, strict=True):
            assert value == (pytest.approx(expected, rel=1e-15) if isinstance(expected, float) else expected)
    daily = book["daily_sends"]
    first = next(daily.iter_rows(min_row=2, values_only=True))
    assert first[1] == datetime(2026, 10, 12) and isinstance(first[2], int)  # a date cell, a number cell
    described = {(r[0], r[1]) for r in book["columns"].iter_rows(min_row=2, values_only=True)}
    assert described == {(t.name, c.key) for t in tables for c in t.columns}


def test_html_and_pdf_pass_the_outside_checks(demo: tuple[Engine, str], tmp_path: Path) -> None:
    engine, _ = demo
    branding = Branding(company="Acme <Inc.> & Co")
    documents = []
    for ids in ([], ["cart-reminder"], None):
        rendered = render_portfolio(portfolio(engine, Period(*WEEK, "Europe/Berlin"), ids), GENERATED, branding)
        documents.append(rendered.html)
    assert vnu_errors(documents, tmp_path) == []
    pdf = pdf_without_warnings(rendered)
    path = tmp_path / "portfolio.pdf"
    path.write_bytes(pdf)
    info = run(tool("pdfinfo"), path)
    assert re.search(r"^Tagged:\s+yes$", info, re.MULTILINE)
    assert re.search(r"^Page size:\s+841.89 x 595.276 pts \(A4\)", info, re.MULTILINE)  # landscape
    assert all(embedded == "yes" for _, embedded in fonts_of(path))
    checked = subprocess.run([tool("qpdf"), "--check", str(path)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    text = run(tool("pdftotext"), "-layout", path, "-")
    for name in ("Black Friday teaser (A/B)", "Abandoned cart reminder", "Welcome series"):
        assert name in text


def test_data_is_escaped_and_nothing_fetched(demo: tuple[Engine, str]) -> None:
    engine, _ = demo
    figures = portfolio(engine, Period(*WEEK, "UTC"), ["cart-reminder"])
    row = figures.rows[0]
    evil = "<script>alert(1)</script><img src=http://x/a.png>"
    from dataclasses import replace

    figures = replace(figures, rows=(replace(row, campaign=replace(row.campaign, name=evil)),))
    rendered = render_portfolio(figures, GENERATED)
    assert "<script>alert" not in rendered.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert "http://x/" not in re.sub(r"&lt;img src=http://x/a.png&gt;", "", rendered.html)
    refused: list[str] = []
    render_pdf(rendered, refused)
    assert refused == []


def test_zero_and_one_campaign(demo: tuple[Engine, str]) -> None:
    engine, _ = demo
    none = render_portfolio(portfolio(engine, Period(*WEEK, "UTC"), []), GENERATED)
    assert "No selected campaign sent anything in the period." in none.html
    assert none.summary[0] == "No campaign was selected."
    quiet = portfolio(engine, Period(datetime(2027, 1, 4, tzinfo=UTC), datetime(2027, 1, 11, tzinfo=UTC), "UTC"))
    assert quiet.rows == () and [r.campaign.id for r in quiet.idle] == sorted(DEMO, key=lambda c: c)
    rendered = render_portfolio(quiet, GENERATED)
    assert rendered.summary[0] == "None of the 3 campaigns sent notifications in the period."
    html = rendered.html
    assert html.count('<td class="text"><b>') == 3  # each listed apart, none dropped
    one = render_portfolio(portfolio(engine, Period(*WEEK, "UTC"), ["black-friday-ab"]), GENERATED).html
    assert one.count('<tr style="--name: 0') == 1 and "black-friday-ab · A/B test" in one


def test_incremental_figures_are_called_untested_estimates(demo: tuple[Engine, str]) -> None:
    """The portfolio runs no test on the control group: its incremental figures say so, where there are some."""
    engine, _ = demo
    note = "estimates against each campaign's control group, not tested here"
    figures = portfolio(engine, Period(*WEEK, "UTC"))
    ab = next(r for r in figures.rows if r.campaign.id == "black-friday-ab")
    assert ab.card.control.incremental_conversions is not None  # the demo's A/B test holds out a control group
    html = render_portfolio(figures, GENERATED).html
    assert note in html and html.count('<td class="num estimate">') == 2 * len(figures.rows)
    without = portfolio(engine, Period(*WEEK, "UTC"), ["cart-reminder"])
    assert without.rows[0].card.control.incremental_conversions is None  # no control group: a dash, no note
    assert note not in render_portfolio(without, GENERATED).html


def test_two_hundred_campaigns(tmp_path: Path) -> None:
    """200 small campaigns: every one a row or listed apart, sorted by sends, the table sortable by every figure."""
    from reporter.db import make_engine, upgrade
    from tests.metrics.helpers import campaign, ev, load

    engine = make_engine(f"sqlite:///{tmp_path / 'many.db'}")
    upgrade(engine)
    records: list[dict[str, Any]] = [campaign(f"c{i:03d}") for i in range(200)]
    events = []
    for i in range(190):  # ten campaigns send nothing
        for u in range(i % 7 + 1):
            events.append(ev(f"c{i:03d}", f"u{u}", "sent", 24 * 2 + u))
            if u % 2:
                events.append(ev(f"c{i:03d}", f"u{u}", "impression", 24 * 2 + u + 0.1, platform="ios"))
    load(engine, records, events)
    start = datetime(2026, 11, 3, tzinfo=UTC)
    figures = portfolio(engine, Period(start, start + timedelta(days=7), "UTC"))
    assert len(figures.rows) == 190 and len(figures.idle) == 10
    assert figures.total.sent == sum((i % 7 + 1) for i in range(190))
    rendered = render_portfolio(figures, GENERATED)
    orders = re.findall(r'<tr style="(--name: \d+;[^"]*)">', rendered.html)
    assert len(orders) == 190
    sent_ranks = [int(re.search(r"--sent: (\d+)", o)[1]) for o in orders]  # type: ignore[index]
    assert sent_ranks == list(range(190))  # the document is in the default order: most sends first
    for key in ("name", "ctr", "revenue-change", "error_rate"):
        ranks = sorted(int(re.search(rf"--{key}: (\d+)", o)[1]) for o in orders)  # type: ignore[index]
        assert ranks == list(range(190)), key
    assert "Campaigns without sends in the period" in rendered.html


def test_render_portfolio_command(demo: tuple[Engine, str], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _, url = demo
    code, out, err = cli(
        capsys, "--db", url, "render", "--portfolio", "--from", "2026-10-12", "--to", "2026-10-19",
        "--format", "html,xlsx", "--out", str(tmp_path),
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out.split() == [str(tmp_path / "portfolio_2026-W42.html"), str(tmp_path / "portfolio_2026-W42.xlsx")]
    for args, message in (
        (["--portfolio"], "error: --from/--to: a portfolio needs its period: give both --from and --to\n"),
        (["cart-reminder", "--portfolio"], "error: CAMPAIGN: give a campaign id or --portfolio, not both\n"),
        (["--from", "2026-10-12"], "error: CAMPAIGN: give a campaign id (`reporter campaigns` lists them), "
         "or --portfolio\n"),
        (["--portfolio", "--campaigns", " , ", "--from", "2026-10-12", "--to", "2026-10-19"],
         "error: --campaigns: no campaign id given (leave --campaigns out for every campaign)\n"),
        (["cart-reminder", "--campaigns", "x"], "error: --campaigns: only with --portfolio (a single campaign is "
         "the CAMPAIGN argument)\n"),
        (["--portfolio", "--campaigns", "nope", "--from", "2026-10-12", "--to", "2026-10-19"],
         "error: unknown campaign 'nope' (see `reporter campaigns` for the loaded ones)\n"),
    ):  # fmt: skip
        code, out, err = cli(capsys, "--db", url, "render", *args, "--out", str(tmp_path / "no"))
        assert (code, out, err) == (2, "", message)
    assert not (tmp_path / "no").exists()


def test_stats_csv_is_the_card(demo: tuple[Engine, str], capsys: pytest.CaptureFixture[str]) -> None:
    _, url = demo
    span = ("--from", "2026-10-12", "--to", "2026-10-19")
    code, out, err = cli(capsys, "--db", url, "stats", "cart-reminder", "--csv", *span)
    assert code == 0, err
    (row,) = list(csv.DictReader(io.StringIO(out, newline="")))
    stats = json.loads(cli(capsys, "--db", url, "stats", "cart-reminder", "--json", *span)[1])
    assert int(row["sent"]) == stats["totals"]["sent"] and float(row["ctr"]) == stats["totals"]["ctr"]
    assert row["period_from"] == "2026-10-12T00:00:00+00:00"
    code, out, err = cli(capsys, "--db", url, "stats", "cart-reminder", "--csv", "--json")
    assert (code, out, err) == (2, "", "error: --csv: give --json or --csv, not both\n")
