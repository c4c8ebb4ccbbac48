"""The A/B and control-group verdicts: sequential tests over daily looks since the test started.

Pure functions of the per-bucket histograms the queries return: users and
converters by the bucket they joined, cumulated at each look (every local
midnight from the test's start, and the report's end).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from reporter.metrics.buckets import BucketPlan
from reporter.metrics.model import Comparison
from reporter.metrics.sequential import DEFAULT_PLANNED_USERS, always_valid, enough_data, fixed_p_value
from reporter.metrics.statistics import holm

Histogram = Mapping[int, int]


class Verdict(StrEnum):
    NOT_ENOUGH_DATA = "not_enough_data"
    DO_NOT_DECIDE = "do_not_decide"
    WINNER = "winner"
    LOSER = "loser"
    KEEP_RUNNING = "keep_running"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True, slots=True)
class Arm:
    """One arm's cumulative users and converters at every look."""

    users: tuple[int, ...]
    converters: tuple[int, ...]

    @property
    def n(self) -> int:
        return self.users[-1] if self.users else 0

    @property
    def x(self) -> int:
        return self.converters[-1] if self.converters else 0


def look_index(plan: BucketPlan) -> tuple[dict[int, int], int]:
    """Which look each bucket first counts in (looks: every local midnight of the period, and its end)."""
    day_look = {day: k for k, (day, _) in enumerate(plan.days)}
    return {b.key: day_look[b.day] for b in plan.buckets}, len(day_look)


def cumulate(histograms: Sequence[Histogram], plan: BucketPlan, signs: Sequence[int] | None = None) -> tuple[int, ...]:
    """The signed sum of the histograms, cumulated at every look."""
    index, looks = look_index(plan)
    per_look = [0] * looks
    for hist, sign in zip(histograms, signs or [1] * len(histograms), strict=True):
        for key, n in hist.items():
            per_look[index[key]] += sign * n
    out, total = [], 0
    for n in per_look:
        total += n
        out.append(total)
    return tuple(out)


def compare(baseline: Arm, other: Arm, planned: float | None) -> tuple[Comparison, bool]:
    """The sequential comparison of `other` against `baseline` (without the Holm step); and its gate."""
    looks = list(zip(baseline.converters, baseline.users, other.converters, other.users, strict=True))
    seq = always_valid(looks, planned or DEFAULT_PLANNED_USERS)
    gate = enough_data(baseline.x, baseline.n) and enough_data(other.x, other.n)
    comparison = Comparison(
        difference=seq.difference,
        ci_low=seq.ci_low,
        ci_high=seq.ci_high,
        p_value=seq.p_value,
        significant=False,
        fixed_p_value=fixed_p_value(baseline.x, baseline.n, other.x, other.n),
        verdict=Verdict.NOT_ENOUGH_DATA,
    )
    return comparison, gate


def decide(
    comparisons: Sequence[tuple[Comparison, bool]], planned: float | None, total_users: int, broken_split: bool
) -> list[Comparison]:
    """Holm over the comparisons' always-valid p-values, then each one's verdict word."""
    rejected = holm([c.p_value for c, _ in comparisons])
    out = []
    for (c, gate), reject in zip(comparisons, rejected, strict=True):
        significant = bool(reject and gate)
        if broken_split:
            verdict = Verdict.DO_NOT_DECIDE
        elif not gate:
            verdict = Verdict.NOT_ENOUGH_DATA
        elif significant:
            verdict = Verdict.WINNER if (c.difference or 0) > 0 else Verdict.LOSER
        elif planned and total_users >= planned:
            verdict = Verdict.INCONCLUSIVE
        else:
            verdict = Verdict.KEEP_RUNNING
        out.append(Comparison(c.difference, c.ci_low, c.ci_high, c.p_value, significant, c.fixed_p_value, verdict))
    return out


def campaign_verdict(verdicts: Sequence[str], winner: str | None) -> str:
    """One word for the whole test from its comparisons' words."""
    if not verdicts:
        return Verdict.NOT_ENOUGH_DATA
    if Verdict.DO_NOT_DECIDE in verdicts:
        return Verdict.DO_NOT_DECIDE
    if winner is not None:
        return Verdict.WINNER
    if all(v == Verdict.LOSER for v in verdicts):
        return Verdict.LOSER
    if all(v == Verdict.NOT_ENOUGH_DATA for v in verdicts):
        return Verdict.NOT_ENOUGH_DATA
    if all(v in (Verdict.INCONCLUSIVE, Verdict.LOSER) for v in verdicts):
        return Verdict.INCONCLUSIVE
    if Verdict.NOT_ENOUGH_DATA in verdicts and not any(v == Verdict.KEEP_RUNNING for v in verdicts):
        return Verdict.NOT_ENOUGH_DATA
    return Verdict.KEEP_RUNNING
