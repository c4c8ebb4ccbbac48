"""What each role sees of the run log: viewers counts, operators recipients, nobody Bcc addresses or server paths.

The run log records each recipient's kind (to, cc or bcc); a Bcc recipient
is never shown, nor one in the job's current Bcc list. Deliveries recorded
before the kind was kept (schema 0004) fall back on the config: for a job
that is no longer configured they show no recipient at all, since none of
them can be told apart from a Bcc one.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Any

ADDRESS = re.compile(r"[\w.!#$%&*+=?^{|}~-]+@[\w-]+(?:\.[\w-]+)+")
# An absolute path: a slash that starts a token (not part of a URL, a date or a relative path).
ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~-])/(?:[^\s'\"/:;,()<>\[\]]+/)*[^\s'\"/:;,()<>\[\]]+")

STATUS_ORDER = {"sent": 0, "failed": 1, "unknown": 2}


@dataclass(frozen=True)
class RecipientRow:
    recipient: str
    status: str
    smtp_code: int | None
    smtp_message: str | None


@dataclass(frozen=True)
class RunRow:
    """One run of the log as a user of the web app may see it."""

    id: int
    job: str
    campaign_id: str
    period: str
    status: str
    attempts: int
    claimed_at: datetime
    finished_at: datetime | None
    error: str | None
    artifacts: tuple[str, ...]  # relative to the archive root
    deliveries: dict[str, int]  # recipients by delivery status, Bcc included
    recipients: tuple[RecipientRow, ...] | None  # operators only; never a Bcc one
    hidden: int  # recipients left out of `recipients`


def address_of(recipient: str) -> str:
    """The bare, lower-cased address of 'Name <a@b>' or 'a@b'."""
    return (parseaddr(recipient)[1] or recipient).strip().lower()


def visible_runs(
    runs: Iterable[Any], operator: bool, bcc_of: Callable[[str], frozenset[str] | None], archive_root: Path
) -> list[RunRow]:
    """The runs (reporter.history.RunView) with what the role may not see left out.

    `bcc_of(job)` gives the bare Bcc addresses of a configured job, None for a job not configured.
    """
    root = str(archive_root.resolve())
    rows = []
    for run in runs:
        bcc = _bcc(run, bcc_of(run.job))
        shown = [d for d in run.deliveries if _shown(d, bcc)]
        recipients = None
        if operator:
            recipients = tuple(
                RecipientRow(d.recipient, d.status, d.smtp_code, _redact(d.smtp_message, root, bcc)) for d in shown
            )
        rows.append(
            RunRow(
                run.id,
                run.job,
                run.campaign_id,
                run.period,
                run.status,
                run.attempts,
                run.claimed_at,
                run.finished_at,
                _redact(run.error, root, bcc if operator else None),
                tuple(_relative(p, root) for p in run.artifacts),
                _counts(run.deliveries),
                recipients,
                len(run.deliveries) - (len(recipients) if recipients is not None else 0),
            )
        )
    return rows


def _bcc(run: Any, configured: frozenset[str] | None) -> frozenset[str] | None:
    """The run's Bcc addresses: recorded, and the job's current ones; None when neither can tell."""
    recorded = {address_of(d.recipient) for d in run.deliveries if d.kind == "bcc"}
    if configured is None and all(d.kind is None for d in run.deliveries):
        return None
    return (configured or frozenset()) | recorded


def _shown(delivery: Any, bcc: frozenset[str] | None) -> bool:
    """Whether an operator may see this recipient: never a Bcc one, by its recorded kind or the job's config."""
    if delivery.kind is None and bcc is None:
        return False  # recorded before kinds were kept, and no config to tell
    return delivery.kind != "bcc" and address_of(delivery.recipient) not in (bcc or frozenset())


def _counts(deliveries: Iterable[Any]) -> dict[str, int]:
    """Recipients by status: sent, failed, unknown first, any other status after them."""
    counts = Counter(d.status for d in deliveries)
    return {s: counts[s] for s in sorted(counts, key=lambda s: (STATUS_ORDER.get(s, len(STATUS_ORDER)), s))}


def redact_message(text: str, bcc: frozenset[str] | None, archive_root: Path) -> str:
    """An operator's message (run now) without Bcc addresses and server paths."""
    return _redact(text, str(archive_root.resolve()), bcc) or ""


def _redact(text: str | None, root: str, hide: frozenset[str] | None) -> str | None:
    """Text without server paths, and without the addresses in `hide` (every address when None)."""
    if not text:
        return text
    text = ABSOLUTE_PATH.sub(lambda m: _relative(m[0], root), text)
    if hide is None:
        return ADDRESS.sub("[recipient]", text)
    for address in hide:
        text = re.sub(re.escape(address), "[Bcc]", text, flags=re.IGNORECASE)
    return text


def _relative(path: str, root: str) -> str:
    """A path under the archive root relative to it; any other path by its last part only."""
    if path.startswith(root.rstrip("/") + "/"):
        return path[len(root.rstrip("/")) + 1 :]
    return path.rstrip("/").rsplit("/", 1)[-1]
