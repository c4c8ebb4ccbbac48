"""The portfolio report: every selected campaign of a period on one report (HTML, PDF), from a Portfolio.

A summary page (totals, the best and worst movers against the previous
period, the tests whose verdict is ready), one table row per campaign with
its changes and a sparkline of its daily sends (sortable in the HTML by CSS
alone: a report runs no script), a chart comparing the campaigns' CTR and
conversion rate with their intervals, and the campaigns without sends listed
apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from reporter import formatting as fmt
from reporter.branding import Branding
from reporter.charts.figure import Chart
from reporter.charts.portfolio import comparison_chart, sparkline
from reporter.metrics.portfolio import Card, Portfolio, Row
from reporter.render import (
    EmailBody,
    Rendered,
    change_mark,
    environment,
    page_context,
    svg_inline,
    svg_reference,
)

MOVERS = 3  # the best and worst movers on the summary page
VERDICT_TEXT = {
    "winner": "Winner: {winner}",
    "loser": "No variant beats the baseline",
    "inconclusive": "No difference (inconclusive)",
    "keep_running": "Keep running",
    "do_not_decide": "Do not decide: split broken",
    "not_enough_data": "Not enough data yet",
}


@dataclass(frozen=True)
class Column:
    """A sortable figure of the table: how to read it from a card, show it and compare it with the previous one."""

    key: str
    title: str
    value: Callable[[Card], float | None]
    kind: str  # "count", "rate" (changes in pp) or "money"
    lower_is_better: bool = False


COLUMNS = (
    Column("sent", "Sent", lambda c: c.sent, "count"),
    Column("reach", "Users reached", lambda c: c.sent_users, "count"),
    Column("ctr", "CTR", lambda c: c.ctr, "rate"),
    Column("conversion_rate", "Conversion rate", lambda c: c.conversion_rate, "rate"),
    Column("revenue", "Revenue", lambda c: c.revenue, "money"),
    Column("incremental_conversions", "Incremental conversions", lambda c: c.control.incremental_conversions, "count"),
    Column("incremental_revenue", "Incremental revenue", lambda c: c.control.incremental_revenue, "money"),
    Column("uninstalls", "Uninstalls", lambda c: c.uninstalls, "count", lower_is_better=True),
    Column("error_rate", "Error rate", lambda c: c.error_rate, "rate", lower_is_better=True),
)


def _shown(column: Column, value: float | None, currency: str) -> str:
    if value is None:
        return fmt.DASH
    if column.kind == "rate":
        return fmt.rate(value)
    if column.kind == "money":  # whole units: the table has no room for cents
        whole = fmt.money(round(abs(value)), currency).removesuffix(".00")
        return fmt.signed(value, whole) if column.key.startswith("incremental") else whole
    if column.key.startswith("incremental"):
        return fmt.signed(round(value), fmt.count(abs(round(value))))
    return fmt.count(value)


def _change(column: Column, now: float | None, before: float | None, currency: str = "") -> dict[str, str] | None:
    """The change against the previous period: relative for counts and money, in points for rates."""
    if now is None or before is None or column.key.startswith("incremental"):
        return None
    return change_mark(now, before, column.kind == "rate", _shown(column, before, currency), column.lower_is_better)


def _verdict(row: Row) -> str:
    if row.verdict is None or row.verdict.verdict is None:
        return ""
    return VERDICT_TEXT.get(row.verdict.verdict, row.verdict.verdict).format(winner=row.verdict.winner or "")


def _ranks(rows: tuple[Row, ...]) -> list[dict[str, int]]:
    """Each row's position when the table is sorted by each column, largest first (empty values last)."""
    ranks: list[dict[str, int]] = [{} for _ in rows]
    keys: list[tuple[str, Callable[[Row], Any]]] = [("name", lambda r: r.campaign.name.casefold())]
    for column in COLUMNS:
        keys.append((column.key, partial(_now, column)))
        keys.append((f"{column.key}-change", partial(_relative, column)))
    for key, read in keys:
        order = sorted(
            range(len(rows)),
            key=lambda i: (
                (0, read(rows[i]), rows[i].campaign.id)
                if key == "name"
                else (read(rows[i]) is None, -(read(rows[i]) or 0), rows[i].campaign.id)
            ),
        )
        for position, i in enumerate(order):
            ranks[i][key] = position
    return ranks


def _now(column: Column, row: Row) -> float | None:
    return column.value(row.card)


def _relative(column: Column, row: Row) -> float | None:
    """The change used to sort: points for rates, percent for counts and money."""
    now, before = column.value(row.card), column.value(row.previous)
    if now is None or before is None:
        return None
    if column.kind == "rate":
        return now - before
    return 100 * (now - before) / abs(before) if before else None


def _movers(rows: tuple[Row, ...]) -> tuple[list[tuple[Row, str]], list[tuple[Row, str]]]:
    """The campaigns whose converted users rose and fell the most against the previous period (both periods active)."""
    moved = [
        (r, r.card.converted_users - r.previous.converted_users)
        for r in rows
        if r.previous.sent and r.card.converted_users != r.previous.converted_users
    ]
    moved.sort(key=lambda m: (-m[1], m[0].campaign.id))

    def text(r: Row) -> str:
        change = fmt.change(r.card.converted_users, r.previous.converted_users)
        return f"{fmt.count(r.previous.converted_users)} → {fmt.count(r.card.converted_users)} converted users" + (
            f" ({change})" if change else ""
        )

    best = [(r, text(r)) for r, d in moved if d > 0][:MOVERS]
    worst = [(r, text(r)) for r, d in reversed(moved) if d < 0][:MOVERS]
    return best, worst


def render_portfolio(
    portfolio: Portfolio, generated_at: datetime, branding: Branding = Branding(), title: str = "Campaign portfolio"
) -> Rendered:
    """The portfolio report's HTML, and the variant the PDF is laid out from (charts by reference)."""
    p = portfolio.period
    tz = p.timezone
    period_text = fmt.period(p.start, p.end, tz)
    previous_text = fmt.period(portfolio.previous_period.start, portfolio.previous_period.end, tz)
    total, before = portfolio.total, portfolio.previous_total
    charts: dict[str, Chart] = {}
    if portfolio.rows:
        charts["compare"] = comparison_chart(portfolio.rows)
    ranks = _ranks(portfolio.rows)
    table = []
    # In the order the table shows first (most sends first): the PDF's, and the HTML's until another is chosen.
    for i in sorted(range(len(portfolio.rows)), key=lambda i: ranks[i]["sent"]):
        row = portfolio.rows[i]
        spark = sparkline(
            f"spark{i}",
            row.card.daily_sends,
            f"Daily sends of {row.campaign.name}: from {fmt.count(min(row.card.daily_sends, default=0))} to "
            f"{fmt.count(max(row.card.daily_sends, default=0))} a day",
        )
        charts[spark.key] = spark
        cells = [
            {
                "key": col.key,
                "text": _shown(col, col.value(row.card), row.campaign.currency),
                "change": _change(col, col.value(row.card), col.value(row.previous), row.campaign.currency),
                "before": _shown(col, col.value(row.previous), row.campaign.currency),
            }
            for col in COLUMNS
        ]
        order = "; ".join(f"--{key}: {n}" for key, n in ranks[i].items())
        table.append({"row": row, "cells": cells, "spark": spark, "order": order, "verdict": _verdict(row)})
    best, worst = _movers(portfolio.rows)
    ready = [(r, _verdict(r)) for r in portfolio.rows if r.verdict is not None and r.verdict.ready]
    currencies = sorted({r.campaign.currency for r in portfolio.rows + portfolio.idle})
    currency = currencies[0] if len(currencies) == 1 else None
    total_cells = [
        {
            "key": col.key,
            "title": col.title,
            "text": _shown(col, col.value(total), currency or "")
            if col.kind != "money" or currency
            else "mixed currencies",
            "change": _change(col, col.value(total), col.value(before), currency or "")
            if portfolio.rows and (col.kind != "money" or currency)
            else None,
        }
        for col in COLUMNS
        if not col.key.startswith("incremental")
    ]
    context: dict[str, Any] = {
        "portfolio": portfolio,
        "title": title,
        "doc_title": f"{title} — {period_text}",
        "period_text": period_text,
        "previous_text": previous_text,
        "running_title": title,
        "columns": COLUMNS,
        # Each figure and its change (not the incremental ones, which show none), and the name.
        "sort_keys": [
            "name",
            *(
                k
                for col in COLUMNS
                for k in (col.key, f"{col.key}-change")
                if not k.startswith("incremental_") or k == col.key
            ),
        ],
        "table": table,
        # An incremental figure is shown (a campaign with a control group): say what it is and is not.
        "has_incremental": any(r.card.control.incremental_conversions is not None for r in portfolio.rows),
        "total": total,
        "total_cells": total_cells,
        "campaigns_total": len(portfolio.rows) + len(portfolio.idle),
        "best": best,
        "worst": worst,
        "ready": ready,
        "charts": charts,
        **page_context(branding, generated_at, tz),
    }
    context["summary_text"] = _summary(portfolio, total, before, previous_text)
    template = environment().get_template("portfolio.html.j2")
    return Rendered(
        html=template.render(context, embed=svg_inline, pdf=False),
        pdf_html=template.render(context, embed=svg_reference, pdf=True),
        charts={key: chart.svg.encode("utf-8") for key, chart in charts.items()},
        title=context["doc_title"],
        author=context["author"],
        generated_at=generated_at,
        summary=(context["summary_text"],),
    )


def _summary(portfolio: Portfolio, total: Card, before: Card, previous_text: str) -> str:
    n, idle = len(portfolio.rows), len(portfolio.idle)
    if not n:
        return (
            f"None of the {fmt.counted(idle, 'campaign')} sent notifications in the period."
            if idle
            else ("No campaign was selected.")
        )
    text = f"{fmt.counted(n, 'campaign')} sent {fmt.count(total.sent)} notifications"
    if idle:
        text += f"; {fmt.counted(idle, 'other campaign')} sent none"
    change = fmt.change(total.converted_users, before.converted_users)
    text += f". {fmt.count(total.converted_users)} converted users"
    if change:
        text += f" ({change} against {previous_text})"
    return text + "."


def render_portfolio_email(
    portfolio: Portfolio, title: str, subject_template: str, note: str, branding: Branding = Branding()
) -> EmailBody:
    """The portfolio mail: subject, a short HTML summary with the totals and a plain-text alternative."""
    p = portfolio.period
    period_text = fmt.period(p.start, p.end, p.timezone)
    subject = subject_template.format_map({"campaign": title, "period": period_text, "campaign_id": "portfolio"})
    total, before = portfolio.total, portfolio.previous_total
    previous_text = fmt.period(portfolio.previous_period.start, portfolio.previous_period.end, p.timezone)
    figures = [
        ("Campaigns with sends", fmt.count(len(portfolio.rows)), f"{fmt.count(len(portfolio.idle))} without"),
        ("Sent", fmt.count(total.sent), fmt.change(total.sent, before.sent) or ""),
        ("Clicks", fmt.count(total.clicks), f"CTR {fmt.rate(total.ctr)}"),
        ("Converted users", fmt.count(total.converted_users), fmt.rate(total.conversion_rate)),
        ("Errors", fmt.count(total.errors), f"{fmt.rate(total.error_rate)} of attempts"),
    ]
    sentence = _summary(portfolio, total, before, previous_text)
    html_body = (
        environment()
        .get_template("email.html.j2")
        .render(
            subject=subject,
            eyebrow="Push campaign portfolio",
            heading=title,
            timezone=p.timezone,
            kind_text=fmt.counted(len(portfolio.rows) + len(portfolio.idle), "campaign"),
            period_text=period_text,
            figures=figures,
            summary=sentence,
            note=note,
            company=branding.company,
            accent=branding.accent,
        )
    )
    lines = [title, f"{period_text} ({p.timezone})", "", sentence, ""]
    lines += [f"{name}: {value}" + (f" ({sub})" if sub else "") for name, value, sub in figures]
    lines += ["", note, ""]
    return EmailBody(subject=subject, html=html_body, text="\n".join(lines))
