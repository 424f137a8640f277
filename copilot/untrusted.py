"""Text from outside (documents, servers, chat, people) made fit to show as plain text, and its length limits."""

from __future__ import annotations

import re

__all__ = ["MAX_NAME", "MAX_REASON", "check_reason", "markdown_escape", "one_line", "plain"]

MAX_REASON = 500
MAX_NAME = 64

# Terminal escape sequences go whole, so no parameter bytes are left behind as stray text: CSI (ESC [ or C1 0x9B),
# the string sequences OSC, DCS, SOS, PM and APC up to their terminator (BEL or ST), and two-byte ESC sequences.
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]).*?(?:\x07|\x1b\\|\x9c)"
    r"|\x1b[\x20-\x2f]*[\x30-\x7e]",
    re.DOTALL,
)
# Bidi controls reorder what a reader sees ("raise \u202eevlav eht esolc" reads "raise close the valve"), and
# zero-width characters hide inside names; C0 and C1 controls (a lone ESC among them) drive terminals.
_INVISIBLE = re.compile(
    "[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u200b-\u200d\u2060\ufeff\x00-\x08\x0b-\x1f\x7f-\x9f]"
)
_LINE_BREAKS = re.compile("\r\n|[\r\x85\u2028\u2029]")
# Every ASCII punctuation character that CommonMark, GFM (e-mail autolinks, setext headings), Streamlit's math and
# its `:colour[...]`, `:material/...:` and emoji directives give a meaning to; a backslash before any ASCII
# punctuation shows it literally.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-=.!|~$:&@])")
# Escapes are not enough: GFM's bare-URL and e-mail autolinks and Streamlit's `:material/...:` icons and
# `:streamlit:` logo, and its typographic arrows (`->` becomes an arrow), are found in the text after escapes are
# resolved. An invisible word joiner (U+2060) splits each pattern where it would start: after a colon that touches
# the next character, inside `www.`, before `@`, and inside `->`, `<-`, `--`, `>=`, `<=` and `~=`.
_AUTOLINKED = re.compile(r"(?<=:)(?=\S)|(?<=www)(?=\.)|(?<=[\w.+-])(?=@)|(?<=[<>~-])(?=[>=-])", re.IGNORECASE)
_JOINER = "\u2060"


def plain(text: str) -> str:
    """Return `text` without bidi controls, terminal escapes, other control characters or zero-width characters.

    Line endings become `\\n`; newline and tab are kept.
    """
    text = _LINE_BREAKS.sub("\n", text)
    text = _ESCAPES.sub("", text)
    return _INVISIBLE.sub("", text)


def one_line(text: str, limit: int) -> str:
    """Return `plain(text)` on one line, cut to at most `limit` characters with an ellipsis, for display."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    flat = " ".join(plain(text).split())
    if len(flat) <= limit:
        return flat
    return flat[: limit - 1].rstrip() + "\u2026"


def check_reason(text: str, what: str = "reason", *, limit: int = MAX_REASON) -> str:
    """Return the plain, stripped `text`; raise ValueError when it is empty or longer than `limit` characters."""
    cleaned = plain(text).strip()
    if not cleaned:
        raise ValueError(f"the {what} is empty: say why in a few words")
    if len(cleaned) > limit:
        raise ValueError(f"the {what} is {len(cleaned)} characters long; at most {limit} are allowed")
    return cleaned


def markdown_escape(text: str) -> str:
    """Return `plain(text)` escaped so that Streamlit's Markdown shows it literally: no link, image or emphasis.

    For the few places where a Markdown element must carry untrusted text; prefer a plain-text element. Each line
    is stripped (four spaces of indent would start a code block) and ends in a hard line break, so lines stay lines.
    A word joiner (U+2060, invisible) is put where a bare URL, an e-mail address or an icon code would be found.
    """
    lines = (_MARKDOWN_SPECIAL.sub(r"\\\1", _AUTOLINKED.sub(_JOINER, line.strip())) for line in plain(text).split("\n"))
    return "  \n".join(lines)
