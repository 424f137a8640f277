"""Pieces the pages share: tablet styling, untrusted text, value tiles, alarm rows, how a value or a time reads."""

from __future__ import annotations

import html
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import PurePath

import streamlit as st

from connectors import ActiveAlarm, Quality, Reading, Tag, priority_mark, rounded
from copilot.pipeline import Status
from copilot.services.line_ops import format_value
from copilot.untrusted import markdown_escape, one_line, plain
from knowledge import Citation

# Sized for a 10-inch tablet at arm's length: 18 px type, 48 px touch targets, nothing wider than the screen.
TABLET_CSS = """
<style>
html, body, [class*="css"] { font-size: 18px; }
/* Below Streamlit's header bar (3.75rem), which would otherwise cover the top of the alarm banner. */
.block-container, [data-testid="stMainBlockContainer"] { padding-top: 4rem; max-width: 100%; }
[data-testid="stAppDeployButton"] { display: none; }
/* Blue, not Streamlit's red, for "go" actions: on a line red means alarm or stop. */
button[kind^="primary"] { background-color: #1f5fae !important; border-color: #1f5fae !important;
  color: #fff !important; }
button[kind^="primary"]:hover { background-color: #174a88 !important; border-color: #174a88 !important; }
button[data-variant="pills"] { min-height: 48px; font-size: 1rem; }
button[data-variant="pills"][data-selected="true"] { background: #e3ecf7 !important;
  border: 2px solid #1f5fae !important; color: #102a43 !important; }
[data-baseweb="tag"] { background-color: #1f5fae !important; }
.stButton button, .stDownloadButton button, .stFormSubmitButton button { min-height: 48px; min-width: 96px;
  font-size: 1.05rem; }
div[data-baseweb="select"] > div, .stTextInput input { min-height: 48px; font-size: 1.05rem; }
[data-testid="stSidebarNav"] a { min-height: 48px; font-size: 1.05rem; }
[data-testid="stExpander"] summary { min-height: 48px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 8px; margin-bottom: 8px; }
.tile { border: 2px solid #9aa5b1; border-radius: 8px; padding: 6px 10px; background: #ffffff; min-width: 0; }
.tile .name { font-size: 0.85rem; color: #3e4c59; overflow-wrap: anywhere; }
.tile .value { font-size: 1.45rem; font-weight: 700; color: #102a43; overflow-wrap: anywhere; }
.tile .state { font-size: 0.8rem; color: #3e4c59; }
.tile.out { border-color: #b54708; border-width: 3px; }
.tile.follows { border-color: #b54708; border-style: dotted; }
.tile.purpose { border-color: #1f5fae; border-style: dashed; }
.story { font-size: 1.05rem; margin: 4px 0 10px 0; overflow-wrap: anywhere; }
.tile.dim { background: #eceff1; border-style: dashed; }
.tile.dim .value, .tile.dim .name, .tile.dim .state { color: #7b8794; }
.alarm { padding: 6px 10px; border-radius: 6px; margin-bottom: 4px; font-size: 1.05rem; border: 2px solid #52606d;
  overflow-wrap: anywhere; }
.alarm.urgent, .alarm.high { border-color: #b42318; border-width: 3px; }
.change { font-size: 1.6rem; margin: 4px 0 8px 0; overflow-wrap: anywhere; }
.change small { font-size: 1rem; color: #52606d; }
.conn { font-weight: 700; font-size: 1.05rem; }
.alarm-banner { padding: 8px 12px; border-radius: 6px; margin-bottom: 6px; font-size: 1.1rem; color: #fff;
  overflow: hidden; }
.alarm-banner.urgent { background: #7a1010; }
.alarm-banner.high { background: #b42318; }
.alarm-banner.medium { background: #b54708; }
.alarm-banner.low { background: #52606d; }
.alarm-banner.quiet { background: #eef2f6; color: #1f2933; font-size: 1rem; }
.alarm-banner .banner-status { float: right; font-weight: 600; }
.conn.ok { color: #1b5e20; }
.conn.down { color: #b42318; }
</style>
"""

QUALITY_WORD = {
    Quality.GOOD: "good",
    Quality.UNCERTAIN: "uncertain",
    Quality.BAD: "BAD",
    Quality.STALE: "STALE",
    Quality.UNAVAILABLE: "line down",
}

# How a person asks about actions: by these groups, not by the pipeline's finer states.
STATUS_GROUPS: dict[str, tuple[Status, ...]] = {
    "pending": (Status.PENDING,),
    "approved": (Status.APPROVED, Status.WRITING),
    "executed": (Status.SUCCEEDED,),
    "failed": (Status.FAILED, Status.UNVERIFIED),
    "refused": (Status.REFUSED,),
    "rejected": (Status.REJECTED,),
    "withdrawn": (Status.WITHDRAWN,),
    "expired": (Status.EXPIRED,),
}
GROUP_OF = {status: group for group, members in STATUS_GROUPS.items() for status in members}
STATUS_MARK = {
    Status.PENDING: "○ waiting for approval",
    Status.APPROVED: "✓ approved, being executed",
    Status.WRITING: "✎ writing to the line",
    Status.SUCCEEDED: "✓ written and read back",
    Status.FAILED: "✗ failed, nothing written",
    Status.UNVERIFIED: "? written, read-back not confirmed",
    Status.REFUSED: "✗ refused by the rules",
    Status.REJECTED: "✗ rejected",
    Status.WITHDRAWN: "✗ withdrawn by the requester",
    Status.EXPIRED: "✗ expired, nobody decided in time",
}


# Untrusted text (documents, the server's strings, chat, names, reasons, tag names asked for) reaches the page only
# through the four helpers below: a Markdown image in it would make the browser fetch an outside URL, and a link
# or bold text would speak with the console's voice ("approve now").
LABEL_LIMIT = 120


def literal(text: object) -> str:
    """Untrusted text for a Markdown element (markdown, caption, message, progress text): shown exactly as written."""
    return markdown_escape(str(text))


def label(text: object, limit: int = LABEL_LIMIT) -> str:
    """Untrusted text for a label (expander, button, pills option): one line, cut at `limit`, shown as written."""
    return markdown_escape(one_line(str(text), limit))


def html_text(text: object) -> str:
    """Untrusted text for an HTML block we build: escaped, and on one line, since a blank line would end the block
    and hand the rest to the Markdown renderer."""
    return html.escape(" ".join(plain(str(text)).split()))


def show_text(text: object) -> None:
    """Untrusted text on its own, line breaks kept: a plain-text element, never Markdown."""
    st.text(plain(str(text)))


def document_line(citation: Citation) -> str:
    """`manual · revision C · capper-manual.pdf`, leaving out what the document does not say; safe for st.caption."""
    kind = citation.doc_type.replace("_", " ")
    revision = f"revision {citation.revision}" if citation.revision else ""
    return literal(" · ".join(part for part in (kind, revision, PurePath(citation.source).name) if part))


def apply_tablet_style() -> None:
    st.markdown(TABLET_CSS, unsafe_allow_html=True)


def clock(stamp: datetime | None) -> str:
    return stamp.astimezone(UTC).strftime("%H:%M:%S UTC") if stamp else "no timestamp"


def when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def moment(epoch: float) -> str:
    """Short for tables: `11-25 06:42:26` (UTC)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%m-%d %H:%M:%S")


def duration_text(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def age_text(seconds: float) -> str:
    return f"{duration_text(seconds)} old"


def short_name(tag: Tag) -> str:
    """`bowl level` for `filler.bowl_level`: the tile sits under its equipment's heading already."""
    return tag.name.split(".", 1)[1].replace("_", " ")


def _band_state(tag: Tag, reading: Reading) -> str | None:
    value = reading.value
    if isinstance(value, bool):
        # A flag that alarms when on ("jam detected") is flagged like a value out of its band, not called good.
        return "⚑ on: not normal" if value and any(a.kind.value == "on" for a in tag.alarms) else None
    if tag.normal is None or not isinstance(value, int | float):
        return None
    if value > tag.normal.high:
        return f"▲ above normal {tag.normal.low:g} to {tag.normal.high:g}"
    if value < tag.normal.low:
        return f"▼ below normal {tag.normal.low:g} to {tag.normal.high:g}"
    return None


def tile(tag: Tag, reading: Reading | None, now: datetime, *, follows: str = "", on_purpose: str = "") -> str:
    """One value as an HTML tile; text from the line definition and the server is escaped.

    `follows` names the deviation this one follows from (an effect, not a root: a dotted border), `on_purpose`
    says which approved change moved it (a dashed blue border, not flagged at all).
    """
    name = html_text(short_name(tag))
    data_tag = html_text(tag.name)
    if reading is None:
        return (
            f'<div class="tile dim" data-tag="{data_tag}" data-quality="none"><div class="name">{name}</div>'
            '<div class="value">—</div><div class="state">no reading yet</div></div>'
        )
    value = html_text(format_value(reading, tag))
    unit = html_text(tag.unit) if not isinstance(reading.value, bool) else ""
    classes = ["tile"]
    state = QUALITY_WORD[reading.quality]
    if not reading.usable:
        # Greyed, dashed and aged: a value that is not live must never pass for one.
        classes.append("dim")
        state = f"{state} · {age_text(reading.age_s(now))}"
    elif on_purpose and _band_state(tag, reading) is not None:
        classes.append("purpose")
        state = "✎ set on purpose" if on_purpose.startswith("set on purpose") else "✎ follows a change made on purpose"
    elif (band := _band_state(tag, reading)) is not None:
        classes.append("follows" if follows else "out")
        state = f"{band} · ↳ follows {follows}" if follows else band
    why = f" ({on_purpose})" if on_purpose else ""
    title = html_text(f"{tag.name}: {tag.description}{why}")
    return (
        f'<div class="{" ".join(classes)}" title="{title}" data-tag="{data_tag}" '
        f'data-quality="{reading.quality.value}"><div class="name">{name}</div>'
        f'<div class="value">{value} <small>{unit}</small></div><div class="state">{html_text(state)}</div></div>'
    )


def tiles(
    tags: list[Tag],
    readings: dict[str, Reading | None],
    now: datetime,
    *,
    follows: Mapping[str, str] | None = None,
    on_purpose: Mapping[str, str] | None = None,
) -> str:
    follows, on_purpose = follows or {}, on_purpose or {}
    return (
        '<div class="tiles">'
        + "".join(
            tile(t, readings.get(t.name), now, follows=follows.get(t.name, ""), on_purpose=on_purpose.get(t.name, ""))
            for t in tags
        )
        + "</div>"
    )


def alarm_row(alarm: ActiveAlarm, *, unit: str = "") -> str:
    """Priority as a shape and a word, the code, the message, the value against its limit, and for how long."""
    mark = priority_mark(alarm.priority)
    value = rounded(alarm.value, unit)
    limit = f", limit {alarm.limit:g}" if alarm.limit is not None else ""
    lasting = duration_text(time.monotonic() - alarm.since_s)  # since_s is on this process's monotonic clock
    return (
        f'<div class="alarm {html_text(alarm.priority)}" data-code="{html_text(alarm.code)}">'
        f"<b>{html_text(mark)}</b> · {html_text(alarm.code)} · {html_text(alarm.message)} "
        f"<small>({html_text(alarm.tag)} {html_text(value)}{limit}; for {lasting})</small></div>"
    )
