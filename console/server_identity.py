"""Server identity (admins): the certificate the line server presents beside the confirmed one; confirming it."""

from __future__ import annotations

import streamlit as st

from connectors import SecurityMode, Verdict
from console import services, session
from console.messages import OURS
from console.widgets import show_text
from copilot.pipeline import Role, User
from copilot.services import line_ops
from copilot.untrusted import plain

NOTICES = "server-identity"
FAILURE = "server-identity-failure"  # why the last confirmation failed, shown once as plain text
VERIFIED = "server-identity-verified"  # the checkbox an admin ticks before replacing a changed identity


def _confirm(who: User, shown: str, replace: bool) -> None:
    """Record the identity whose fingerprint the admin saw; a server that changed since the page drew is refused."""
    settings = services.context().settings
    try:
        report = line_ops.server_report(settings)
        if report.presented.fingerprint != shown:
            session.notify(
                NOTICES, ok=False, text="The server presents another certificate than the one shown; nothing recorded."
            )
            return
        if replace:
            line_ops.forget_server(settings, report.presented.key)
        line_ops.trust_server(settings, report.presented, by=f"{who.name} (admin, console)", fingerprint=shown)
    except OURS as err:
        st.session_state[FAILURE] = str(err)
        return
    session.notify(NOTICES, ok=True, text="Confirmed. The console connects to this server from now on.")
    live = services.live_line()
    live.submit(live.client.retry_now())  # connect now, not after the back-off


def _failure(doing: str, detail: str) -> None:
    # The detail quotes the server (its URI, its policies): plain text, never Markdown.
    st.error(f"Could not finish {doing}.", icon=":material/error:")
    show_text(detail)


def _identity(title: str, fingerprint: str, application_uri: str, extra: list[str]) -> None:
    # Every value here comes from the server or the store: shown with text elements, never as Markdown.
    st.subheader(title)
    st.code(plain(fingerprint), language=None)
    show_text(f"application URI: {application_uri}")
    for line in extra:
        show_text(line)


def render() -> None:
    who = session.signed_in()
    st.title("Server identity")
    if who.role is not Role.ADMIN:
        st.info("Only an admin can confirm the identity of the line's server.")
        return
    settings = services.context().settings
    if settings.security is SecurityMode.NONE:
        st.info(
            "The console connects without security (COPILOT_SECURITY=none), so there is no server identity to "
            "confirm and no password is sent. Secure mode (sign_encrypt) trusts a server only after an admin "
            "confirmed its certificate here or with `copilot servers trust`."
        )
        return
    session.show_notice(NOTICES)
    failure = st.session_state.pop(FAILURE, None)
    if failure is not None:
        _failure("recording the confirmation", str(failure))
    try:
        report = line_ops.server_report(settings)
    except OURS as err:
        _failure("asking the line server who it is", str(err))
        return
    presented = report.presented
    facts = presented.facts
    _identity(
        "Presented by the server now",
        presented.fingerprint,
        presented.application_uri,
        [
            f"endpoint: {presented.endpoint}",
            f"subject: {facts.subject}",
            f"valid: {facts.not_before:%Y-%m-%d} to {facts.not_after:%Y-%m-%d}",
        ],
    )
    known = report.known
    if known is not None:
        _identity(
            "Confirmed",
            known.fingerprint,
            known.application_uri,
            [f"confirmed by: {known.confirmed_by}", f"on: {known.confirmed_at:%Y-%m-%d %H:%M} UTC"],
        )
    if report.verdict is Verdict.KNOWN:
        st.success("The server presents exactly the identity that was confirmed.", icon=":material/verified_user:")
        return
    st.caption(
        "Compare the fingerprint above with the one the plant's OT admin reads on the server itself. "
        "Confirm only when they match: the console then sends the OPC UA password to this server."
    )
    if report.verdict is Verdict.UNKNOWN:
        st.warning("Nobody has confirmed this server yet; the console does not connect to it.", icon=":material/help:")
        st.button(
            "Confirm this server",
            key="server-identity-confirm",
            type="primary",
            on_click=_confirm,
            args=(who, presented.fingerprint, False),
        )
        return
    st.error(
        "THE SERVER'S IDENTITY HAS CHANGED since it was confirmed. Someone may be impersonating the line's server, "
        "or its certificate was replaced. The console does not connect to it.",
        icon=":material/gpp_bad:",
    )
    verified = st.checkbox(
        "The plant's OT admin verified the new fingerprint on the server itself", key=VERIFIED, value=False
    )
    st.button(
        "Replace the confirmed identity",
        key="server-identity-replace",
        disabled=not verified,
        on_click=_confirm,
        args=(who, presented.fingerprint, True),
    )
