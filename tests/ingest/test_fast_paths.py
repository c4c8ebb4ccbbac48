"""The loader's fast paths give exactly what the full paths give.

Events are validated first by a fast path for plain text records (parse._event_fast), which hands anything
unusual to the full validation; CSV lines without quotes, line breaks or NUL are split without the csv
module. Both must be invisible: the same rows for good records, the same reasons for bad ones, for records
built from every kind of value a file holds, good and bad.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reporter.ingest import parse
from reporter.ingest.blocks import STAGE_COLUMNS, Combinations, block_rows
from reporter.ingest.parse import EVENT_FIELDS, CampaignRef, Reject, parse_event
from reporter.ingest.sources import DataFile, csv_line_record, read_csv

CAMPAIGNS = {
    "ab": CampaignRef(1, "ab", frozenset({"A", "B"})),
    "one": CampaignRef(2, "single", frozenset()),
}
PADDED = st.sampled_from(["", " ", "  ", "\t"])
# Each field's good values and bad ones; a record takes a bad one in about one field of eight, so that each
# reason to reject is met alone, in an otherwise good record, as often as in company.
GOOD: dict[str, list[Any]] = {
    "event_id": ["e1", "x" * 200, ""],
    "campaign_id": ["ab", "one"],
    "variant": ["A", "B", "", "V" * 100],
    "user_id": ["u1", "u" * 200],
    "device_id": ["d1", ""],
    "event": ["sent", "SENT", "impression", "click", "conversion", "error", "qualified", "control"],
    "ts": ["2026-10-01T10:00:00Z", "2026-10-01T10:00:00", "2026-10-01T10:00:00.123456+02:00", "2026-10-01 10:00"],
    "platform": ["ios", "Android", "web", "", "OTHER"],
    "device_type": ["phone", "Tablet", "", "tv"],
    "channel": ["push", "app_inbox", "PUSH_AMPLIFICATION", ""],
    "error_code": ["", "E1", "E" * 100],
    "revenue": ["", "2.50", "3", "-0.0", "1e3", "1_000", "0"],
}
BAD: dict[str, list[Any]] = {
    "event_id": ["x" * 201, "a\x00b", 5],
    "campaign_id": ["AB", "nope", "", None],
    "variant": ["C", "a", "V" * 101, "A\ud800"],
    "user_id": ["", "   ", "u" * 201, "u\ud800", 7, True, None],
    "device_id": ["d" * 201],
    "event": ["nope", "uninstall", "", 3],
    "ts": ["2026-13-01T00:00:00Z", "", " ", "yesterday", 12, None],
    "platform": ["symbian", "i os"],
    "device_type": ["toaster"],
    "channel": ["sms", 1],
    "error_code": ["E" * 101, "E\x00"],
    "revenue": ["-1", "-0.5", "nan", "inf", "-inf", "ten", 4.5, None, "1e400", "\x1f5"],
}


def outcome(rec: dict[str, Any]) -> object:
    try:
        return parse_event(rec, CAMPAIGNS)
    except Reject as exc:
        return f"reject: {exc}"


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    rec: dict[str, Any] = {}
    for key in EVENT_FIELDS:
        if key in ("event", "campaign_id", "user_id", "ts") or draw(st.booleans()):
            value = draw(st.sampled_from(BAD[key] if draw(st.integers(0, 7)) == 0 else GOOD[key]))
            if isinstance(value, str) and value and draw(st.integers(0, 3)) == 0:
                value = draw(PADDED) + value + draw(PADDED)
            rec[key] = value
    if draw(st.integers(0, 20)) == 0:
        rec["colour"] = "red"
    return rec


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records())
def test_the_fast_event_path_returns_what_the_full_path_does(rec: dict[str, Any]) -> None:
    fast = outcome(rec)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(parse, "_event_fast", lambda rec, campaigns: None)
        assert fast == outcome(rec)


def test_the_fast_event_path_takes_the_plain_records() -> None:
    rec = {"campaign_id": "ab", "user_id": "u1", "event": "Sent", "ts": "2026-10-01T10:00:00Z", "variant": "A"}
    assert parse._event_fast(rec, CAMPAIGNS) == {
        "event_id": None,
        "campaign_pk": 1,
        "variant": "A",
        "user_id": "u1",
        "device_id": None,
        "event": 3,  # sent
        "ts": 1_790_848_800_000_000,  # date -d 2026-10-01T10:00:00Z +%s
        "platform": "unknown",
        "device_type": "unknown",
        "channel": "push",
        "error_code": None,
        "revenue": None,
    }


LINES = [
    "a,b,c\n",
    "a,b,c\r\n",
    "a,,c\n",
    ",,\n",
    " a , b ,c\n",
    "a,b,c",
    "\n",
    "\r\n",
    "a,b\n",
    "a,b,c,d\n",
    'a,"b,x",c\n',
    'a,"b""q",c\n',
    'a,b"q,c\n',
    'a,"b\n',
    "a,b\rc,d\n",
    "a,\x00,c\n",
    "a,b\udcff,c\n",
]


@pytest.mark.parametrize("line", LINES)
def test_a_csv_line_reads_as_the_csv_module_reads_it(line: str, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_bytes(b"x,y,z\n" + line.encode("utf-8", "surrogateescape"))
    with DataFile(path) as data:
        got = [(r.line, r.text, r.fields, r.problem) for r in read_csv(data, lambda header: None)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("reporter.ingest.sources._CSV_SPECIAL", _Always())
        with DataFile(path) as data:
            assert got == [(r.line, r.text, r.fields, r.problem) for r in read_csv(data, lambda header: None)]
    if line.strip() and '"' not in line and "\r" not in line.rstrip("\r\n"):
        assert got and (got[0][2] is not None or got[0][3] is not None)


class _Always:
    """A stand-in for the pattern of special characters that finds one in every line: the csv module reads all."""

    def search(self, text: str) -> bool:
        return True


def test_csv_lines_are_split_as_the_csv_module_splits_them() -> None:
    for line in LINES:
        body = line.rstrip("\n").rstrip("\r")
        if not any(c in body for c in '"\r\n\x00'):
            assert (body.split(",") if body else []) == next(csv.reader((line,), strict=True), [])


def test_each_bad_value_alone_is_rejected_as_the_full_path_rejects_it() -> None:
    for event in GOOD["event"]:
        for campaign in GOOD["campaign_id"]:
            base = {"campaign_id": campaign, "user_id": "u1", "event": event, "ts": "2026-10-01T10:00:00Z"}
            base |= {"variant": "A", "error_code": "E1"} if event == "error" else {"variant": "B"}
            if event == "conversion":
                base["revenue"] = "1.5"
            assert not isinstance(outcome(base), str), base
            changed = [base | {key: value} for key, values in BAD.items() for value in values]
            changed += [{k: v for k, v in base.items() if k != key} for key in base]  # each field missing
            changed += [base | {"error_code": "E1"}, base | {"revenue": "1"}]  # each on every event
            for rec in changed:
                fast = outcome(rec)
                with pytest.MonkeyPatch.context() as mp:
                    mp.setattr(parse, "_event_fast", lambda rec, campaigns: None)
                    assert fast == outcome(rec), rec


# -- a block of CSV lines validated a column at a time (blocks.py) ------------------------------------------

TEXT_VALUES = {key: [v for v in GOOD[key] + BAD[key] if isinstance(v, str)] for key in EVENT_FIELDS}


def record_by_record(header: list[str], lines: list[str]) -> list[object]:
    """Each line's outcome by the record path: the row in STAGE_COLUMNS order, or the reason it is rejected."""
    outcomes: list[object] = []
    for n, line in enumerate(lines, start=2):
        record = csv_line_record(header, n, line)
        if record is None:
            outcomes.append("blank")
        elif record.fields is None:
            outcomes.append(f"reject: {record.problem}")
        else:
            result = outcome(record.fields)
            outcomes.append(result if isinstance(result, str) else tuple(result[c] for c in STAGE_COLUMNS))
    return outcomes


@st.composite
def blocks(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    optional = [k for k in EVENT_FIELDS if k not in ("event", "campaign_id", "user_id", "ts")]
    header = ["campaign_id", "user_id", "event", "ts"] + [k for k in optional if draw(st.booleans())]
    header = draw(st.permutations(header))
    bad_rate = draw(st.sampled_from([0, 0, 40, 400]))  # most blocks all good: they take the block path
    lines = []
    for _ in range(draw(st.integers(1, 12))):
        values = {}
        for key in header:
            pool = GOOD[key] if not bad_rate or draw(st.integers(0, bad_rate)) else TEXT_VALUES[key]
            values[key] = draw(st.sampled_from([v for v in pool if isinstance(v, str)]))
        if not bad_rate and draw(st.integers(0, 3)):  # fields that agree (an error code on an error, ...)
            event = values["event"].lower()
            values |= {k: "" for k in ("error_code", "revenue") if k in values}
            if "error_code" in values and event == "error":
                values["error_code"] = "E1"
            if "revenue" in values and event == "conversion":
                values["revenue"] = draw(st.sampled_from(GOOD["revenue"]))
            if "variant" in values and values["campaign_id"] == "ab":
                values["variant"] = draw(st.sampled_from(["A", "B"]))
            if event == "error" and "error_code" not in values:
                values["event"] = "sent"
        fields = [draw(PADDED) + v + draw(PADDED) if v and draw(st.integers(0, 9)) == 0 else v for v in values.values()]
        lines.append(",".join(fields) + draw(st.sampled_from(["\n", "\n", "\r\n"])))
    if draw(st.booleans()):
        lines[-1] = lines[-1].rstrip("\r\n")  # the file's last line, without a line break
    return list(header), lines


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks())
def test_a_block_gives_what_the_record_path_gives_line_by_line(block: tuple[list[str], list[str]]) -> None:
    header, lines = block
    known = Combinations()
    rows = block_rows(header, lines, CAMPAIGNS, known)
    expected = record_by_record(header, lines)
    if rows is None:
        return  # the loader then takes the record path, line by line
    assert [known.row(row) for row in rows] == expected


def test_a_block_of_plain_good_records_takes_the_block_path() -> None:
    header = list(EVENT_FIELDS)
    lines = [
        "e1,ab,A,u1,d1,sent,2026-10-01T10:00:00Z,ios,phone,push,,\n",
        "e2,one,,u2,,conversion,2026-10-01T10:00:00.5+02:00,,,,,2.50\r\n",
        ",ab,B,u3,,error,2026-10-01 10:00,Android,Tablet,,E1,",
    ]
    known = Combinations()
    rows = block_rows(header, lines, CAMPAIGNS, known)
    assert rows is not None
    assert [known.row(row) for row in rows] == record_by_record(header, lines)
    assert rows[1][:5] == (
        "e2",
        "u2",
        None,
        1_790_841_600_500_000,  # date -d 2026-10-01T08:00:00.5Z +%s%6N
        2.5,
    )
    # One bad record anywhere: the whole block goes line by line, for its reason.
    assert block_rows(header, [*lines[:2], "e4,ab,C,u4,,sent,2026-10-01T10:00:00Z,,,,,\n"], CAMPAIGNS, known) is None
