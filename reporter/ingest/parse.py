"""Validating records against the data contract (README): campaigns with their variants, and events.

A record that breaks the contract raises Reject with the reason, which the
loader writes to the rejects file; a wrong header line is an InputFileError.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reporter.errors import InputFileError
from reporter.models import CAMPAIGN_TYPES, CHANNELS, DELIVERY_EVENTS, DEVICE_TYPES, PLATFORMS, EventType
from reporter.timezones import to_us

EVENT_FIELDS = (
    "event_id",
    "campaign_id",
    "variant",
    "user_id",
    "device_id",
    "event",
    "ts",
    "platform",
    "device_type",
    "channel",
    "error_code",
    "revenue",
)
EVENT_REQUIRED = ("campaign_id", "user_id", "event", "ts")
CAMPAIGN_FIELDS = (
    "campaign_id",
    "name",
    "type",
    "start_at",
    "end_at",
    "conversion_event",
    "conversion_window_hours",
    "control_group_pct",
    "currency",
    "variants",
    "planned_users",
)
CAMPAIGN_REQUIRED = ("campaign_id", "name", "type", "start_at")
VARIANT_FIELDS = ("variant", "name", "title", "body", "split_pct", "baseline")
EVENT_CODES = {e.label: int(e) for e in EventType}
SPLIT_TOLERANCE = 0.5


class Reject(Exception):
    """A record that breaks the input contract; the message is the reason."""


# -- field parsers ---------------------------------------------------------------------


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL, and lone surrogates (not valid UTF-8)


def _text(rec: dict[str, Any], key: str, required: bool = False, max_len: int = 200) -> str | None:
    value = rec.get(key)
    if type(value) is str:  # the common case (every CSV field), checked in as few steps as possible
        value = value.strip()
        if value and len(value) <= max_len and _UNSTORABLE.search(value) is None:
            return value
    if value is None or (isinstance(value, str) and value.strip() == ""):
        if required:
            raise Reject(f"missing {key}")
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise Reject(f"{key} must be a string")
    value = str(value).strip()
    if len(value) > max_len:
        raise Reject(f"{key} is longer than {max_len} characters")
    bad = _UNSTORABLE.search(value)  # one C-speed scan; a character-by-character loop cost half the load
    if bad is not None:
        if bad.group() == "\x00":
            # PostgreSQL refuses NUL in text, and it would cost the whole batch.
            raise Reject(f"{key} contains a NUL character")
        raise Reject(f"{key} is not valid Unicode (a lone surrogate)")
    return value


def parse_timestamp(value: Any, key: str = "ts") -> datetime:
    """An ISO 8601 timestamp; one without an offset is taken as UTC."""
    if not isinstance(value, str) or not value.strip():
        raise Reject(f"{key} is not an ISO 8601 timestamp: {value!r}")
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Reject(f"{key} is not an ISO 8601 timestamp: {value!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt


def _number(rec: dict[str, Any], key: str) -> float | None:
    value = rec.get(key)
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if isinstance(value, bool):
        raise Reject(f"{key} is not a number: {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise Reject(f"{key} is not a number: {value!r}") from None
    if not math.isfinite(number):
        raise Reject(f"{key} is not a finite number: {value!r}")
    return number


def _choice(rec: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str | None:
    value = _text(rec, key)
    if value is None:
        return None
    value = value.lower()
    if value not in allowed:
        raise Reject(f"unknown {key} {value!r} (expected one of {', '.join(allowed)})")
    return value


# -- campaigns ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignRef:
    """What event validation needs to know of a loaded campaign."""

    pk: int
    type: str
    variants: frozenset[str]


def parse_campaign(rec: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Validate one campaign record; returns the campaign row and its variant rows."""
    unknown = sorted(set(rec) - set(CAMPAIGN_FIELDS))
    if unknown:
        raise Reject(f"unknown field {unknown[0]!r}")
    row: dict[str, Any] = {
        "campaign_id": _text(rec, "campaign_id", required=True),
        "name": _text(rec, "name", required=True, max_len=1000),
    }
    ctype = _choice(rec, "type", CAMPAIGN_TYPES)
    if ctype is None:
        raise Reject("missing type")
    row["type"] = ctype
    if rec.get("start_at") in (None, ""):
        raise Reject("missing start_at")
    row["start_at"] = parse_timestamp(rec["start_at"], "start_at")
    row["end_at"] = parse_timestamp(rec["end_at"], "end_at") if rec.get("end_at") not in (None, "") else None
    if row["end_at"] is not None and row["end_at"] <= row["start_at"]:
        raise Reject("end_at is not after start_at")
    row["conversion_event"] = _text(rec, "conversion_event")
    window = _number(rec, "conversion_window_hours")
    if window is not None and window <= 0:
        raise Reject(f"conversion_window_hours must be positive, got {rec['conversion_window_hours']!r}")
    row["conversion_window_hours"] = 24.0 if window is None else window
    control = _number(rec, "control_group_pct")
    if control is not None and not 0 <= control <= 100:
        raise Reject(f"control_group_pct must be between 0 and 100, got {rec['control_group_pct']!r}")
    row["control_group_pct"] = 0.0 if control is None else control
    planned = _number(rec, "planned_users")
    if planned is not None and (planned != int(planned) or not 1 <= planned <= 10**12):
        raise Reject(f"planned_users must be a whole number of users, at least 1, got {rec['planned_users']!r}")
    row["planned_users"] = None if planned is None else int(planned)
    currency = _text(rec, "currency") or "USD"
    if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        raise Reject(f"currency is not an ISO 4217 code: {currency!r}")
    from babel.numbers import list_currencies

    if currency not in list_currencies():
        raise Reject(f"currency is not an ISO 4217 code: {currency!r}")
    row["currency"] = currency
    variants = _parse_variants(rec.get("variants"), ctype, row["control_group_pct"])
    return row, variants


def _parse_variants(value: Any, ctype: str, control_pct: float) -> list[dict[str, Any]]:
    if isinstance(value, str):
        if not value.strip():
            value = None
        else:
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise Reject("variants is not a JSON list") from None
    if value is None:
        if ctype == "ab":
            raise Reject("missing variants (required for an ab campaign)")
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise Reject("variants must be a list of objects")
    if ctype == "ab" and len(value) < 2:
        raise Reject("an ab campaign needs at least two variants")
    if ctype == "single" and len(value) > 1:
        raise Reject("a single campaign has at most one variant (its message)")
    rows: list[dict[str, Any]] = []
    for position, item in enumerate(value):
        unknown = sorted(set(item) - set(VARIANT_FIELDS))
        if unknown:
            raise Reject(f"variants[{position}]: unknown field {unknown[0]!r}")
        vid = _text(item, "variant", required=ctype == "ab", max_len=100) or "message"
        split = _number(item, "split_pct")
        if ctype == "ab":
            if split is None:
                raise Reject(f"variants[{position}]: missing split_pct")
            if split < 0:
                raise Reject(f"variants[{position}]: split_pct is negative")
        baseline = item.get("baseline", False)
        if not isinstance(baseline, bool):
            if str(baseline).lower() in ("true", "1", "yes"):
                baseline = True
            elif str(baseline).lower() in ("false", "0", "no", ""):
                baseline = False
            else:
                raise Reject(f"variants[{position}]: baseline must be true or false")
        rows.append(
            {
                "variant": vid,
                "position": position,
                "name": _text(item, "name", max_len=1000) or vid,
                "title": _text(item, "title", max_len=10_000),
                "body": _text(item, "body", max_len=10_000),
                "split_pct": split if split is not None else 100.0 - control_pct,
                "baseline": baseline,
            }
        )
    ids = [r["variant"] for r in rows]
    if len(set(ids)) != len(ids):
        raise Reject("variant ids are not unique")
    if ctype == "ab":
        total = sum(r["split_pct"] for r in rows)
        expected = 100.0 - control_pct
        if abs(total - expected) > SPLIT_TOLERANCE:
            raise Reject(f"variant split_pct sum to {total:g}, expected {expected:g} (100 - control_group_pct)")
        baselines = [r for r in rows if r["baseline"]]
        if len(baselines) > 1:
            raise Reject("more than one variant has baseline: true")
        if not baselines:
            rows[0]["baseline"] = True
    return rows


def check_campaign_header(path: Path) -> Callable[[list[str]], None]:
    """The header check of a campaigns file."""
    return header_checker(path, CAMPAIGN_FIELDS, CAMPAIGN_REQUIRED)


def header_checker(path: Path, known: tuple[str, ...], required: tuple[str, ...]) -> Callable[[list[str]], None]:
    """A check of a CSV header line: known columns only, every required one, none twice."""

    def check(header: list[str]) -> None:
        unknown = [h for h in header if h not in known]
        if unknown:
            raise InputFileError(path, f"wrong header: unknown column {unknown[0]!r}")
        missing = [r for r in required if r not in header]
        if missing:
            raise InputFileError(path, f"wrong header: missing column {missing[0]!r}")
        if len(set(header)) != len(header):
            raise InputFileError(path, "wrong header: a column appears twice")

    return check


# -- events ------------------------------------------------------------------------------


_EVENT_FIELD_SET = frozenset(EVENT_FIELDS)
_CHANNEL_SET, _PLATFORM_SET, _DEVICE_TYPE_SET = frozenset(CHANNELS), frozenset(PLATFORMS), frozenset(DEVICE_TYPES)
_DELIVERY_CODES = frozenset(int(e) for e in DELIVERY_EVENTS)
_ERROR, _CONVERSION = int(EventType.ERROR), int(EventType.CONVERSION)


# The fields of an event record that take few values, and the columns they are stored as.
COMBINATION_FIELDS = ("campaign_id", "variant", "event", "platform", "device_type", "channel", "error_code")
COMBINATION_COLUMNS = ("campaign_pk", "variant", "event", "platform", "device_type", "channel", "error_code")
Combination = tuple[int, str | None, int, str, str, str | None, str | None]


def combination_of(key: tuple[str, ...], campaigns: dict[str, CampaignRef]) -> Combination | None:
    """The stored values (COMBINATION_COLUMNS) of a record's campaign, variant, event, platform, device type,
    channel and error code as text (COMBINATION_FIELDS), or None when they break the contract (the full path
    then says why)."""
    cid, named, label, platform, device_type, channel, error_code = (s.strip() for s in key)
    code = EVENT_CODES.get(label.lower())
    campaign = campaigns.get(cid)
    if code is None or campaign is None or len(named) > 100:
        return None
    delivery = code in _DELIVERY_CODES
    variant: str | None = named or None
    if campaign.type == "single":
        variant = None
    elif variant is None:
        if delivery:
            return None
    elif variant not in campaign.variants:
        return None
    channel, platform, device_type = channel.lower(), platform.lower(), device_type.lower()
    if (
        (channel and channel not in _CHANNEL_SET)
        or (platform and platform not in _PLATFORM_SET)
        or (device_type and device_type not in _DEVICE_TYPE_SET)
    ):
        return None
    code_or_none = error_code or None
    if (code == _ERROR) != (code_or_none is not None) or len(error_code) > 100:
        return None
    stored_channel = (channel or "push") if delivery else None
    return (campaign.pk, variant, code, platform or "unknown", device_type or "unknown", stored_channel, code_or_none)


def _event_fast(rec: dict[str, Any], campaigns: dict[str, CampaignRef]) -> dict[str, Any] | None:
    """parse_event for a record of text fields that keeps the contract, in about a third of the time; None for
    anything else (a field of another type, one too long, a reason to reject), which the full path then
    handles, with its message. Returns exactly what the full path returns."""
    try:
        joined = "\x1f".join(rec.values())  # every value a string (CSV fields always are)
    except TypeError:
        return None
    if _UNSTORABLE.search(joined) is not None or not _EVENT_FIELD_SET.issuperset(rec):
        return None
    get = rec.get
    combination = combination_of(tuple(get(name, "") for name in COMBINATION_FIELDS), campaigns)
    user = get("user_id", "").strip()
    if combination is None or not user or len(user) > 200:
        return None
    try:
        dt = datetime.fromisoformat(get("ts", "").strip())
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    pk, variant, code, platform, device_type, channel, error_code = combination
    revenue: float | None = None
    text = get("revenue", "")
    if text.strip():
        try:
            revenue = float(text)  # as the full path: str.strip removes characters float() refuses
        except ValueError:
            return None
        if code != _CONVERSION or not math.isfinite(revenue) or revenue < 0:
            return None
    event_id = get("event_id", "").strip() or None
    device_id = get("device_id", "").strip() or None
    if (event_id is not None and len(event_id) > 200) or (device_id is not None and len(device_id) > 200):
        return None
    return {
        "event_id": event_id,
        "campaign_pk": pk,
        "variant": variant,
        "user_id": user,
        "device_id": device_id,
        "event": code,
        "ts": to_us(dt),
        "platform": platform,
        "device_type": device_type,
        "channel": channel,
        "error_code": error_code,
        "revenue": revenue,
    }


def parse_event(rec: dict[str, Any], campaigns: dict[str, CampaignRef]) -> dict[str, Any]:
    """Validate one event record against the contract; returns the row to store."""
    fast = _event_fast(rec, campaigns)
    if fast is not None:
        return fast
    for key in rec:
        if key not in EVENT_FIELDS:
            raise Reject(f"unknown field {key!r}")
    label = _text(rec, "event", required=True)
    code = EVENT_CODES.get(label.lower())  # type: ignore[union-attr]
    if code is None:
        raise Reject(f"unknown event {label!r}")
    cid = _text(rec, "campaign_id", required=True)
    campaign = campaigns.get(cid)  # type: ignore[arg-type]
    if campaign is None:
        raise Reject(f"unknown campaign {cid!r}")
    user = _text(rec, "user_id", required=True)
    if rec.get("ts") in (None, ""):
        raise Reject("missing ts")
    ts = to_us(parse_timestamp(rec["ts"]))
    delivery = code in DELIVERY_EVENTS
    variant = _text(rec, "variant", max_len=100)
    if campaign.type == "single":
        variant = None
    elif variant is None:
        if delivery:
            raise Reject(f"missing variant (required on {label} of an ab campaign)")
    elif variant not in campaign.variants:
        raise Reject(f"unknown variant {variant!r} of campaign {cid!r}")
    channel = _choice(rec, "channel", CHANNELS)
    channel = (channel or "push") if delivery else None
    error_code = _text(rec, "error_code", max_len=100)
    if code == EventType.ERROR:
        if error_code is None:
            raise Reject("missing error_code (required on error)")
    elif error_code is not None:
        raise Reject(f"error_code is only allowed on error events, not {label}")
    revenue = _number(rec, "revenue")
    if revenue is not None:
        if code != EventType.CONVERSION:
            raise Reject(f"revenue is only allowed on conversion events, not {label}")
        if revenue < 0:
            raise Reject(f"negative revenue: {rec['revenue']!r}")
    return {
        "event_id": _text(rec, "event_id"),
        "campaign_pk": campaign.pk,
        "variant": variant,
        "user_id": user,
        "device_id": _text(rec, "device_id"),
        "event": code,
        "ts": ts,
        "platform": _choice(rec, "platform", PLATFORMS) or "unknown",
        "device_type": _choice(rec, "device_type", DEVICE_TYPES) or "unknown",
        "channel": channel,
        "error_code": error_code,
        "revenue": revenue,
    }
