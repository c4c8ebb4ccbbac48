"""Assembling a report: stats -> charts -> HTML (Jinja2) -> PDF (WeasyPrint).

Pure functions of their inputs: the stats, the previous period's stats, the
generation time and the branding go in; HTML text and PDF bytes come out. The
same data and options give the same HTML, byte for byte.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from reporter import __version__
from reporter import fonts as pdf_fonts
from reporter import formatting as fmt
from reporter.branding import Branding
from reporter.charts import GRANULARITIES, Chart, report_charts
from reporter.charts.trend import granularity_for
from reporter.layout_engine import load_weasyprint
from reporter.metrics.model import CampaignStats
from reporter.verdicts_text import ab_sentence, control_sentence, summary

if TYPE_CHECKING:
    from jinja2 import Environment

log = logging.getLogger(__name__)
CHART_SCHEME = "chart:"


@dataclass(frozen=True)
class Rendered:
    """A report's HTML (inline SVG charts) and the HTML the PDF is laid out from."""

    html: str
    pdf_html: str
    charts: dict[str, bytes] = field(repr=False)
    title: str
    author: str
    generated_at: datetime
    summary: tuple[str, ...] = ()  # the sentences of page 1, for the e-mail too


def _data_text(value: Any) -> Any:
    """Every `{{ }}` value: a plain string (data) shows the code points HTML forbids as escapes; markup passes."""
    return fmt.report_text(value) if type(value) is str else value


@lru_cache(maxsize=1)
def _environment() -> Environment:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("reporter", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_data_text,
        extensions=["jinja2.ext.do"],
    )
    env.globals.update(figure_widths=figure_widths, VARIANT_HEADERS=VARIANT_HEADERS)
    env.tests["endswith"] = lambda value, suffix: str(value).endswith(suffix)
    env.filters.update(
        count=fmt.count,
        rate=fmt.rate,
        money=fmt.money,
        points=fmt.points,
        p_value=fmt.p_value,
        probability=fmt.probability,
        label=fmt.label,
        signed_rate=lambda v: fmt.signed(v, fmt.rate(abs(v), 1) if v is not None else ""),
        signed_count=lambda v: fmt.signed(v and round(v), fmt.count(abs(round(v))) if v is not None else ""),
        signed_money=lambda v, currency: fmt.signed(v, fmt.money(abs(v), currency) if v is not None else ""),
        counted=fmt.counted,
        file_kind=file_kind,
    )
    return env


# A figure's characters in `ch` (the width of a "0"; the report's figures are tabular, a little wider),
# measured in the PDF with the packaged Inter: separators narrower, the percent sign wider.
_GLYPH_CH = {",": 0.45, ".": 0.45, " ": 0.5, "%": 1.55, "—": 1.6}
_CELL_PADDING_CH = 2.0  # 4px on each side, and air between the figures
# The least width of each figure column of the A/B report's variants table, in ch: its header's longest word
# and some air.
VARIANT_HEADERS = (5.5, 11.5, 7.0, 5.5, 7.0, 10.0, 6.0, 8.5, 7.5)
# The figures' share of the narrowest table (an A4 page holds 94ch of the table's type): the label keeps 10ch.
_FIGURES_CH = 84.0


def figure_widths(rows: list[list[str]], least: tuple[float, ...]) -> list[str]:
    """CSS widths for a table's figure columns (the first, its label, has the rest of the line): each column holds
    its widest figure whole, whatever the campaign's size (a fixed share cut "332,470" to "332,4…"), and its header.
    Past 84ch in all (figures of a hundred million in every column) they shrink alike, the label keeping its place.
    A row may have fewer figures than there are columns (a channel's row has no conversions)."""
    widths = []
    for i, low in enumerate(least):
        cells = [row[i] for row in rows if i < len(row)]
        widest = max((sum(_GLYPH_CH.get(c, 1.03 if c.isdigit() else 1.3) for c in cell) for cell in cells), default=0)
        widths.append(max(widest + _CELL_PADDING_CH, low))
    scale = min(1.0, _FIGURES_CH / sum(widths)) if widths else 1.0
    return [f"{w * scale:.1f}ch" for w in widths]


def file_kind(name: str) -> str:
    """What a report file is, for a link: PDF, HTML, CSV (the ZIP of CSV files), XLSX."""
    return "CSV" if name.endswith(".csv.zip") else name.rsplit(".", 1)[-1].upper()


def environment() -> Environment:
    """The Jinja2 environment of every template (reports, e-mails, web pages), created once."""
    return _environment()


@lru_cache(maxsize=1)
def _css() -> Markup:
    return Markup(resources.files("reporter").joinpath("templates", "report.css").read_text(encoding="utf-8"))


RATES = frozenset(
    {
        "ctr",
        "impression_rate",
        "click_rate",
        "conversion_rate",
        "view_through_conversion_rate",
        "click_through_conversion_rate",
    }
)


def _delta_factory(stats: CampaignStats, previous: CampaignStats | None) -> Callable[..., dict[str, str] | None]:
    """delta(key): the change of a headline figure against the previous period, for the card.

    A count's change is relative (+4.1%), a rate's in percentage points (−0.27 pp).
    """

    def delta(key: str, lower_is_better: bool = False) -> dict[str, str] | None:
        if previous is None:
            return None
        now, before = getattr(stats.totals, key), getattr(previous.totals, key)
        if now is None or before is None:
            return None
        if key in RATES:
            shown = fmt.rate(before)
        else:
            shown = fmt.count(before) if isinstance(before, int) else fmt.money(before, stats.campaign.currency)
        return change_mark(now, before, key in RATES, shown, lower_is_better)

    return delta


def change_mark(
    now: float, before: float, rate: bool, before_shown: str, lower_is_better: bool = False
) -> dict[str, str] | None:
    """A figure's change against the previous period for a template: its text (a rate's in points, anything
    else's relative), its direction (up: better, down: worse, flat) and a title with the previous value."""
    text = fmt.points(now - before) if rate else fmt.change(now, before)
    if text is None:
        return None
    diff = now - before
    good = diff < 0 if lower_is_better else diff > 0
    direction = "flat" if diff == 0 else ("up" if good else "down")
    return {"text": text, "direction": direction, "title": f"{before_shown} in the previous period"}


def _verdict_kind(sentence: str, stats: CampaignStats, ab_verdict: str) -> str:
    """How the summary shows a sentence: "win" (a verdict that found a winner), "verdict", or "" (a plain one)."""
    control = control_sentence(stats)
    if ab_verdict and sentence == ab_verdict:
        return "win" if stats.winner is not None else "verdict"
    if sentence.endswith(control[1:]):
        return "win" if stats.control.verdict == "winner" else "verdict"
    return ""


def page_context(branding: Branding, generated_at: datetime, tz: str) -> dict[str, Any]:
    """What every report page shows besides its figures: the branding, the stylesheet, when and by what version."""
    return {
        "generated_text": fmt.timestamp(generated_at, tz),
        "generated_iso": generated_at.isoformat(),
        "timezone": tz,
        "author": branding.company or "reporter",
        "company": branding.company,
        "logo": branding.logo_data_uri,
        "accent": branding.accent,
        "css": _css(),
        "version": __version__,
        "docs_url": branding.docs_url,
    }


def svg_inline(chart: Chart) -> Markup:
    svg = chart.svg.replace("<svg", f'<svg role="img" aria-label="{html.escape(fmt.report_text(chart.alt))}"', 1)
    return Markup(svg)


def svg_reference(chart: Chart) -> Markup:
    return Markup(f'<img src="{CHART_SCHEME}{chart.key}" alt="{html.escape(fmt.report_text(chart.alt))}">')


def draw_charts(stats: CampaignStats) -> dict[str, Chart]:
    """The report's charts, in the granularity that fits its period."""
    return report_charts(stats, _granularity(stats))


def _granularity(stats: CampaignStats) -> str:
    return granularity_for(max(1, round((stats.period.end - stats.period.start) / timedelta(days=1))))


def render_html(
    stats: CampaignStats,
    previous: CampaignStats | None,
    generated_at: datetime,
    branding: Branding = Branding(),
    charts: dict[str, Chart] | None = None,
) -> Rendered:
    """The report's HTML, and the variant of it the PDF is laid out from (charts by reference).

    `charts` are `draw_charts(stats)`, when the caller drew them already (meanwhile, say).
    """
    granularity = _granularity(stats)
    charts = report_charts(stats, granularity) if charts is None else charts
    c = stats.campaign
    tz = stats.period.timezone
    period_text = fmt.period(stats.period.start, stats.period.end, tz)
    has_previous = previous is not None and (previous.totals.sent or previous.totals.conversions)
    ab_verdict = ab_sentence(stats) if stats.variants else ""
    sentences = summary(stats, previous if has_previous else None)
    window = c.conversion_window_hours
    context: dict[str, Any] = {
        "stats": stats,
        "c": c,
        "t": stats.totals,
        "previous": previous if has_previous else None,
        "previous_text": fmt.period(previous.period.start, previous.period.end, tz) if previous else "",
        "delta": _delta_factory(stats, previous if has_previous else None),
        "charts": charts,
        "granularity": granularity,
        "granularities": [g for g in dict.fromkeys(("hourly", *GRANULARITIES)) if f"trend-{g}" in charts],
        "granularity_noun": {"hourly": "hour", "daily": "day", "weekly": "week", "monthly": "month"}[granularity],
        "period_text": period_text,
        "window_text": f"{window:g} hours" if window != 1 else "1 hour",
        **page_context(branding, generated_at, tz),
        "doc_title": f"{c.name} — {period_text}",
        "running_title": c.name,
        "control_verdict": control_sentence(stats),
        "ab_verdict": ab_verdict,
        # The answer on the first page: what happened, and the verdicts (marked) among the sentences.
        "summary": [(s, _verdict_kind(s, stats, ab_verdict)) for s in sentences],
        "has_control": bool(c.control_group_pct or stats.control.users or stats.totals.control_group),
        "share": lambda part, whole: fmt.rate(100 * part / whole, 1) if whole else fmt.DASH,
        "partial_note": "",
    }
    template = _environment().get_template("ab.html.j2" if c.type == "ab" else "single.html.j2")
    page = template.render(context, embed=svg_inline, pdf=False)
    pdf_page = template.render(context, embed=svg_reference, pdf=True)
    return Rendered(
        html=page,
        pdf_html=pdf_page,
        charts={key: chart.svg.encode("utf-8") for key, chart in charts.items()},
        title=context["doc_title"],
        author=context["author"],
        generated_at=generated_at,
        summary=sentences,
    )


class FetchRefused(ValueError):
    """The PDF renderer asked for something that is not one of the report's own charts or fonts."""


def _fetcher(charts: dict[str, bytes], refused: list[str]) -> Any:
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class ChartsAndFonts(URLFetcher):  # type: ignore[misc]  # weasyprint ships no types: URLFetcher is Any
        """Serves the report's charts and the packaged fonts; refuses every other URL (http, file, data, ...)."""

        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith(CHART_SCHEME) and url[len(CHART_SCHEME) :] in charts:
                return URLFetcherResponse(url, charts[url[len(CHART_SCHEME) :]], {"Content-Type": "image/svg+xml"})
            if (font := pdf_fonts.fetch(url)) is not None:
                return URLFetcherResponse(url, font, {"Content-Type": "font/ttf"})
            refused.append(url)
            raise FetchRefused(f"refused to fetch {url!r}: reports embed everything they show")

    return ChartsAndFonts()


def render_pdf(rendered: Rendered, refused: list[str] | None = None) -> bytes:
    """Lay the report out as a tagged (PDF/UA-1) A4 PDF in the packaged fonts; nothing is fetched but its charts."""
    load_weasyprint()
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    refused = [] if refused is None else refused
    fetcher = _fetcher(rendered.charts, refused)
    fonts = FontConfiguration()
    pdf_fonts.prefer_packaged(fonts)
    document = HTML(string=rendered.pdf_html, base_url=f"{CHART_SCHEME}/", url_fetcher=fetcher)
    size_card_grids(document.etree_element)
    stylesheet = CSS(
        string=pdf_fonts.stylesheet(), base_url=f"{pdf_fonts.SCHEME}/", url_fetcher=fetcher, font_config=fonts
    )
    # PDF/UA-1: tagged, with the document's language, title and outline (h1, h2). No file identifier, so the same
    # report gives the same bytes.
    pdf: bytes = document.write_pdf(
        stylesheets=[stylesheet], font_config=fonts, pdf_variant="pdf/ua-1", uncompressed_pdf=False
    )
    if refused:
        log.warning("refused %d fetches while rendering %s", len(refused), rendered.title)
    return pdf


# The PDF's grids of figure cards (report.css: four columns in print) and the print sizes of a card's text, in
# points (px are 0.75 pt): its name, its figure (bold, on one line with its change), the changes (semibold, each
# 3 pt from what precedes it, never broken) and the line under the figure.
CARD_GRIDS = ("kpis", "compare")
_CARD_COLUMNS = 4
_NAME_PT, _NUM_PT, _DELTA_PT, _SUB_PT = 9.0, 14.0, 8.625, 9.0
_DELTA_GAP_PT = 3.0
_CARD_FRAME_PT = 2 * 8.0 + 2 * 0.75  # padding and border, left and right


def size_card_grids(root: Any) -> None:
    """Give each card grid of the PDF's HTML columns `minmax(<widest card's unbreakable text>, 1fr)`.

    The stylesheet's `1fr` columns are as wide as their cards' longest unbreakable text (a big revenue and its
    change widen their column); WeasyPrint finds that width by laying out every word of every card, half of its
    layout of a report. The same width summed here from the packaged font's advances takes a millisecond, and
    the columns come out the same: equal while every card fits its quarter, and a card too wide for it widened
    (by its kerning at most, which the sum leaves out).
    """
    for grid in root.iter():
        if not set(CARD_GRIDS) & _classes(grid):
            continue
        cards = [card for card in grid if "kpi" in _classes(card)]
        widths = [0.0] * _CARD_COLUMNS
        for i, card in enumerate(cards):
            widths[i % _CARD_COLUMNS] = max(widths[i % _CARD_COLUMNS], _card_width(card))
        grid.set("style", "grid-template-columns: " + " ".join(f"minmax({w:.2f}pt, 1fr)" for w in widths))


def _card_width(card: Any) -> float:
    """The least width of a card (its min-content width): its longest unbreakable run (the figure with its
    changes, a change under it), and its frame."""
    widest = 0.0
    for part in card:
        kind = _classes(part)
        changes = [child for child in part if "delta" in _classes(child)]
        change_widths = [_DELTA_GAP_PT + pdf_fonts.text_width(c.text or "", _DELTA_PT, 600) for c in changes]
        # The part's text but its changes', in runs: (text, whether it sets tabular figures).
        runs = [(part.text or "", False)]
        for child in part:
            runs += [("" if child in changes else "".join(child.itertext()), "num" in _classes(child))]
            runs += [(child.tail or "", False)]
        if "value" in kind:  # the figure (tabular, letter-spaced -0.01em) and its changes: one line
            figure = sum(pdf_fonts.text_width(run, _NUM_PT, 700, tabular, -0.01) for run, tabular in runs)
            widest = max(widest, figure + sum(change_widths))
            continue
        # The name, the line under the figure: broken anywhere (report.css: overflow-wrap), its changes whole.
        size = _NAME_PT if "name" in kind else _SUB_PT
        text = "".join(run for run, _ in runs)
        widest = max([widest, *change_widths, *(pdf_fonts.text_width(char, size) for char in set(text))])
    return widest + _CARD_FRAME_PT


def _classes(element: Any) -> set[str]:
    return set((element.get("class") or "").split())


@dataclass(frozen=True)
class EmailBody:
    subject: str
    html: str
    text: str


def render_email(
    stats: CampaignStats,
    subject_template: str,
    note: str,
    branding: Branding = Branding(),
    sentences: tuple[str, ...] | None = None,
) -> EmailBody:
    """The e-mail's subject, short HTML summary (inline CSS, no scripts) and plain-text alternative.

    `sentences`: the report's summary (with its comparison to the previous period); without it, one
    without that comparison.
    """
    c, t = stats.campaign, stats.totals
    period_text = fmt.period(stats.period.start, stats.period.end, stats.period.timezone)
    subject = subject_template.format_map({"campaign": c.name, "period": period_text, "campaign_id": c.id})
    figures = [
        ("Sent", fmt.count(t.sent), f"{fmt.count(t.sent_users)} users"),
        ("Impressions", fmt.count(t.impressions), fmt.rate(t.impression_rate)),
        ("Clicks", fmt.count(t.clicks), f"CTR {fmt.rate(t.ctr)}"),
        ("Converted users", fmt.count(t.converted_users), fmt.rate(t.conversion_rate)),
        ("Revenue", fmt.money(t.revenue, c.currency), f"{fmt.count(t.conversions)} conversions"),
        ("Errors", fmt.count(t.errors), ""),
    ]
    sentences = summary(stats, None) if sentences is None else sentences
    html_body = (
        _environment()
        .get_template("email.html.j2")
        .render(
            subject=subject,
            eyebrow="Push campaign report",
            heading=c.name,
            timezone=stats.period.timezone,
            kind_text="A/B test" if c.type == "ab" else "Single message",
            period_text=period_text,
            figures=figures,
            summary=" ".join(sentences),
            note=note,
            company=branding.company,
            accent=branding.accent,
        )
    )
    lines = [f"{c.name}", f"{period_text} ({stats.period.timezone})", "", " ".join(sentences), ""]
    lines += [f"{name}: {value}" + (f" ({sub})" if sub else "") for name, value, sub in figures]
    lines += ["", note, ""]
    return EmailBody(subject=subject, html=html_body, text="\n".join(lines))
