"""A campaign's `stats --json` document as tidy tables: every figure in exactly one table, column or cell.

Each table is one kind of observation: the campaign and its period, its
totals, its control group, its funnels, a trend bucket (one table per
granularity), an OS or a device, an error code, a variant, a variant's
channel, a comparison against the baseline, and the A/B test as a whole.
Every table starts with `campaign_id`, so the tables join, and the same
table of several campaigns stacks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from reporter.exports.descriptions import describe
from reporter.exports.table import Column, Kind, Table, Value
from reporter.metrics.verdicts import Verdict

CAMPAIGN_ID = Column(
    "campaign_id",
    "Campaign",
    Kind.TEXT,
    "The campaign's id, in every table: the key that joins the tables, or tells campaigns apart when stacked",
)


def _description(figure: str) -> str:
    """The guide's definition of a figure, completed where the guide refers to text around its table."""
    if figure.startswith("control.test."):
        return (
            "The control-group comparison: the targeted group against the control group (as the baseline) "
            "since the campaign started, like an A/B variant against its baseline. "
            + _description("variants.vs_baseline." + figure.removeprefix("control.test."))
        )
    text = describe(figure)
    if text == "One word, below":
        text = "The verdict word: " + ", ".join(Verdict)
    if text.startswith("Its "):  # "Its name", under the heading of its object in the guide
        text = f"The {figure.split('.')[0].removesuffix('s')}'s {text.removeprefix('Its ')}"
    return text


def _fig(figure: str, title: str, kind: Kind, key: str | None = None) -> Column:
    """The column of a figure; its key is the figure's last part unless given."""
    return Column(key or figure.rsplit(".", 1)[-1], title, kind, _description(figure), figure)


def _read(node: Mapping[str, Any] | None, path: str) -> Any:
    """The value at a dotted path; None below a null object, a KeyError for a key the document lacks."""
    value: Any = node
    for part in path.split("."):
        if value is None:
            return None
        value = value[part]
    return value


def _cell(column: Column, value: Any) -> Value:
    """A document value as the column's Python value (ISO strings parsed, string enums made plain str)."""
    if value is None:
        return None
    if column.kind is Kind.DATETIME and isinstance(value, str):
        return datetime.fromisoformat(value)
    if column.kind is Kind.TEXT:
        return str(value)
    result: Value = value
    return result


def _row(node: Mapping[str, Any] | None, columns: Sequence[Column], prefix: str) -> list[Value]:
    """The values of figure columns read from `node`, the object at `prefix` (None for non-figure columns)."""
    return [None if c.figure is None else _cell(c, _read(node, c.figure.removeprefix(prefix + "."))) for c in columns]


def _campaign(stats: Mapping[str, Any]) -> Table:
    columns = [
        _fig("campaign.id", "Campaign", Kind.TEXT, "campaign_id"),
        _fig("campaign.name", "Name", Kind.TEXT),
        _fig("campaign.type", "Type", Kind.TEXT),
        _fig("campaign.conversion_event", "Conversion event", Kind.TEXT),
        _fig("campaign.conversion_window_hours", "Conversion window (hours)", Kind.NUMBER),
        _fig("campaign.currency", "Currency", Kind.TEXT),
        _fig("period.from", "From", Kind.DATETIME, "period_from"),
        _fig("period.to", "To (excluded)", Kind.DATETIME, "period_to"),
        _fig("period.timezone", "Timezone", Kind.TEXT, "timezone"),
    ]
    return Table.of("campaign", columns, [_row(stats, columns, "")])


def _totals_columns(money: str) -> list[Column]:
    t = "totals."
    return [
        _fig(t + "qualified", "Qualified users", Kind.COUNT),
        _fig(t + "sent", "Sent", Kind.COUNT),
        _fig(t + "sent_users", "Users sent to", Kind.COUNT),
        _fig(t + "impressions", "Impressions", Kind.COUNT),
        _fig(t + "impression_rate", "Impressions (% of sent)", Kind.RATE),
        _fig(t + "clicks", "Clicks", Kind.COUNT),
        _fig(t + "click_rate", "Clicks (% of sent)", Kind.RATE),
        _fig(t + "ctr", "CTR (%)", Kind.RATE),
        _fig(t + "errors", "Errors", Kind.COUNT),
        _fig(t + "control_group", "Control group users", Kind.COUNT),
        _fig(t + "conversions", "Conversions", Kind.COUNT),
        _fig(t + "converted_users", "Converted users", Kind.COUNT),
        _fig(t + "conversion_rate", "Conversion rate (%)", Kind.RATE),
        _fig(t + "revenue", f"Revenue{money}", Kind.MONEY),
        _fig(t + "view_through_conversions", "View-through conversions (users)", Kind.COUNT),
        _fig(t + "view_through_conversion_rate", "View-through conversion rate (%)", Kind.RATE),
        _fig(t + "click_through_conversions", "Click-through conversions (users)", Kind.COUNT),
        _fig(t + "click_through_conversion_rate", "Click-through conversion rate (%)", Kind.RATE),
        _fig(t + "view_through_conversion_events", "View-through conversion events", Kind.COUNT),
        _fig(t + "click_through_conversion_events", "Click-through conversion events", Kind.COUNT),
        _fig(t + "impressed_users", "Users shown it", Kind.COUNT),
        _fig(t + "clicked_users", "Users clicking", Kind.COUNT),
        _fig(t + "uplift.push_amplification", "Push amplification sends", Kind.COUNT, "uplift_push_amplification"),
        _fig(t + "uplift.app_inbox", "App inbox sends", Kind.COUNT, "uplift_app_inbox"),
        _fig(
            t + "uplift.push_amplification_reached",
            "Users reached only by push amplification",
            Kind.COUNT,
            "uplift_push_amplification_reached",
        ),
        _fig(t + "uplift.app_inbox_reached", "Users reached only in the inbox", Kind.COUNT, "uplift_app_inbox_reached"),
        _fig(t + "uninstalls", "Users uninstalled", Kind.COUNT),
        _fig("errors_by_category.technical", "Technical errors", Kind.COUNT, "errors_technical"),
        _fig("errors_by_category.non_technical", "Non-technical errors", Kind.COUNT, "errors_non_technical"),
    ]


def _control_columns(money: str) -> list[Column]:
    c, test = "control.", "control.test."
    return [
        _fig(c + "users", "Control users", Kind.COUNT),
        _fig(c + "converted_users", "Control users converting", Kind.COUNT),
        _fig(c + "conversion_rate", "Control conversion rate (%)", Kind.RATE),
        _fig(c + "revenue", f"Control revenue{money}", Kind.MONEY),
        _fig(c + "treatment_users", "Targeted users", Kind.COUNT),
        _fig(c + "treatment_converted_users", "Targeted users converting", Kind.COUNT),
        _fig(c + "treatment_conversion_rate", "Targeted conversion rate (%)", Kind.RATE),
        _fig(c + "treatment_revenue", f"Targeted revenue{money}", Kind.MONEY),
        _fig(c + "lift", "Lift (%)", Kind.RATE),
        _fig(c + "incremental_conversions", "Incremental converters", Kind.NUMBER),
        _fig(c + "incremental_revenue", f"Incremental revenue{money}", Kind.MONEY),
        _fig(c + "p_value", "Control p-value (fixed sample, reference)", Kind.NUMBER),
        _fig(test + "difference", "Control test: difference (pp)", Kind.RATE, "test_difference"),
        _fig(test + "ci_low", "Control test: 95% CI low (pp)", Kind.RATE, "test_ci_low"),
        _fig(test + "ci_high", "Control test: 95% CI high (pp)", Kind.RATE, "test_ci_high"),
        _fig(test + "p_value", "Control test: p-value (always valid)", Kind.NUMBER, "test_p_value"),
        _fig(test + "significant", "Control test: significant", Kind.BOOL, "test_significant"),
        _fig(test + "fixed_p_value", "Control test: p-value (fixed sample)", Kind.NUMBER, "test_fixed_p_value"),
        _fig(test + "verdict", "Control test: verdict", Kind.TEXT, "test_verdict"),
        _fig(c + "verdict", "Control verdict", Kind.TEXT),
    ]


def _one_row(name: str, stats: Mapping[str, Any], columns: list[Column]) -> Table:
    campaign_id = str(stats["campaign"]["id"])
    return Table.of(name, [CAMPAIGN_ID, *columns], [[campaign_id, *_row(stats, columns, "")]])


def _funnel() -> list[Column]:
    u, i = "funnel.users.", "funnel.influenced."
    return [
        _fig(u + "sent", "Users sent to", Kind.COUNT, "users_sent"),
        _fig(u + "viewed", "Users who saw it", Kind.COUNT, "users_viewed"),
        _fig(u + "clicked", "Users who clicked", Kind.COUNT, "users_clicked"),
        _fig(u + "converted", "Users who converted", Kind.COUNT, "users_converted"),
        _fig(i + "after_sent", "Converted after sent", Kind.COUNT, "influenced_after_sent"),
        _fig(i + "after_viewed", "Converted after viewed", Kind.COUNT, "influenced_after_viewed"),
        _fig(i + "after_clicked", "Converted after clicked", Kind.COUNT, "influenced_after_clicked"),
    ]


def bucket_start(label: str) -> date | datetime:
    """Where a trend bucket starts, from its label: a date, the 1st of a month, or a local (naive) hour."""
    if "T" in label:
        return datetime.fromisoformat(label).replace(tzinfo=None)
    if len(label) == len("2026-10"):
        return date.fromisoformat(label + "-01")
    return date.fromisoformat(label)


def _trend(campaign_id: str, granularity: str, buckets: Sequence[Mapping[str, Any]], money: str) -> Table:
    hourly = any("T" in str(b["bucket"]) for b in buckets) or granularity == "hourly"
    label = "local date and time (the UTC offset of a repeated hour's label dropped)" if hourly else "date"
    start = Column(
        "start",
        "Start (local)",
        Kind.DATETIME if hourly else Kind.DATE,
        f"Where the bucket starts in the report's timezone, as a {label}: a month on its 1st, a week on its Monday",
    )
    g = "trend.*."
    figures = [
        _fig(g + "sent", "Sent", Kind.COUNT),
        _fig(g + "impressions", "Impressions", Kind.COUNT),
        _fig(g + "clicks", "Clicks", Kind.COUNT),
        _fig(g + "errors", "Errors", Kind.COUNT),
        _fig(g + "conversions", "Conversions", Kind.COUNT),
        _fig(g + "revenue", f"Revenue{money}", Kind.MONEY),
        _fig(g + "partial", "Partial", Kind.BOOL),
    ]
    columns = [CAMPAIGN_ID, _fig(g + "bucket", "Bucket", Kind.TEXT), start, *figures]
    rows = [
        [campaign_id, str(b["bucket"]), bucket_start(str(b["bucket"])), *_row(b, figures, "trend.*")] for b in buckets
    ]
    return Table.of(f"trend_{granularity}", columns, rows)


def _split(campaign_id: str, stats: Mapping[str, Any], what: str, title: str, values: str) -> Table:
    key = Column(what, title, Kind.TEXT, f"The {values}; one row for each with impressions, the largest first")
    impressions = Column("impressions", "Impressions", Kind.COUNT, _description(f"split.{what}"), f"split.{what}")
    counts: Mapping[str, int] = stats["split"][what]
    return Table.of(f"split_{what}", [CAMPAIGN_ID, key, impressions], [[campaign_id, k, n] for k, n in counts.items()])


def _errors(campaign_id: str, stats: Mapping[str, Any]) -> Table:
    e = "errors_by_code."
    figures = [
        _fig(e + "code", "Code", Kind.TEXT),
        _fig(e + "count", "Errors", Kind.COUNT),
        _fig(e + "category", "Category", Kind.TEXT),
        _fig(e + "platform", "Provider", Kind.TEXT),
        _fig(e + "retryable", "Retryable", Kind.BOOL),
        _fig(e + "meaning", "Meaning", Kind.TEXT),
        _fig(e + "uninstall", "Uninstall", Kind.BOOL),
    ]
    rows = [[campaign_id, *_row(error, figures, "errors_by_code")] for error in stats["errors_by_code"]]
    return Table.of("errors_by_code", [CAMPAIGN_ID, *figures], rows)


def _variants(campaign_id: str, stats: Mapping[str, Any], money: str) -> Table:
    v = "variants."
    figures = [
        _fig(v + "variant", "Variant", Kind.TEXT),
        _fig(v + "name", "Name", Kind.TEXT),
        _fig(v + "baseline", "Baseline", Kind.BOOL),
        _fig(v + "sent", "Sent", Kind.COUNT),
        _fig(v + "sent_users", "Users sent to", Kind.COUNT),
        _fig(v + "impressions", "Impressions", Kind.COUNT),
        _fig(v + "impressed_users", "Users shown it", Kind.COUNT),
        _fig(v + "clicks", "Clicks", Kind.COUNT),
        _fig(v + "clicked_users", "Users clicking", Kind.COUNT),
        _fig(v + "ctr", "CTR (%)", Kind.RATE),
        _fig(v + "click_rate", "Clicks (% of sent)", Kind.RATE),
        _fig(v + "errors", "Errors", Kind.COUNT),
        _fig(v + "converted_users", "Converted users", Kind.COUNT),
        _fig(v + "conversion_rate", "Conversion rate (%)", Kind.RATE),
        _fig(v + "revenue", f"Revenue{money}", Kind.MONEY),
        _fig(v + "revenue_per_user", f"Revenue per user sent to{money}", Kind.MONEY),
        _fig(v + "funnel.sent", "Funnel: users sent to", Kind.COUNT, "funnel_sent"),
        _fig(v + "funnel.viewed", "Funnel: users who saw it", Kind.COUNT, "funnel_viewed"),
        _fig(v + "funnel.clicked", "Funnel: users who clicked", Kind.COUNT, "funnel_clicked"),
        _fig(v + "funnel.converted", "Funnel: users who converted", Kind.COUNT, "funnel_converted"),
        _fig(v + "probability_best", "P(best), 0 to 1", Kind.NUMBER),
    ]
    counted = {"sent", "sent_users", "impressions", "impressed_users", "clicks", "clicked_users", "ctr", "click_rate"}
    figures = [
        replace(c, description=f"{c.description}: counted on this variant's events, as for the whole campaign")
        if c.key in {*counted, "errors", "conversion_rate"}
        else c
        for c in figures
    ]
    rows = [[campaign_id, *_row(variant, figures, "variants")] for variant in stats["variants"]]
    return Table.of("variants", [CAMPAIGN_ID, *figures], rows)


def _channels(campaign_id: str, stats: Mapping[str, Any]) -> Table:
    c = "variants.channels.*."
    variant = Column("variant", "Variant", Kind.TEXT, _description("variants.variant"))
    channel = Column(
        "channel",
        "Channel",
        Kind.TEXT,
        "The delivery channel: push (regular push), push_amplification or app_inbox; listed when something "
        "happened on it",
    )
    figures = [
        _fig(c + "sent", "Sent", Kind.COUNT),
        _fig(c + "impressions", "Impressions", Kind.COUNT),
        _fig(c + "clicks", "Clicks", Kind.COUNT),
        _fig(c + "ctr", "CTR (%)", Kind.RATE),
        _fig(c + "errors", "Errors", Kind.COUNT),
    ]
    rows = [
        [campaign_id, str(v["variant"]), name, *_row(figs, figures, "variants.channels.*")]
        for v in stats["variants"]
        for name, figs in v["channels"].items()
    ]
    return Table.of("variant_channels", [CAMPAIGN_ID, variant, channel, *figures], rows)


def _comparisons(campaign_id: str, stats: Mapping[str, Any]) -> Table:
    b = "variants.vs_baseline."
    variant = Column("variant", "Variant", Kind.TEXT, "The variant compared with the baseline (the challenger)")
    baseline = Column("baseline_variant", "Baseline", Kind.TEXT, "The baseline variant's id, compared against")
    figures = [
        _fig(b + "difference", "Difference (pp)", Kind.RATE),
        _fig(b + "ci_low", "95% CI low (pp)", Kind.RATE),
        _fig(b + "ci_high", "95% CI high (pp)", Kind.RATE),
        _fig(b + "p_value", "p-value (always valid)", Kind.NUMBER),
        _fig(b + "significant", "Significant", Kind.BOOL),
        _fig(b + "fixed_p_value", "p-value (fixed sample, reference)", Kind.NUMBER),
        _fig(b + "verdict", "Verdict", Kind.TEXT),
    ]
    base = next((str(v["variant"]) for v in stats["variants"] if v["baseline"]), None)
    rows = [
        [campaign_id, str(v["variant"]), base, *_row(v["vs_baseline"], figures, b.rstrip("."))]
        for v in stats["variants"]
        if v["vs_baseline"] is not None
    ]
    return Table.of("comparisons", [CAMPAIGN_ID, variant, baseline, *figures], rows)


def _test() -> list[Column]:
    return [
        _fig("test_started", "Test started", Kind.DATETIME),
        _fig("verdict", "Verdict", Kind.TEXT),
        _fig("winner", "Winner", Kind.TEXT),
        _fig("sample_ratio.p_value", "Sample ratio p-value", Kind.NUMBER, "sample_ratio_p_value"),
        _fig("sample_ratio.mismatch", "Sample ratio mismatch", Kind.BOOL, "sample_ratio_mismatch"),
    ]


def _money(stats: Mapping[str, Any]) -> str:
    currency = stats["campaign"]["currency"]
    return f" ({currency})" if currency else ""


def campaign_tables(stats: Mapping[str, Any]) -> list[Table]:
    """Every figure of a `reporter stats --json` document (`stats_to_json`, or the JSON read back) as tidy tables.

    The same tables for every campaign, in this order: campaign, totals,
    control, funnel, trend_hourly (periods of at most 7 days only),
    trend_daily, trend_weekly, trend_monthly, split_os, split_device,
    errors_by_code, variants, variant_channels, comparisons, ab_test. A
    single-message campaign's A/B tables have their headers and no rows
    (ab_test one row of empty values but its start).
    """
    campaign_id = str(stats["campaign"]["id"])
    money = _money(stats)
    return [
        _campaign(stats),
        _one_row("totals", stats, _totals_columns(money)),
        _one_row("control", stats, _control_columns(money)),
        _one_row("funnel", stats, _funnel()),
        *(_trend(campaign_id, g, buckets, money) for g, buckets in stats["trend"].items()),
        _split(campaign_id, stats, "os", "Operating system", "operating system (ios, android, web, other, unknown)"),
        _split(campaign_id, stats, "device", "Device type", "device type (phone, tablet, desktop, wearable, tv, …)"),
        _errors(campaign_id, stats),
        _variants(campaign_id, stats, money),
        _channels(campaign_id, stats),
        _comparisons(campaign_id, stats),
        _one_row("ab_test", stats, _test()),
    ]


def card_table(stats: Mapping[str, Any]) -> Table:
    """The headline card in one row: campaign and period, the totals (with uplift and errors by category), control."""
    money = _money(stats)
    control = [Column(f"control_{c.key}", c.title, c.kind, c.description, c.figure) for c in _control_columns(money)]
    by_key = {c.key: c for c in _campaign(stats).columns}
    identity = [by_key[k] for k in ("campaign_id", "period_from", "period_to", "timezone", "currency")]
    columns = [*identity, *_totals_columns(money), *control]
    return Table.of("card", columns, [_row(stats, columns, "")])
