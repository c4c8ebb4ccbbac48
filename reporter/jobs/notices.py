"""The notices a unit of work gives its destinations: the report it produced, or its final failure. Pure."""

from __future__ import annotations

from urllib.parse import quote

from reporter import formatting as fmt
from reporter.delivery.notices import Notice
from reporter.metrics import CampaignStats
from reporter.metrics.portfolio import Portfolio


def report_link(base_url: str | None, folder: str | None) -> str | None:
    """The archived report's page in the web app (`<base_url>/reports/<job>/<campaign>/<period>`), when both are
    known."""
    if not base_url or not folder:
        return None
    return f"{base_url.rstrip('/')}/reports/{quote(folder, safe='/')}"


def headline_facts(stats: CampaignStats) -> tuple[tuple[str, str], ...]:
    """The report's headline figures, as the e-mail shows them."""
    c, t = stats.campaign, stats.totals
    facts = [
        ("Sent", f"{fmt.count(t.sent)} to {fmt.count(t.sent_users)} users"),
        ("Impressions", f"{fmt.count(t.impressions)} ({fmt.rate(t.impression_rate)})"),
        ("Clicks", f"{fmt.count(t.clicks)} (CTR {fmt.rate(t.ctr)})"),
        ("Converted users", f"{fmt.count(t.converted_users)} ({fmt.rate(t.conversion_rate)})"),
        ("Revenue", f"{fmt.money(t.revenue, c.currency)} from {fmt.count(t.conversions)} conversions"),
        ("Errors", fmt.count(t.errors)),
    ]
    if stats.verdict:
        facts.append(("A/B verdict", fmt.label(stats.verdict) + (f" ({stats.winner})" if stats.winner else "")))
    return tuple(facts)


def report_notice(
    job: str, period: str, subject: str, stats: CampaignStats, summary: tuple[str, ...], link: str | None
) -> Notice:
    """A report went out: its title (the e-mail's subject), summary sentences, headline figures and link."""
    c = stats.campaign
    period_text = fmt.period(stats.period.start, stats.period.end, stats.period.timezone)
    title = subject.format_map({"campaign": c.name, "period": period_text, "campaign_id": c.id})
    return Notice(
        kind="report",
        title=title,
        summary=summary,
        facts=headline_facts(stats),
        link=link,
        campaign=c.id,
        period=period,
        id=f"report/{job}/{c.id}/{period}",
    )


def portfolio_notice(
    job: str, period: str, subject: str, portfolio: Portfolio, summary: tuple[str, ...], link: str | None
) -> Notice:
    """A portfolio report went out: its title, summary, the campaigns' totals and link."""
    p = portfolio.period
    period_text = fmt.period(p.start, p.end, p.timezone)
    title = subject.format_map({"campaign": "Campaign portfolio", "period": period_text, "campaign_id": "portfolio"})
    t = portfolio.total
    facts = (
        ("Campaigns", f"{fmt.count(len(portfolio.rows))} with sends, {fmt.count(len(portfolio.idle))} without"),
        ("Sent", fmt.count(t.sent)),
        ("Clicks", f"{fmt.count(t.clicks)} (CTR {fmt.rate(t.ctr)})"),
        ("Converted users", f"{fmt.count(t.converted_users)} ({fmt.rate(t.conversion_rate)})"),
        ("Errors", fmt.count(t.errors)),
    )
    return Notice(
        kind="report",
        title=title,
        summary=summary,
        facts=facts,
        link=link,
        campaign="portfolio",
        period=period,
        id=f"report/{job}/portfolio/{period}",
    )


def failure_notice(job: str, campaign_id: str, period: str, why: str, error: str, command: str) -> Notice:
    """A unit failed for good: the last error and the command that tries again."""
    where = f"{job} / {campaign_id} / {period}"
    return Notice(
        kind="failure",
        title=f"reporter: {where} {why}",
        summary=(f"The report {where} {why} for good and will not be retried automatically.",),
        facts=(("Last error", error), ("To try again", command)),
        campaign=campaign_id,
        period=period,
        id=f"failure/{job}/{campaign_id}/{period}",
    )
