"""Numbers, dates and text for people: the one place the reports, the e-mail and the CLI take them from."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reporter import formatting as fmt


@pytest.mark.parametrize(("value", "shown"), [(12345, "12,345"), (0, "0"), (None, "—")])
def test_count(value: int | None, shown: str) -> None:
    assert fmt.count(value) == shown


def test_rates_points_and_changes() -> None:
    assert fmt.rate(12.5) == "12.50%" and fmt.rate(5, 1) == "5.0%" and fmt.rate(None) == "—"
    assert fmt.points(1.25) == "+1.25 pp" and fmt.points(-0.5) == "−0.50 pp"  # a true minus sign
    assert fmt.change(110, 100) == "+10.0%"
    assert fmt.change(1, 0) is None  # no change from nothing


def test_p_values_and_probabilities() -> None:
    assert fmt.p_value(0.0004) == "< 0.001" and fmt.p_value(0.04213) == "0.042" and fmt.p_value(None) == "—"
    assert fmt.probability(0.9731) == "97.3%"


def test_money_and_compact_counts() -> None:
    assert fmt.money(1234.5, "EUR") == "€1,234.50"
    assert (fmt.compact(950), fmt.compact(12345), fmt.compact(2_500_000)) == ("950", "12.3K", "2.5M")


def test_a_period_names_its_last_day_not_the_excluded_end() -> None:
    start, end = datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 10, 12, tzinfo=UTC)
    assert fmt.period(start, end, "UTC") == "Oct 5, 2026 – Oct 11, 2026"


def test_printable_shows_controls_as_escapes_and_is_idempotent() -> None:
    shown = fmt.printable("a\x1b[2J\n\u202eb\\x")
    assert shown == "a\\x1b[2J\\n\\u202eb\\x"
    assert fmt.printable(shown) == shown
