"""What the console's web server answers before Streamlit does: Streamlit's endpoints that skip sign-in are closed."""

from __future__ import annotations

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

# Streamlit serves /_stcore/metrics (sessions, cache sizes, page use) to anyone who reaches the port, and has no
# setting to turn it off. The console's sign-in lives in the Streamlit session, not in HTTP, so the endpoint
# cannot be put behind it: it is answered "not found" instead, under any base URL path.
CLOSED_ENDPOINTS = ("/_stcore/metrics",)


def closed(path: str) -> bool:
    """Whether a request path names a closed endpoint (with or without a trailing slash or a base URL path)."""
    return path.rstrip("/").endswith(CLOSED_ENDPOINTS)


class ClosedEndpoints:
    """ASGI middleware in front of Streamlit: a closed endpoint gets 404 and never reaches Streamlit."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and closed(str(scope["path"])):
            await PlainTextResponse("Not found\n", status_code=404)(scope, receive, send)
            return
        await self.app(scope, receive, send)
