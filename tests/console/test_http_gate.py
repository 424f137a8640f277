"""The gate in front of Streamlit: /_stcore/metrics is answered 404 and never reaches Streamlit; the rest passes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from console.http_gate import ClosedEndpoints, closed


@pytest.mark.parametrize(
    ("path", "shut"),
    [
        ("/_stcore/metrics", True),
        ("/_stcore/metrics/", True),
        ("/line/_stcore/metrics", True),
        ("/_stcore/health", False),
        ("/_stcore/host-config", False),
        ("/", False),
        ("/actions", False),
    ],
)
def test_only_the_metrics_endpoint_is_closed(path: str, shut: bool) -> None:
    assert closed(path) is shut


def _call(path: str, kind: str = "http") -> tuple[list[str], list[dict[str, Any]]]:
    reached: list[str] = []
    sent: list[dict[str, Any]] = []

    async def streamlit(scope: dict[str, Any], receive: Any, send: Any) -> None:
        reached.append(scope["path"])

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": kind, "path": path, "method": "GET", "headers": [], "query_string": b""}
    asyncio.run(ClosedEndpoints(streamlit)(scope, receive, send))
    return reached, sent


def test_a_metrics_request_gets_404_and_streamlit_never_sees_it() -> None:
    reached, sent = _call("/_stcore/metrics")
    assert reached == []
    assert sent[0]["status"] == 404
    assert b"Not found" in sent[1]["body"]


def test_everything_else_reaches_streamlit_untouched() -> None:
    assert _call("/_stcore/health") == (["/_stcore/health"], [])
    assert _call("/_stcore/stream", "websocket") == (["/_stcore/stream"], [])
