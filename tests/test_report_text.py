"""The report written for its reader (reports v2): the summary on page 1, changes that say what changed, the order.

The figures are set by hand on the demo A/B test's stats, so every sentence below is worked out from them.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from reporter.metrics.model import CampaignStats, Comparison, Funnel, UsersFunnel
from reporter.render import render_html, render_pdf
from reporter.verdicts_text import ab_sentence, summary
from tests.test_verdicts import ab_stats as nine_days  # noqa: F401 - the module's demo A/B test, loaded once

GENERATED = datetime(2026, 11, 28, tzinfo=UTC)


@pytest.fixture(scope="module")
def ab_stats(nine_days: CampaignStats) -> CampaignStats:
    """The demo A/B test over its first nine days, with round figures set by hand."""
    stats = nine_days
    totals = replace(
        stats.totals,
        sent=1_200,
        sent_users=1_000,
        impressions=900,
        impression_rate=75.0,
        clicks=150,
        ctr=150 / 9,
        conversions=60,
        converted_users=50,
        conversion_rate=5.0,
        revenue=1_236.0,
        errors=30,
        uninstalls=4,
        impressed_users=600,
        clicked_users=120,
    )
    funnel = Funnel(
        users=UsersFunnel(sent=1_000, viewed=600, clicked=120, converted=50), influenced=stats.funnel.influenced
    )
    return replace(stats, totals=totals, funnel=funnel)


def previous_of(stats: CampaignStats) -> CampaignStats:
    """The nine days before, with 40 converted users of 1,000 (4.00%) and €1,000 of revenue."""
    nine = timedelta(days=9)
    period = replace(stats.period, start=stats.period.start - nine, end=stats.period.end - nine)
    totals = replace(
        stats.totals,
        converted_users=40,
        conversion_rate=4.0,
        revenue=1_000.0,
        impressions=1_000,
        impression_rate=80.0,
        sent=1_250,
    )
    return replace(stats, period=period, totals=totals)


def with_ab_verdict(stats: CampaignStats, verdict: str, winner: str | None = None) -> CampaignStats:
    base = Comparison(1.8, 0.6, 3.0, 0.01, verdict == "winner", 0.001, verdict)
    variants = tuple(v if v.baseline else replace(v, vs_baseline=base) for v in stats.variants)
    return replace(stats, variants=variants, verdict=verdict, winner=winner)


def test_the_summary_says_reach_conversions_change_verdicts_and_errors(ab_stats: CampaignStats) -> None:
    stats = with_ab_verdict(ab_stats, "winner", "B")
    stats = replace(stats, control=replace(stats.control, users=0, test=None))  # no control group: no control sentence
    start = stats.period.start - timedelta(days=9)
    assert summary(stats, previous_of(stats)) == (
        "1,200 notifications went to 1,000 users; 600 of them (60.0%) saw one and 120 (12.0%) clicked.",
        "50 users converted (5.00% of the users sent to), with 60 conversions worth €1,236.00.",
        f"Against the previous period ({start:%b} {start.day}, {start.year} – "
        f"{(stats.period.start - timedelta(days=1)):%b} "
        f"{(stats.period.start - timedelta(days=1)).day}, {start.year}): converted users +25.0%, conversion rate "
        "+1.00 pp, "
        "revenue +23.6%.",
        "Stop: B wins (+1.80 pp, 95% CI +0.60 to +3.00, since the test started).",
        "30 notifications could not be delivered (" + f"{stats.errors_by_category.technical:,} technical, "
        f"{stats.errors_by_category.non_technical:,} non-technical); 4 users had uninstalled the app.",
    )


def test_the_summary_of_an_empty_period_and_without_a_previous_one(ab_stats: CampaignStats) -> None:
    empty = replace(
        ab_stats,
        totals=replace(ab_stats.totals, sent=0, conversions=0, errors=0),
        variants=(),
        control=replace(ab_stats.control, users=0, test=None),
    )
    assert summary(empty, None) == (
        "Nothing was sent in this period, and no conversion was attributed to the campaign.",
    )


def test_counts_change_relatively_and_rates_in_points_beside_their_figure(ab_stats: CampaignStats) -> None:
    stats = with_ab_verdict(ab_stats, "keep_running")
    html = render_html(stats, previous_of(stats), GENERATED).html
    card = html[html.index('id="sent-conversions"') : html.index("</section>", html.index('id="sent-conversions"'))]

    def kpi(name: str) -> str:
        return re.search(rf'<div class="name">{re.escape(name)}</div>(.*?)</div>\s*</div>', card, re.S).group(0)

    converted = kpi("Converted users")
    # 50 vs 40 users: +25.0% beside the count; 5.00% vs 4.00%: +1.00 pp beside the rate, never the reverse.
    assert re.search(
        r'<div class="value"><span class="num">50</span> <span class="delta up"[^>]*>\+25\.0%</span></div>', converted
    )
    assert re.search(
        r'<div class="sub">5\.00% of users sent to <span class="delta up"[^>]*>\+1\.00 pp</span></div>', converted
    )
    impressions = kpi("Impressions")
    assert re.search(r'<span class="num">900</span> <span class="delta down"[^>]*>−10\.0%</span>', impressions)
    assert re.search(r'75\.00% of notifications sent <span class="delta down"[^>]*>−5\.00 pp</span>', impressions)
    assert "Users who saw it" in card and ">600<" in kpi("Users who saw it")  # users beside impressions, each labelled


def test_the_answer_comes_first_then_the_order_of_the_spec(ab_stats: CampaignStats) -> None:
    html = render_html(with_ab_verdict(ab_stats, "winner", "B"), None, GENERATED).html
    order = [
        "summary",
        "sent-conversions",
        "comparison",
        "variants",
        "control",
        "trend",
        "performance",
        "funnels",
        "variant-split",
        "split",
        "errors",
    ]
    positions = [html.index(f'<section id="{name}"') for name in order]
    assert positions == sorted(positions)
    headings = re.findall(r"<h2>(.*?)</h2>", html)
    assert len(headings) == len(set(headings))  # one heading each
    captions = set(re.findall(r"<figcaption>(.*?)</figcaption>", html))
    assert not captions & set(headings)  # no "Conversion performance / Conversion performance"


@pytest.mark.parametrize(
    ("verdict", "winner"),
    [
        ("winner", "B"),
        ("keep_running", None),
        ("not_enough_data", None),
        ("do_not_decide", None),
        ("inconclusive", None),
        ("loser", None),
    ],
)
def test_each_verdict_is_on_page_one_of_the_pdf(
    ab_stats: CampaignStats, verdict: str, winner: str | None, tmp_path
) -> None:
    stats = with_ab_verdict(ab_stats, verdict, winner)
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(render_pdf(render_html(stats, None, GENERATED)))
    page_one = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = " ".join(page_one.split())
    assert ab_sentence(stats) in flat
    assert "1,200 notifications went to 1,000 users" in flat


def test_the_mail_carries_the_reports_summary(ab_stats: CampaignStats) -> None:
    from reporter.render import render_email

    stats = with_ab_verdict(ab_stats, "winner", "B")
    rendered = render_html(stats, previous_of(stats), GENERATED)
    mail = render_email(stats, "{campaign}", "The full report is attached as a PDF.", sentences=rendered.summary)
    text = " ".join(mail.text.split())
    assert " ".join(rendered.summary) in text and "conversion rate +1.00 pp" in text
    assert "Stop: B wins (+1.80 pp, 95% CI +0.60 to +3.00, since the test started)." in mail.html


def test_one_is_singular_the_minus_is_a_minus_and_the_control_verdict_is_named(ab_stats: CampaignStats) -> None:
    one = replace(
        ab_stats,
        totals=replace(ab_stats.totals, sent=1, sent_users=1, converted_users=1, conversions=1, errors=1, uninstalls=1),
        funnel=Funnel(users=UsersFunnel(sent=1, viewed=1, clicked=0, converted=1)),
    )
    text = " ".join(summary(with_ab_verdict(one, "keep_running"), None))
    assert "1 notification went to 1 user;" in text and "1 user converted" in text and "with 1 conversion worth" in text
    assert "1 notification could not be delivered" in text and "1 user had uninstalled the app" in text
    assert "Against the control group: not enough data yet" in text  # the A/B verdict first, then the control's
    control = replace(ab_stats.control, lift=-41.5, incremental_conversions=-4.0, incremental_revenue=-12.5)
    html = render_html(replace(with_ab_verdict(ab_stats, "keep_running"), control=control), None, GENERATED).html
    assert "−41.5%" in html and "−4</span>" in html and "−€12.50 incremental revenue" in html
    assert "-41.5%" not in html


def test_a_single_message_without_a_control_group_says_so_once(ab_stats: CampaignStats) -> None:
    single = replace(
        ab_stats,
        variants=(),
        verdict="not_enough_data",
        winner=None,
        campaign=replace(ab_stats.campaign, type="single", control_group_pct=0),
        control=replace(ab_stats.control, users=0, test=None),
        totals=replace(ab_stats.totals, control_group=0),
    )
    sentence = "This campaign has no control group in the period, so its effect cannot be measured."
    assert sentence in summary(single, None)
    html = render_html(single, None, GENERATED).html
    control = html[
        html.index('<section id="control">') : html.index("</section>", html.index('<section id="control">'))
    ]
    assert sentence in control and "Targeted users converting" not in control
    assert ">Control group</div>" not in html  # no card for a group that does not exist
