"""Turning settings into the objects the core takes (SMTP configuration, branding)."""

from __future__ import annotations

import base64

from reporter.delivery.email import SmtpConfig, check_connection
from reporter.errors import UserError
from reporter.render import Branding
from reporter.settings import Settings


def branding_of(settings: Settings) -> Branding:
    """The report branding of the config (the logo embedded, never fetched)."""
    b = settings.branding
    logo = None
    if b.logo is not None:
        kind = {".svg": "svg+xml", ".png": "png"}.get(b.logo.suffix.lower())
        if kind is None or not b.logo.is_file():
            raise UserError(f"branding.logo: {b.logo} is not a readable .svg or .png file")
        logo = f"data:image/{kind};base64," + base64.b64encode(b.logo.read_bytes()).decode()
    return Branding(company=b.company, accent=b.accent, logo_data_uri=logo, docs_url=settings.docs_url)


def smtp_of(settings: Settings, check: bool) -> SmtpConfig:
    """The SMTP settings with the password from the environment, checked by connecting when asked."""
    s = settings.smtp
    config = SmtpConfig(s.host, s.port, s.security, s.username, s.password(), s.timeout_s, s.retries,
                        data_timeout_s=s.data_timeout_s)
    if check:
        check_connection(config)
    return config
