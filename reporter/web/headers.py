"""Security headers on every response of the web app, error pages included."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox allow-same-origin"
APP_CSP = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class SecurityHeaders:
    """ASGI middleware: security headers on every response (a CSP unless the route set its own)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _v in headers}
                defaults = {
                    b"x-content-type-options": b"nosniff",
                    b"referrer-policy": b"no-referrer",
                    b"cross-origin-opener-policy": b"same-origin",
                    b"cache-control": b"no-store",
                    b"content-security-policy": APP_CSP.encode(),
                }
                if b"content-security-policy" not in names:
                    defaults[b"x-frame-options"] = b"DENY"
                headers += [(k, v) for k, v in defaults.items() if k not in names]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class HeadedStarlette(Starlette):
    """Starlette with SecurityHeaders outside everything, so that its own 500 page carries them too.

    (Middleware given to Starlette runs inside the error middleware that writes the 500 page.)
    """

    def build_middleware_stack(self) -> Any:
        return SecurityHeaders(super().build_middleware_stack())
