"""The typed, immutable result of the metrics engine: every figure of docs/figures.md."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class CampaignInfo:
    id: str
    name: str
    type: str
    conversion_event: str | None
    conversion_window_hours: float
    currency: str
    control_group_pct: float = 0.0
    planned_users: int | None = None
    message_title: str | None = None
    message_body: str | None = None


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open period [start, end) and the timezone its buckets are counted in."""

    start: datetime
    end: datetime
    timezone: str


@dataclass(frozen=True, slots=True)
class Uplift:
    push_amplification: int = 0
    app_inbox: int = 0
    push_amplification_reached: int = 0
    app_inbox_reached: int = 0


@dataclass(frozen=True, slots=True)
class Totals:
    qualified: int = 0
    sent: int = 0
    sent_users: int = 0
    impressions: int = 0
    impression_rate: float | None = None
    clicks: int = 0
    click_rate: float | None = None
    ctr: float | None = None
    errors: int = 0
    control_group: int = 0
    conversions: int = 0
    converted_users: int = 0
    conversion_rate: float | None = None
    revenue: float = 0.0
    view_through_conversions: int = 0
    view_through_conversion_rate: float | None = None
    click_through_conversions: int = 0
    click_through_conversion_rate: float | None = None
    view_through_conversion_events: int = 0
    click_through_conversion_events: int = 0
    impressed_users: int = 0
    clicked_users: int = 0
    uplift: Uplift = field(default_factory=Uplift)
    uninstalls: int = 0


@dataclass(frozen=True, slots=True)
class ControlGroup:
    """The control group against the users the campaign targeted (intent to treat)."""

    users: int = 0
    converted_users: int = 0
    conversion_rate: float | None = None
    revenue: float = 0.0
    treatment_users: int = 0
    treatment_converted_users: int = 0
    treatment_conversion_rate: float | None = None
    treatment_revenue: float = 0.0
    lift: float | None = None
    incremental_conversions: float | None = None
    incremental_revenue: float | None = None
    p_value: float | None = None
    test: Comparison | None = None  # treatment against control since the campaign started (sequential)
    verdict: str = "not_enough_data"


@dataclass(frozen=True, slots=True)
class TrendBucket:
    bucket: str
    sent: int = 0
    impressions: int = 0
    clicks: int = 0
    errors: int = 0
    conversions: int = 0
    revenue: float = 0.0
    partial: bool = False  # the period covers only part of this bucket


@dataclass(frozen=True, slots=True)
class Trend:
    daily: tuple[TrendBucket, ...] = ()
    weekly: tuple[TrendBucket, ...] = ()
    monthly: tuple[TrendBucket, ...] = ()
    hourly: tuple[TrendBucket, ...] | None = None  # periods of at most 7 days only


@dataclass(frozen=True, slots=True)
class UsersFunnel:
    sent: int = 0
    viewed: int = 0
    clicked: int = 0
    converted: int = 0


@dataclass(frozen=True, slots=True)
class InfluencedFunnel:
    after_sent: int = 0
    after_viewed: int = 0
    after_clicked: int = 0


@dataclass(frozen=True, slots=True)
class Funnel:
    users: UsersFunnel = field(default_factory=UsersFunnel)
    influenced: InfluencedFunnel = field(default_factory=InfluencedFunnel)


@dataclass(frozen=True, slots=True)
class Split:
    os: dict[str, int] = field(default_factory=dict)
    device: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ErrorCount:
    code: str
    count: int
    category: str
    platform: str
    retryable: bool
    meaning: str
    uninstall: bool = False


@dataclass(frozen=True, slots=True)
class ErrorsByCategory:
    technical: int = 0
    non_technical: int = 0


@dataclass(frozen=True, slots=True)
class ChannelStats:
    sent: int = 0
    impressions: int = 0
    clicks: int = 0
    ctr: float | None = None
    errors: int = 0


@dataclass(frozen=True, slots=True)
class Comparison:
    """A conversion rate against the baseline's, in percentage points, since the test started.

    p_value and the interval are always valid (sequential); fixed_p_value is
    the fixed-sample z-test at the last look, for reference only.
    """

    difference: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    significant: bool
    fixed_p_value: float | None = None
    verdict: str = "not_enough_data"


@dataclass(frozen=True, slots=True)
class VariantStats:
    variant: str
    name: str
    baseline: bool
    sent: int = 0
    sent_users: int = 0
    impressions: int = 0
    impressed_users: int = 0
    clicks: int = 0
    clicked_users: int = 0
    ctr: float | None = None
    click_rate: float | None = None
    errors: int = 0
    converted_users: int = 0
    conversion_rate: float | None = None
    revenue: float = 0.0
    revenue_per_user: float | None = None
    funnel: UsersFunnel = field(default_factory=UsersFunnel)
    probability_best: float | None = None
    channels: dict[str, ChannelStats] = field(default_factory=dict)
    vs_baseline: Comparison | None = None
    # Not part of the `stats --json` shape: the variant's own daily trend and its
    # message, for the side-by-side view of the A/B report.
    trend: tuple[TrendBucket, ...] = ()
    title: str | None = None
    body: str | None = None
    split_pct: float = 0.0


@dataclass(frozen=True, slots=True)
class SampleRatio:
    p_value: float | None
    mismatch: bool


@dataclass(frozen=True, slots=True)
class CampaignStats:
    """Every figure of one campaign over one period."""

    campaign: CampaignInfo
    period: Period
    totals: Totals
    control: ControlGroup
    trend: Trend
    funnel: Funnel
    split: Split
    errors_by_code: tuple[ErrorCount, ...]
    errors_by_category: ErrorsByCategory
    variants: tuple[VariantStats, ...]
    winner: str | None
    sample_ratio: SampleRatio | None
    verdict: str | None = None  # the A/B test's verdict word; None for a single message
    test_started: datetime | None = None  # where the comparisons' data starts (the start day's midnight)
