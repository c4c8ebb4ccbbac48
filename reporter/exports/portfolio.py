"""A portfolio's figures as tidy tables: the portfolio, one row per campaign (period and previous period), and
each campaign's sends per day.

The campaign columns are the figures of the campaign report under the same
keys (`totals.sent` is `sent`), so a portfolio's row and the campaign's own
`totals` table agree column by column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reporter.exports.descriptions import describe
from reporter.exports.table import Column, Kind, Table, Value
from reporter.metrics.portfolio import Card, Portfolio, Row

CAMPAIGN_ID = Column("campaign_id", "Campaign", Kind.TEXT, "The campaign's id: joins the tables")


@dataclass(frozen=True)
class Figure:
    """A figure of a card: its column key, spreadsheet title, kind, guide key (None: described here) and reader."""

    key: str
    title: str
    kind: Kind
    figure: str | None
    read: Callable[[Card], Value]
    description: str = ""

    def column(self, previous: bool) -> Column:
        text = self.description or describe(self.figure or "")
        if previous:
            return Column(
                f"previous_{self.key}",
                f"{self.title}, previous period",
                self.kind,
                f"The same over the previous period of the same length: {text[:1].lower()}{text[1:]}",
                self.figure,
            )
        return Column(self.key, self.title, self.kind, text, self.figure)


FIGURES = (
    Figure("sent", "Sent", Kind.COUNT, "totals.sent", lambda c: c.sent),
    Figure("sent_users", "Users sent to", Kind.COUNT, "totals.sent_users", lambda c: c.sent_users),
    Figure("impressions", "Impressions", Kind.COUNT, "totals.impressions", lambda c: c.impressions),
    Figure("impressed_users", "Users shown it", Kind.COUNT, "totals.impressed_users", lambda c: c.impressed_users),
    Figure("clicks", "Clicks", Kind.COUNT, "totals.clicks", lambda c: c.clicks),
    Figure("clicked_users", "Users clicking", Kind.COUNT, "totals.clicked_users", lambda c: c.clicked_users),
    Figure("ctr", "CTR (%)", Kind.RATE, "totals.ctr", lambda c: c.ctr),
    Figure("errors", "Errors", Kind.COUNT, "totals.errors", lambda c: c.errors),
    Figure(
        "error_rate",
        "Error rate (%)",
        Kind.RATE,
        None,
        lambda c: c.error_rate,
        "Errors per delivery attempt: 100 x errors / (sent + errors); empty when there was no attempt",
    ),
    Figure("uninstalls", "Users uninstalled", Kind.COUNT, "totals.uninstalls", lambda c: c.uninstalls),
    Figure("conversions", "Conversions", Kind.COUNT, "totals.conversions", lambda c: c.conversions),
    Figure("converted_users", "Converted users", Kind.COUNT, "totals.converted_users", lambda c: c.converted_users),
    Figure("conversion_rate", "Conversion rate (%)", Kind.RATE, "totals.conversion_rate", lambda c: c.conversion_rate),
    Figure("revenue", "Revenue", Kind.MONEY, "totals.revenue", lambda c: c.revenue),
    Figure("control_users", "Control group users", Kind.COUNT, "control.users", lambda c: c.control.users),
    Figure(
        "control_converted_users",
        "Control users converted",
        Kind.COUNT,
        "control.converted_users",
        lambda c: c.control.converted_users,
    ),
    Figure(
        "treatment_users", "Targeted users", Kind.COUNT, "control.treatment_users", lambda c: c.control.treatment_users
    ),
    Figure(
        "treatment_converted_users",
        "Targeted users converted",
        Kind.COUNT,
        "control.treatment_converted_users",
        lambda c: c.control.treatment_converted_users,
    ),
    Figure(
        "incremental_conversions",
        "Incremental conversions",
        Kind.NUMBER,
        "control.incremental_conversions",
        lambda c: c.control.incremental_conversions,
    ),
    Figure(
        "incremental_revenue",
        "Incremental revenue",
        Kind.MONEY,
        "control.incremental_revenue",
        lambda c: c.control.incremental_revenue,
    ),
)

PORTFOLIO_COLUMNS = (
    Column("period_from", "From", Kind.DATETIME, "The start of the period (included), in its timezone"),
    Column("period_to", "To (excluded)", Kind.DATETIME, "The end of the period (excluded), in its timezone"),
    Column("timezone", "Timezone", Kind.TEXT, "The IANA timezone of the period's days"),
    Column("previous_from", "Previous from", Kind.DATETIME, "The start of the previous period of the same length"),
    Column(
        "previous_to", "Previous to (excluded)", Kind.DATETIME, "The end of the previous period: the period's start"
    ),
    Column("campaigns", "Campaigns", Kind.COUNT, "The campaigns of the portfolio"),
    Column("campaigns_with_sends", "Campaigns with sends", Kind.COUNT, "Those that sent in the period"),
)
CAMPAIGN_COLUMNS = (
    CAMPAIGN_ID,
    Column("name", "Name", Kind.TEXT, "The campaign's name"),
    Column("type", "Type", Kind.TEXT, "single (one message) or ab (an A/B test)"),
    Column("currency", "Currency", Kind.TEXT, "The currency of the campaign's revenue (ISO 4217)"),
    Column("has_sends", "Sent in the period", Kind.BOOL, "Whether the campaign sent in the period (else listed apart)"),
)
VERDICT_COLUMNS = (
    Column(
        "ab_verdict",
        "A/B verdict",
        Kind.TEXT,
        "The A/B test's verdict word over the period, as in its report (empty for a single message or a test "
        "without sends): winner, loser, inconclusive, keep_running, do_not_decide or not_enough_data",
    ),
    Column("ab_winner", "A/B winner", Kind.TEXT, "The winning variant when the verdict is winner"),
)
DAILY_COLUMNS = (
    CAMPAIGN_ID,
    Column("date", "Date", Kind.DATE, "A local day of the period"),
    Column("sent", "Sent", Kind.COUNT, "Notifications the campaign sent that day"),
)


def portfolio_tables(portfolio: Portfolio) -> list[Table]:
    """The portfolio's tables: `portfolio` (one row), `campaigns` (one per campaign) and `daily_sends`."""
    p, q = portfolio.period, portfolio.previous_period
    everyone = portfolio.rows + portfolio.idle
    head = Table.of(
        "portfolio",
        PORTFOLIO_COLUMNS,
        [[p.start, p.end, p.timezone, q.start, q.end, len(everyone), len(portfolio.rows)]],
    )
    columns = [
        *CAMPAIGN_COLUMNS,
        *(f.column(False) for f in FIGURES),
        *VERDICT_COLUMNS,
        *(f.column(True) for f in FIGURES),
    ]
    campaigns = Table.of("campaigns", columns, [_row(r) for r in everyone])
    daily = Table.of(
        "daily_sends",
        DAILY_COLUMNS,
        [[r.campaign.id, day, n] for r in everyone for day, n in zip(portfolio.days, r.card.daily_sends, strict=True)],
    )
    return [head, campaigns, daily]


def _row(row: Row) -> list[Value]:
    c = row.campaign
    verdict = row.verdict
    return [
        c.id,
        c.name,
        c.type,
        c.currency,
        bool(row.card.sent),
        *(f.read(row.card) for f in FIGURES),
        str(verdict.verdict) if verdict and verdict.verdict else None,
        verdict.winner if verdict else None,
        *(f.read(row.previous) for f in FIGURES),
    ]
