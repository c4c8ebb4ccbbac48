"""Posting JSON to a destination's URL: timeouts, retries with backoff, one Attempt per request.

The standard library's urllib (environment proxies honoured) with two
timeouts: one for the connection and TLS handshake, one for each read of
the answer. Redirects are not followed (a webhook that moved is a failure to
look at, not a body to re-post elsewhere). A 5xx, a 429, a connection error
or a timeout is retried with exponential backoff, waiting what Retry-After
asks (up to `max_wait_s`); any other 4xx is final at once. The URL is a
secret: it never appears in an Attempt's message, an exception or a log line;
logs name the destination.
"""

from __future__ import annotations

import http.client
import logging
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any, Literal
from urllib.parse import urlsplit

from reporter import __version__
from reporter.formatting import printable

log = logging.getLogger(__name__)

Status = Literal["delivered", "failed", "unknown"]
ANSWER_BYTES = 2000  # of a body kept for the message (Slack answers `invalid_blocks`, Teams an error object)


@dataclass(frozen=True)
class Attempt:
    """One try at telling a destination, and what came of it."""

    destination: str
    status: Status  # delivered | failed; unknown only for e-mail whose reply was lost after the data went out
    code: int | None  # the HTTP status, or the SMTP reply code; None when no answer came
    message: str  # the answer (reason and the start of its body) or what went wrong; never the URL
    at: datetime
    transient: bool = False  # worth trying again later (5xx, 429, no connection, a timeout)


@dataclass(frozen=True)
class Policy:
    """How long to wait and how often to try."""

    connect_timeout_s: float = 5.0
    read_timeout_s: float = 15.0
    retries: int = 3
    backoff_s: float = 1.0
    max_wait_s: float = 60.0


class _ReadTimeout:
    """A connection whose connect (and TLS handshake) waits `timeout`, and every read after it `read_timeout`."""

    read_timeout: float

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        self.sock.settimeout(self.read_timeout)  # type: ignore[attr-defined]


class _Http(_ReadTimeout, http.client.HTTPConnection):
    def __init__(self, *args: Any, read_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_timeout = read_timeout


class _Https(_ReadTimeout, http.client.HTTPSConnection):
    def __init__(self, *args: Any, read_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_timeout = read_timeout


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # the 3xx comes back as an HTTPError


def _opener(read_timeout: float) -> urllib.request.OpenerDirector:
    class HttpHandler(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(partial(_Http, read_timeout=read_timeout), req)

    class HttpsHandler(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(partial(_Https, read_timeout=read_timeout), req, context=self._context)  # type: ignore[attr-defined]

    return urllib.request.build_opener(HttpHandler, HttpsHandler, _NoRedirect)


def check_url(url: str) -> str | None:
    """Why the URL cannot be posted to (without quoting it), or None."""
    if not url.isascii() or any(c.isspace() or not c.isprintable() for c in url):
        return "holds spaces, control or non-ASCII characters (quote them as %XX)"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return "is not a URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an http(s) URL"
    return None


def secret_parts(url: str) -> tuple[str, ...]:
    """The URL and the parts of it that carry its secret (path, query), longest first: what a message must not show."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return (url,)
    pieces = [url, parts.path + (f"?{parts.query}" if parts.query else ""), parts.path, parts.query]
    return tuple(sorted({p for p in pieces if len(p) >= 8}, key=len, reverse=True))


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header (a number of seconds or an HTTP date), None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


def post_json(
    name: str,
    url: str,
    body: bytes,
    policy: Policy,
    headers: Callable[[], Mapping[str, str]] = dict,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    secrets: tuple[str, ...] = (),
) -> list[Attempt]:
    """POST `body` (JSON) to `url` until it is accepted, refused for good, or the retries are spent.

    `headers()` is called before each attempt (a signature carries the attempt's time). Returns every attempt;
    the last one is the outcome. Never raises for a delivery failure.
    """
    import time

    sleep = sleep or time.sleep
    hidden = (*secret_parts(url), *secrets)
    problem = check_url(url)
    if problem:
        return [Attempt(name, "failed", None, f"the destination's URL {problem}", clock())]
    opener = _opener(policy.read_timeout_s)
    attempts: list[Attempt] = []
    for number in range(policy.retries + 1):
        attempt, wait = _one(opener, name, url, body, policy, headers(), clock, hidden)
        attempts.append(attempt)
        if attempt.status == "delivered" or not attempt.transient or number == policy.retries:
            break
        delay = min(wait if wait is not None else policy.backoff_s * 2**number, policy.max_wait_s)
        log.warning(
            "destination %s: attempt %d failed (%s %s); retrying in %.1f s",
            name,
            number + 1,
            attempt.code or "",
            attempt.message,
            delay,
        )
        sleep(delay)
    last = attempts[-1]
    if last.status != "delivered":
        log.warning(
            "destination %s: not delivered after %d attempts: %s %s", name, len(attempts), last.code or "", last.message
        )
    return attempts


def _one(
    opener: urllib.request.OpenerDirector,
    name: str,
    url: str,
    body: bytes,
    policy: Policy,
    headers: Mapping[str, str],
    clock: Callable[[], datetime],
    hidden: tuple[str, ...],
) -> tuple[Attempt, float | None]:
    """One request: its Attempt, and the wait its answer asked for (Retry-After) when it is worth another."""
    try:
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": f"reporter/{__version__}",
                **headers,
            },
        )
        with opener.open(request, timeout=policy.connect_timeout_s) as response:
            answer = response.read(ANSWER_BYTES)
            return Attempt(
                name, "delivered", response.status, _message(response.status, response.reason, answer, hidden), clock()
            ), None
    except urllib.error.HTTPError as exc:
        code = exc.code
        try:
            answer = exc.read(ANSWER_BYTES)
        except (OSError, http.client.HTTPException):
            answer = b""
        transient = code >= 500 or code == 429
        text = _message(code, exc.reason, answer, hidden)
        if 300 <= code < 400:
            text += " (a redirect: not followed; point the variable at the new URL)"
        wait = retry_after(exc.headers.get("Retry-After"), clock()) if transient else None
        return Attempt(name, "failed", code, text, clock(), transient=transient), wait
    except urllib.error.URLError as exc:
        reason = exc.reason
        what = "timed out" if isinstance(reason, (TimeoutError, socket.timeout)) else "no connection"
        return Attempt(
            name, "failed", None, _scrub(f"{what}: {type(reason).__name__}: {reason}", hidden), clock(), transient=True
        ), None
    except (http.client.InvalidURL, ValueError) as exc:  # their messages quote the URL
        return Attempt(
            name, "failed", None, f"the destination's URL is not usable ({type(exc).__name__})", clock()
        ), None
    except TimeoutError as exc:
        return Attempt(
            name, "failed", None, _scrub(f"timed out waiting for the answer: {exc}", hidden), clock(), transient=True
        ), None
    except (OSError, http.client.HTTPException) as exc:
        return Attempt(
            name,
            "failed",
            None,
            _scrub(f"the connection broke: {type(exc).__name__}: {exc}", hidden),
            clock(),
            transient=True,
        ), None


def _message(code: int, reason: str | None, answer: bytes, hidden: tuple[str, ...]) -> str:
    """The answer's reason phrase and the start of its body (the status itself is the Attempt's code)."""
    from http import HTTPStatus

    if not reason:
        reason = HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else "(no reason)"
    text = " ".join(answer.decode("utf-8", "replace").split())
    return _scrub(reason + (f": {text[:300]}" if text else ""), hidden)


def _scrub(text: str, hidden: tuple[str, ...]) -> str:
    """The text with any secret (the URL, the signing secret) taken out, and printable."""
    for secret in hidden:
        if secret:
            text = text.replace(secret, "<hidden>")
    return printable(text)
