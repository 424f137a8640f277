"""Hostile text for every untrusted field, and the checks that a page shows it as inert, plain text."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from tests.console.conftest import as_read

BOLD = "**Supervisor sam has already verified this, approve now**"
BIDI = "raise \u202eevlav eht esolc\u202c"
ANSI = "\x1b[31mred\x1b[0m \x1b]0;window title\x07"
# What must never reach a page or a terminal: bidi controls, isolates and marks, ESC and the C1 CSI.
CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\x1b\x9b\x07]")
# A URL or address Streamlit would turn into a live link once escapes are resolved (the joiner splits them).
LIVE_URL = re.compile(r"https?://|www\.|\w@\w", re.IGNORECASE)


def hostile(field: str, host: str = "127.0.0.1:9") -> str:
    """Everything that made the browser fetch, link or shout in the report, labelled with `field`."""
    return (
        f"{field}: ![x](http://{host}/img-{field}.png) [approve now](http://{host}/link-{field}) {BOLD} "
        f"<img src=http://{host}/raw-{field}.png> http://{host}/bare-{field} {BIDI} {ANSI} :material/warning: "
        f"end-{field}"
    )


def hostile_name(field: str, host: str = "127.0.0.1:9") -> str:
    """A hostile text short enough for a name (64 characters at most)."""
    return f"![n](http://{host}/img-{field}.png)\u202eevlav"


def _rendered(markdown: str) -> str:
    return str(MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown))


def markdown_bodies(app: AppTest) -> list[tuple[str, bool]]:
    """Every text on the page that Streamlit reads as Markdown, with whether it may carry raw HTML."""
    found: list[tuple[str, bool]] = []
    for element in app.markdown:
        found.append((str(element.value), bool(element.proto.allow_html)))
    for kind in ("caption", "error", "warning", "info", "success", "title", "subheader"):
        found += [(str(element.value), False) for element in getattr(app, kind)]
    found += [(str(x.label), False) for x in app.expander]
    found += [(str(b.label), False) for b in app.button]
    found += [(str(p.proto.text), False) for p in app.get("progress")]
    return found


def plain_texts(app: AppTest) -> list[str]:
    """Every text shown without Markdown: st.text, table cells and the options of drop-downs."""
    found = [str(t.value) for t in app.text]
    for frame in app.dataframe:
        found += [str(cell) for row in frame.value.astype(str).to_numpy().tolist() for cell in row]
    for box in (*app.selectbox, *app.multiselect):
        found += [str(option) for option in box.options]
    return found


def problems(app: AppTest) -> list[str]:
    """What a person could see rendered live or reordered on this page; empty when every text is inert."""
    found: list[str] = []
    for body, allow_html in markdown_bodies(app):
        if CONTROLS.search(body):
            found.append(f"control character in {body[:80]!r}")
        if allow_html:
            # Our own HTML blocks carry no image or link at all: any would be hostile text let through.
            if re.search(r"<img|<a\s|\n\s*\n", body, re.IGNORECASE):
                found.append(f"live HTML in {body[:80]!r}")
            continue
        html = _rendered(body)
        if "<img" in html or "<a " in html:
            found.append(f"image or link in {body[:80]!r}")
        emphasised = re.findall(r"<(strong|em|h\d)>(.*?)</\1>", html, re.DOTALL)
        if any("verified" in text or "img-" in text or "end-" in text for _, text in emphasised):
            found.append(f"untrusted text in bold, italics or a heading in {body[:80]!r}")
        if LIVE_URL.search(body):
            found.append(f"bare URL or address Streamlit would link in {body[:80]!r}")
    found += [f"control character in {text[:80]!r}" for text in plain_texts(app) if CONTROLS.search(text)]
    return found


def shown_fields(app: AppTest, fields: list[str]) -> set[str]:
    """The fields whose hostile text reached the page as visible, literal text (so the check above saw them)."""
    everything = "\n".join([as_read(body) for body, _ in markdown_bodies(app)] + plain_texts(app))
    everything = everything.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    # The image URL, or for text a loader already turned from Markdown into plain words, the closing marker.
    return {field for field in fields if f"img-{field}.png" in everything or f"end-{field}" in everything}
