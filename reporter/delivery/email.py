"""E-mail delivery: a standards-compliant MIME message and its sending over SMTP.

The message: a short HTML summary with inline CSS, a plain-text alternative,
the PDF attached (the HTML too on request, no attachment above the size
limit), UTF-8 throughout. Sending: STARTTLS, implicit TLS or plain, with
login; transient failures (connection refused, timeouts, 4xx replies) are
retried with exponential backoff, permanent ones (5xx) are not; each
recipient's outcome is reported separately.

Once the whole message data has been sent, a timeout or a lost connection
is an *unknown* outcome: the server may have delivered it (a slow server
often stores the message, then answers late). It is never retried here, so a
slow reply can't turn into several copies; the wait for that reply is its
own setting, 10 minutes by default (RFC 5321, section 4.5.3.2.6).
"""

from __future__ import annotations

import email.policy
import logging
import re
import smtplib
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from reporter.errors import UserError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # e.g. application/pdf
    data: bytes


@dataclass(frozen=True)
class Outcome:
    """What the server said about one recipient."""

    recipient: str
    sent: bool
    code: int | None
    message: str
    transient: bool = False
    unknown: bool = False  # the data went out, the reply did not come back: maybe delivered

    @property
    def status(self) -> str:
        return "sent" if self.sent else "unknown" if self.unknown else "failed"


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str  # starttls | ssl | none
    username: str | None
    password: str | None
    timeout_s: float
    retries: int
    backoff_s: float = 1.0
    ssl_context: ssl.SSLContext | None = None
    data_timeout_s: float = 600.0  # the wait for the reply to the end of the message data


def one_line(text: str) -> str:
    """Header-safe text: no CR/LF (no header injection from data), collapsed spaces."""
    return " ".join(text.split())


def build_message(
    sender: str,
    to: Sequence[str],
    cc: Sequence[str],
    subject: str,
    html: str,
    text: str,
    attachments: Sequence[Attachment],
    now: datetime,
) -> EmailMessage:
    """The MIME message: multipart/mixed of (text | html) alternatives and the attachments.

    Bcc recipients are never in the headers; they are passed to `send` as envelope recipients.
    """
    msg = EmailMessage()
    msg["Subject"] = one_line(subject)
    msg["From"] = sender
    if to:
        msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Date"] = format_datetime(now)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    msg["Message-ID"] = make_msgid(domain=domain)
    msg["MIME-Version"] = "1.0"
    # Quoted-printable: SMTP limits lines to 998 octets, and 8bit is not universally accepted.
    msg.set_content(text, charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    for attachment in attachments:
        maintype, subtype = attachment.content_type.split("/", 1)
        msg.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename)
    return msg


class TransientFailure(Exception):
    """A failure worth retrying: the connection, a timeout, or a 4xx reply for the whole message."""


class _PatientData:
    """SMTP's DATA with its own wait for the final reply, and a record of whether the data went out."""

    data_timeout_s = 600.0
    data_sent = False

    def data(self, msg: bytes) -> tuple[int, bytes]:  # replaces smtplib.SMTP.data (bytes only)
        self.putcmd("data")  # type: ignore[attr-defined]
        code, reply = self.getreply()  # type: ignore[attr-defined]
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        body = re.sub(rb"(?m)^\.", b"..", msg)  # dot-stuffing (RFC 5321, section 4.5.2)
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        self.send(body + b".\r\n")  # type: ignore[attr-defined]
        self.data_sent = True
        self.sock.settimeout(self.data_timeout_s)  # type: ignore[attr-defined]
        reply = self.getreply()  # type: ignore[attr-defined]
        self.sock.settimeout(self.timeout)  # type: ignore[attr-defined]
        return reply  # type: ignore[no-any-return]


# The ignores: _PatientData.data takes bytes only (what the delivery sends), where SMTP.data also takes str.
class _Client(_PatientData, smtplib.SMTP):  # type: ignore[misc]
    pass


class _TlsClient(_PatientData, smtplib.SMTP_SSL):  # type: ignore[misc]
    pass


def _connect(config: SmtpConfig) -> smtplib.SMTP:
    context = config.ssl_context or ssl.create_default_context()
    if config.security == "ssl":
        client: smtplib.SMTP = _TlsClient(config.host, config.port, timeout=config.timeout_s, context=context)
    else:
        client = _Client(config.host, config.port, timeout=config.timeout_s)
    client.data_timeout_s = config.data_timeout_s  # type: ignore[attr-defined]
    client.ehlo()
    if config.security == "starttls":
        client.starttls(context=context)
        client.ehlo()
    if config.username:
        _login(client, config.username, config.password or "")
    return client


def _login(client: smtplib.SMTP, username: str, password: str) -> None:
    """Log in; smtplib encodes credentials as ASCII, so non-ASCII ones go as UTF-8 AUTH PLAIN (RFC 4616)."""
    if (username + password).isascii():
        client.login(username, password)
        return
    import base64

    token = base64.b64encode(f"\0{username}\0{password}".encode()).decode("ascii")
    code, reply = client.docmd("AUTH", f"PLAIN {token}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


def check_connection(config: SmtpConfig) -> None:
    """Connect, greet, log in and leave: a user error naming the setting when it fails."""
    try:
        client = _connect(config)
        client.quit()
    except smtplib.SMTPAuthenticationError as exc:
        raise UserError(f"smtp.username: the server refused the login ({exc.smtp_code})") from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise UserError(f"smtp.host: cannot reach {config.host}:{config.port} ({type(exc).__name__}: {exc})") from exc


def send(
    config: SmtpConfig,
    message: EmailMessage,
    sender: str,
    recipients: Sequence[str],
    sleep: Callable[[float], None] | None = None,
) -> list[Outcome]:
    """Send to the recipients; transient failures are retried for the recipients they concern.

    Returns one outcome per recipient. Never raises for a delivery failure: a
    recipient the server refused or a server that stayed unreachable is an
    outcome with sent=False.
    """
    envelope_from = parseaddr(sender)[1]
    pending = [parseaddr(r)[1] or r for r in recipients]
    outcomes: dict[str, Outcome] = {}
    data = message.as_bytes(policy=email.policy.SMTP)  # CRLF line ends, as SMTP requires

    def attempt() -> None:
        nonlocal pending
        outcomes.update(_attempt(config, envelope_from, pending, data))
        pending = [r for r in pending if outcomes[r].transient]
        if pending:
            raise TransientFailure(f"{len(pending)} recipients deferred")

    retrying = Retrying(
        stop=stop_after_attempt(config.retries + 1),
        wait=wait_exponential(multiplier=config.backoff_s, max=60 * config.backoff_s),
        retry=retry_if_exception_type(TransientFailure),
        sleep=sleep or __import__("time").sleep,
        reraise=False,
    )
    try:
        retrying(attempt)
    except RetryError:
        log.warning("gave up on %d recipients after %d attempts", len(pending), config.retries + 1)
    return [outcomes[parseaddr(r)[1] or r] for r in recipients]


def _attempt(config: SmtpConfig, envelope_from: str, recipients: list[str], data: bytes) -> dict[str, Outcome]:
    """One connection and transaction: each recipient's outcome (a transient one is worth another attempt)."""
    try:
        client = _connect(config)
    except smtplib.SMTPAuthenticationError as exc:
        return _each(recipients, exc.smtp_code, _text(exc.smtp_error))
    except (OSError, smtplib.SMTPException) as exc:
        code = getattr(exc, "smtp_code", None)
        if code is not None and code >= 500:
            return _each(recipients, code, _text(getattr(exc, "smtp_error", exc)))
        return _each(recipients, code, f"{type(exc).__name__}: {exc}", transient=True)
    try:
        refused = _transaction(client, envelope_from, recipients, data)
    except smtplib.SMTPRecipientsRefused as exc:
        refused = exc.recipients
    except smtplib.SMTPResponseException as exc:  # the sender or the data refused, for every recipient
        return _each(recipients, exc.smtp_code, _text(exc.smtp_error), transient=400 <= exc.smtp_code < 500)
    except (OSError, smtplib.SMTPServerDisconnected) as exc:
        if not getattr(client, "data_sent", False):
            return _each(recipients, None, f"{type(exc).__name__}: {exc}", transient=True)
        # The message is with the server; whether it took it is unknown. Never re-sent from here.
        refused = client.refused  # type: ignore[attr-defined]
        maybe = f"no reply after the message was sent ({type(exc).__name__}: {exc}); it may have been delivered"
        return {
            r: _refusal(r, *refused[r]) if r in refused else Outcome(r, False, None, maybe, unknown=True)
            for r in recipients
        }
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()
    return {r: _refusal(r, *refused[r]) if r in refused else Outcome(r, True, 250, "accepted") for r in recipients}


def _each(recipients: list[str], code: int | None, message: str, transient: bool = False) -> dict[str, Outcome]:
    return {r: Outcome(r, False, code, message, transient=transient) for r in recipients}


def _refusal(recipient: str, code: int, reply: bytes) -> Outcome:
    return Outcome(recipient, False, code, _text(reply), transient=400 <= code < 500)


def _transaction(
    client: smtplib.SMTP, envelope_from: str, recipients: list[str], data: bytes
) -> dict[str, tuple[int, bytes]]:
    """MAIL, RCPT for each recipient, DATA: the refused recipients, as smtplib's sendmail returns them.

    Kept apart from sendmail so that the recipients accepted before a lost reply are known.
    """
    client.ehlo_or_helo_if_needed()
    code, reply = client.mail(envelope_from)
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, reply, envelope_from)
    refused: dict[str, tuple[int, bytes]] = {}
    client.refused = refused  # type: ignore[attr-defined]
    client.accepted = []  # type: ignore[attr-defined]
    for r in recipients:
        code, reply = client.rcpt(r)
        if code in (250, 251):
            client.accepted.append(r)  # type: ignore[attr-defined]
        else:
            refused[r] = (code, reply)
    if not client.accepted:  # type: ignore[attr-defined]
        client.rset()
        raise smtplib.SMTPRecipientsRefused(refused)
    code, reply = client.data(data)
    if code != 250:
        raise smtplib.SMTPDataError(code, reply)
    return refused


def _text(reply: object) -> str:
    if isinstance(reply, bytes):
        return reply.decode("utf-8", "replace")
    return str(reply)
