"""What an alert rule decides, as pure functions: the figure it watches, whether it breaches, the next state.

A rule watches one figure of a campaign (or of each variant or platform) over a
window. Each evaluation either breaches or not; `for_evaluations` consecutive
breaches make the alert fire, the first evaluation without a breach resolves
it. Too little volume (fewer sends than `min_volume`) is no verdict: the state
and the count of breaches stay as they were.

    ok --breach--> pending --(for_evaluations breaches)--> firing --no breach--> resolved --no breach--> ok
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

State = Literal["ok", "pending", "firing", "resolved"]

# The figures of `stats --json` a rule may watch (totals; per variant where a variant has them), and error_rate.
RATES = (
    "ctr",
    "impression_rate",
    "click_rate",
    "conversion_rate",
    "error_rate",
    "view_through_conversion_rate",
    "click_through_conversion_rate",
)
COUNTS = (
    "sent",
    "sent_users",
    "impressions",
    "clicks",
    "errors",
    "conversions",
    "converted_users",
    "revenue",
    "uninstalls",
    "impressed_users",
    "clicked_users",
    "view_through_conversions",
    "click_through_conversions",
    "qualified",
)
METRICS = RATES + COUNTS
# Per platform the reporter counts events only: sends, impressions, clicks, errors and their rates.
BY_PLATFORM = ("sent", "impressions", "clicks", "errors", "ctr", "impression_rate", "click_rate", "error_rate")
BY_VARIANT = (
    "sent",
    "sent_users",
    "impressions",
    "clicks",
    "errors",
    "converted_users",
    "revenue",
    "ctr",
    "click_rate",
    "conversion_rate",
    "error_rate",
    "impressed_users",
    "clicked_users",
)

WINDOW = re.compile(r"^last_([1-9]\d{0,2})_hours$")


def window_bounds(window: str, at: datetime, timezone: str) -> tuple[datetime, datetime]:
    """[start, end) of a rule's window at an evaluation: `last_N_hours` up to `at`, or a named report period."""
    match = WINDOW.match(window)
    if match:
        return at - timedelta(hours=int(match.group(1))), at
    from reporter.jobs.periods import period_bounds

    return period_bounds(window, at, timezone)


def error_rate(errors: int, sent: int) -> float | None:
    """Errors as a share of attempts (sent + errors), in percent."""
    attempts = sent + errors
    return 100 * errors / attempts if attempts else None


@dataclass(frozen=True)
class Condition:
    """`above`/`below` a threshold, or a `change` against the previous window of the same length.

    A change is relative (`change_pct`, percent of the previous value) for counts and
    either relative or in percentage points (`change_pp`) for rates; `direction` is
    `up`, `down` or `any`.
    """

    above: float | None = None
    below: float | None = None
    change_pct: float | None = None
    change_pp: float | None = None
    direction: Literal["up", "down", "any"] = "any"

    def breached(self, value: float | None, previous: float | None = None) -> bool | None:
        """True or False; None when the figure (or its previous value, for a change) is undefined."""
        if value is None:
            return None
        if self.above is not None:
            return value > self.above
        if self.below is not None:
            return value < self.below
        if previous is None:
            return None
        if self.change_pp is not None:
            delta = value - previous
            limit = self.change_pp
        else:
            if previous == 0:
                return None
            delta = 100 * (value - previous) / abs(previous)
            limit = self.change_pct if self.change_pct is not None else 0.0
        if self.direction == "up":
            return delta >= limit
        if self.direction == "down":
            return -delta >= limit
        return abs(delta) >= limit

    def describe(self, metric: str) -> str:
        """ "error_rate above 10", "ctr falls by 1.5 pp or more"."""
        if self.above is not None:
            return f"{metric} above {self.above:g}"
        if self.below is not None:
            return f"{metric} below {self.below:g}"
        verb = {"up": "rises", "down": "falls", "any": "changes"}[self.direction]
        amount = f"{self.change_pp:g} pp" if self.change_pp is not None else f"{self.change_pct:g}%"
        return f"{metric} {verb} by {amount} or more against the previous window"


@dataclass(frozen=True)
class Step:
    """The state after one evaluation, and what to tell (`firing`, `resolved` or a re-notice of `firing`)."""

    state: State
    breaches: int
    notice: Literal["firing", "resolved", "renotify"] | None = None


def step(
    state: State,
    breaches: int,
    breached: bool | None,
    for_evaluations: int,
    now: datetime,
    last_notified: datetime | None,
    renotify_after: timedelta | None,
) -> Step:
    """The next state of one (rule, campaign, group) after an evaluation.

    `breached` None means no verdict (too little volume, an undefined figure):
    nothing changes, except that a firing alert may be re-notified.
    """
    if breached is None:
        if state == "firing" and _due(now, last_notified, renotify_after):
            return Step("firing", breaches, "renotify")
        return Step(state, breaches)
    if breached:
        count = breaches + 1
        if state == "firing":
            return Step("firing", count, "renotify" if _due(now, last_notified, renotify_after) else None)
        if count >= for_evaluations:
            return Step("firing", count, "firing")
        return Step("pending", count)
    if state == "firing":
        return Step("resolved", 0, "resolved")
    return Step("ok", 0)


def _due(now: datetime, last_notified: datetime | None, renotify_after: timedelta | None) -> bool:
    return renotify_after is not None and last_notified is not None and now - last_notified >= renotify_after


def figure(source: Any, metric: str) -> float | None:
    """The watched figure of a totals-like object (Totals, VariantStats, a platform's counts)."""
    if metric == "error_rate":
        return error_rate(getattr(source, "errors", 0), getattr(source, "sent", 0))
    value = getattr(source, metric)
    return None if value is None else float(value)
