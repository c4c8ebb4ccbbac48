"""Number, rate, money, date, label and data-text formatting: one place for templates, charts, e-mail and the
terminal."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal

# Parsed once: Babel parses a locale given by name at every call (two thirds of a number's formatting time, and
# a report formats a thousand numbers).
LOCALE = Locale.parse("en_US")
DASH = "—"

LABELS = {
    # events and figures
    "qualified": "Qualified",
    "sent": "Sent",
    "sent_users": "Users sent to",
    "impressions": "Impressions",
    "clicks": "Clicks",
    "errors": "Errors",
    "conversions": "Conversions",
    "revenue": "Revenue",
    "viewed": "Viewed",
    "clicked": "Clicked",
    "converted": "Converted",
    "after_sent": "After sent",
    "after_viewed": "After viewed",
    "after_clicked": "After clicked",
    # channels
    "push": "Push",
    "push_amplification": "Push amplification",
    "app_inbox": "App inbox",
    # platforms
    "ios": "iOS",
    "android": "Android",
    "web": "Web",
    "other": "Other",
    "unknown": "Unknown",
    # device types
    "phone": "Phone",
    "tablet": "Tablet",
    "desktop": "Desktop",
    "wearable": "Wearable",
    "tv": "TV",
    # error categories and platforms
    "technical": "Technical",
    "non_technical": "Non-technical",
    "fcm": "FCM",
    "apns": "APNs",
    "any": "Any",
    # verdicts of the sequential comparisons
    "winner": "Winner",
    "loser": "Worse",
    "keep_running": "Keep running",
    "not_enough_data": "Not enough data",
    "do_not_decide": "Do not decide",
    "inconclusive": "Inconclusive",
    # trend granularities
    "hourly": "Hourly",
    "daily": "Daily",
    "weekly": "Weekly",
    "monthly": "Monthly",
}


def _escapes(codepoints: Iterable[int]) -> dict[int, str]:
    """A str.translate table showing each code point as its Python escape: \\n, \\x1b, \\u202e."""
    return {cp: ascii(chr(cp))[1:-1] for cp in codepoints}


# C0 and C1 controls and DEL: a terminal obeys them (ESC starts a command, CR and LF start a line).
_CONTROLS = [*range(0x00, 0x20), *range(0x7F, 0xA0)]
# Bidi embeddings, overrides and isolates reorder the rest of a line; line and paragraph separators end it.
_LAYOUT = [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029]
_TERMINAL = _escapes([*_CONTROLS, *_LAYOUT, *range(0xD800, 0xE000)])
# HTML forbids the controls but tab, line feed, form feed and carriage return (whitespace there), and noncharacters.
_NONCHARACTERS = [
    *range(0xFDD0, 0xFDF0),
    *(plane + last for plane in range(0, 0x110000, 0x10000) for last in (0xFFFE, 0xFFFF)),
]
_HTML = _escapes(
    [*(cp for cp in _CONTROLS if cp not in (0x09, 0x0A, 0x0C, 0x0D)), *range(0xD800, 0xE000), *_NONCHARACTERS]
)


def printable(text: str) -> str:
    """Data text for a terminal or a text log: controls, bidi overrides and lone surrogates shown as escapes.

    `Sale\\x1b[2J` and `id\\nnext` print as those characters, never clear the
    screen or start a line. Backslashes are left alone, so this is idempotent.
    """
    return text.translate(_TERMINAL)


def report_text(text: str) -> str:
    """Data text for an HTML report: the code points HTML forbids shown as escapes (\\x1b), whitespace kept."""
    return text.translate(_HTML)


def label(key: str) -> str:
    """The human label of a key (event, channel, platform, device type, ...)."""
    return LABELS.get(key, key.replace("_", " ").capitalize())


def count(value: int | float | None) -> str:
    """A count with thousands separators: 12,345."""
    return DASH if value is None else format_decimal(value, format="#,##0", locale=LOCALE)


def compact(value: float) -> str:
    """A short count for chart axes: 950, 12.3K, 1.2M."""
    magnitude = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if magnitude >= limit:
            scaled = value / limit
            text = format_decimal(scaled, format="#,##0.#", locale=LOCALE)
            return f"{text}{suffix}"
    return format_decimal(value, format="#,##0.#", locale=LOCALE)


def rate(value: float | None, decimals: int = 2) -> str:
    """A percentage (already in 0..100) with one or two decimals, or an em dash when undefined."""
    if value is None:
        return DASH
    pattern = "#,##0." + "0" * decimals if decimals else "#,##0"
    return format_decimal(value, format=pattern, locale=LOCALE) + "%"


def points(value: float | None) -> str:
    """A difference in percentage points, signed: +1.25 pp."""
    if value is None:
        return DASH
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    return f"{sign}{format_decimal(abs(value), format='#,##0.00', locale=LOCALE)} pp"


def change(current: float | None, previous: float | None) -> str | None:
    """The relative change against a previous value, signed (+12.5%), or None when undefined."""
    if current is None or previous is None or previous == 0:
        return None
    delta = 100 * (current - previous) / abs(previous)
    sign = "+" if delta > 0 else "−" if delta < 0 else "±"
    return f"{sign}{format_decimal(abs(delta), format='#,##0.0', locale=LOCALE)}%"


def signed(value: float | None, shown: str) -> str:
    """A signed figure: "+" or the minus sign "−" (not a hyphen) before its absolute value shown; — when undefined."""
    if value is None:
        return DASH
    sign = "+" if value > 0 else "−" if value < 0 else ""
    return f"{sign}{shown}"


def counted(n: int | float, singular: str, plural: str | None = None) -> str:
    """A count with its noun, singular for one: 1 user, 2 users, 1,234 conversions."""
    return f"{count(n)} {singular if n == 1 else plural or singular + 's'}"


def money(value: float | None, currency: str) -> str:
    """An amount with its currency symbol: $1,234.50, €99.00."""
    if value is None:
        return DASH
    return format_currency(value, currency, locale=LOCALE)


def p_value(value: float | None) -> str:
    """A p-value for people: < 0.001, 0.042, or a dash."""
    if value is None:
        return DASH
    if value < 0.001:
        return "< 0.001"
    return format_decimal(value, format="0.000", locale=LOCALE)


def probability(value: float | None) -> str:
    """A probability as a percentage with one decimal: 97.3%."""
    return DASH if value is None else rate(100 * value, 1)


def day(value: date) -> str:
    """A date: Oct 1, 2026."""
    return format_date(value, format="medium", locale=LOCALE)


def short_day(value: date) -> str:
    """A short date for chart axes: Oct 1."""
    return format_date(value, format="MMM d", locale=LOCALE)


def timestamp(value: datetime, tz: str) -> str:
    """A date and time in a timezone: Nov 26, 2026, 7:00 AM UTC."""
    return format_datetime(value, format="MMM d, y, h:mm a", tzinfo=ZoneInfo(tz), locale=LOCALE) + f" {tz}"


def period(start: datetime, end: datetime, tz: str) -> str:
    """A half-open period shown by its days: Oct 1 – Oct 31, 2026 (midnight ends are exclusive)."""
    zone = ZoneInfo(tz)
    first = start.astimezone(zone)
    last = end.astimezone(zone)
    whole_days = first.time() == last.time() == datetime.min.time()
    if whole_days:
        from datetime import timedelta

        last_day = (last - timedelta(days=1)).date()
        if last_day == first.date():
            return day(first.date())
        return f"{day(first.date())} – {day(last_day)}"
    return f"{timestamp(first, tz)} – {timestamp(last, tz)}"


def bucket_label(bucket: str, granularity: str) -> str:
    """A trend bucket label for people: Oct 1 (daily), week of Oct 5 (weekly), Oct 2026 (monthly)."""
    if granularity == "monthly":
        return format_date(date.fromisoformat(bucket + "-01"), format="MMM y", locale=LOCALE)
    return short_day(date.fromisoformat(bucket))
