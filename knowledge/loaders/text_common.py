"""Decoding text files and small helpers shared by the text-based loaders."""

from __future__ import annotations

import re

from knowledge.errors import EmptyDocument, UnreadableEncoding, UnsupportedFormat

STEP_RE = re.compile(r"^\s*(\d{1,3})[.)]\s+\S")


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM) or UTF-16 with a BOM; anything else is refused rather than guessed."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as err:
            raise UnreadableEncoding("damaged UTF-16 text; save it again as UTF-8") from err
    else:
        if b"\x00" in data[:8192]:
            raise UnsupportedFormat("binary content, not text (is the extension wrong?)")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise UnreadableEncoding(
                f"not UTF-8 text (byte {err.start}); convert it, e.g. `iconv -f WINDOWS-1252 -t UTF-8`"
            ) from err
    if not text.strip():
        raise EmptyDocument("the file holds no text")
    return text


def front_matter(text: str) -> tuple[dict[str, str], str, int]:
    """A leading `---` block of `key: value` lines; returns the fields, the rest and how many lines it took."""
    if not text.startswith("---\n"):
        return {}, text, 0
    end = text.find("\n---", 4)
    if end < 0:
        return {}, text, 0
    fields: dict[str, str] = {}
    for line in text[4:end].splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip().lower()] = value.strip().strip("'\"")
    rest_start = text.find("\n", end + 4)
    consumed = text[: rest_start + 1 if rest_start >= 0 else len(text)].count("\n")
    # Keep line numbers true: blank lines stand in for the front matter.
    return fields, "\n" * consumed + (text[rest_start + 1 :] if rest_start >= 0 else ""), consumed


def clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
