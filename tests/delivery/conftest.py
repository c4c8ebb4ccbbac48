"""A real SMTP server (aiosmtpd) on 127.0.0.1, optionally with STARTTLS and AUTH, and demo data."""

from __future__ import annotations

import asyncio
import email
import email.policy
import itertools
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from reporter.db import make_engine, upgrade
from reporter.delivery.email import SmtpConfig
from reporter.demo import load_demo
from reporter.jobs.unit import Unit
from reporter.production import Production

USER, PASSWORD = "reports", "s3cret-pässword"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class Handler:
    """Collects messages; can refuse recipients (550), defer the first N messages (451), store a message and
    then answer late (`reply_after_s`) or drop the connection instead of answering (`drop_after_data`)."""

    refuse: set[str] = field(default_factory=set)
    defer_data: int = 0
    received: list[Received] = field(default_factory=list)
    data_attempts: int = 0
    reply_after_s: float = 0.0
    drop_after_data: int = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.data_attempts += 1
        if self.defer_data > 0:
            self.defer_data -= 1
            return "451 4.3.0 Try again later"
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        if self.drop_after_data > 0:  # stored, then the connection is lost before the reply
            self.drop_after_data -= 1
            server.transport.abort()
            return "250 never seen"
        if self.reply_after_s:
            await asyncio.sleep(self.reply_after_s)
        return "250 Message accepted"


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: Handler
    tls: ssl.SSLContext | None = None  # the client context that trusts the server's certificate


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)  # handled=False: the server sends the 235 or 535


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    handler = Handler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield SmtpServer("127.0.0.1", port, handler)
    controller.stop()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_smtp_server(certificate: tuple[Path, Path]) -> Iterator[SmtpServer]:
    cert, key = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    handler = Handler()
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_context,
        require_starttls=True,
        authenticator=_authenticator,
        auth_required=True,
        auth_require_tls=True,
        auth_exclude_mechanism=["LOGIN"],
    )
    controller.start()
    client_context = ssl.create_default_context(cafile=str(cert))
    yield SmtpServer("127.0.0.1", port, handler, client_context)
    controller.stop()


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('delivery') / 'demo.db'}"
    engine = make_engine(url)
    upgrade(engine)
    load_demo(engine, 200, 1)
    engine.dispose()
    return url


@pytest.fixture
def demo_engine(demo_url: str):
    engine = make_engine(demo_url)
    yield engine
    engine.dispose()


# -- units against these servers (tests/delivery, tests/jobs) ----------------------------------

NOW = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
START, END = datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 10, 12, tzinfo=UTC)
jobs = itertools.count()


def clock() -> datetime:
    return NOW


def no_sleep(_seconds: float) -> None:
    pass


def unit(**kw) -> Unit:
    base = dict(
        job=f"job-{next(jobs)}",
        campaign_id="welcome-series",
        start=START,
        end=END,
        timezone="UTC",
        to=("Café Owner <owner@example.test>",),
        cc=("cc@example.test",),
        bcc=("hidden@example.test",),
    )
    base.update(kw)
    return Unit(**base)


def target(
    server: SmtpServer,
    tmp_path,
    security: str = "none",
    username: str | None = None,
    password: str | None = None,
    max_bytes: int = 10 * 2**20,
) -> Production:
    smtp = SmtpConfig(
        server.host, server.port, security, username, password, 10, 3, backoff_s=0.01, ssl_context=server.tls
    )
    return Production(str(tmp_path / "archive"), smtp, "Acme Reports <reports@acme.test>", max_bytes)
