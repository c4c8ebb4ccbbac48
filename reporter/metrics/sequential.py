"""Comparisons that stay valid when read every day: the mixture sequential probability ratio test.

Johari, Pekelis and Walsh (2017), "Always valid inference", in the form
GrowthBook documents for its sequential testing: at each look the normal
mixture likelihood ratio L of "the rates differ" against "they are equal"
gives p_look = min(1, 1/L); the always-valid p-value is the smallest p_look
so far and the always-valid interval the intersection of every look's
interval. Reading the result at any look keeps the false-positive rate at
alpha, which a fixed-sample test read daily does not.

The per-look functions take NumPy arrays as well as numbers, so the
simulation in the tests runs thousands of tests at once through this code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

ALPHA = 0.05
# 2 ln(1/alpha) + ln(1 + 2 ln(1/alpha)): the mixing constant (7.94 at alpha = 0.05).
MIXING = 2 * math.log(1 / ALPHA) + math.log(1 + 2 * math.log(1 / ALPHA))
DEFAULT_PLANNED_USERS = 5_000
MIN_USERS = 100  # the evidence gate, per arm
MIN_CONVERTERS = 25


def look(xa: Any, na: Any, xb: Any, nb: Any, planned: float = DEFAULT_PLANNED_USERS) -> tuple[Any, Any, Any]:
    """(p_look, difference, half-width) of B against A at one look; differences in percentage points.

    A look with an empty arm, or where V or V0 is 0 (no conversions, or all
    converted, in both arms), gives p_look = 1 and no interval (NaN).
    """
    xa, na, xb, nb = (np.asarray(v, dtype=float) for v in (xa, na, xb, nb))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        pa, pb = xa / na, xb / nb
        v = pa * (1 - pa) / na + pb * (1 - pb) / nb
        q = (xa + xb) / (na + nb)
        v0 = q * (1 - q) * (1 / na + 1 / nb)
        tau2 = (MIXING / planned) * (na + nb) * v
        log_l = 0.5 * np.log(v0 / (v0 + tau2)) + tau2 * (pb - pa) ** 2 / (2 * v0 * (v0 + tau2))
        p = np.minimum(1.0, np.exp(-log_l))
        half = np.sqrt(v * (v + tau2) / tau2 * (2 * math.log(1 / ALPHA) + np.log((v + tau2) / v)))
        valid = (na > 0) & (nb > 0) & (v > 0) & (v0 > 0)
        p = np.where(valid, p, 1.0)
        half = np.where(valid, 100 * half, np.nan)
        diff = np.where((na > 0) & (nb > 0), 100 * (pb - pa), np.nan)
    return p, diff, half


@dataclass(frozen=True, slots=True)
class Sequential:
    """The always-valid figures at the last look."""

    difference: float | None  # percentage points, B - A, at the last look
    ci_low: float | None
    ci_high: float | None
    p_value: float


def always_valid(looks: Sequence[tuple[int, int, int, int]], planned: float = DEFAULT_PLANNED_USERS) -> Sequential:
    """The running minimum of p_look and the running intersection of the intervals over (xa, na, xb, nb) looks."""
    if not looks:
        return Sequential(None, None, None, 1.0)
    xa, na, xb, nb = (np.array(col, dtype=float) for col in zip(*looks, strict=True))
    p, diff, half = look(xa, na, xb, nb, planned)
    low, high = -math.inf, math.inf
    for d, h in zip(diff, half, strict=True):
        if not math.isnan(h):
            low, high = max(low, d - h), min(high, d + h)
    last = float(diff[-1])
    if low > high:
        # The looks' intervals do not overlap (possible only by chance at a tiny
        # error rate): report the last look's, which is valid on its own.
        low, high = last - float(half[-1]), last + float(half[-1])
    return Sequential(
        difference=None if math.isnan(last) else last,
        ci_low=None if math.isinf(low) else float(low),
        ci_high=None if math.isinf(high) else float(high),
        p_value=float(np.min(p)),
    )


def enough_data(x: int, n: int) -> bool:
    """The evidence gate of one arm: at least 100 users and 25 converters."""
    return n >= MIN_USERS and x >= MIN_CONVERTERS


def fixed_p_value(xa: int, na: int, xb: int, nb: int) -> float | None:
    """Version 1's pooled two-proportion z-test at the last look: for reference, never the verdict."""
    from reporter.metrics.statistics import two_proportion_p_value

    return two_proportion_p_value(xb, nb, xa, na)
