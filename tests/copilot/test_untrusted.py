"""Untrusted text: what plain() removes and keeps, one-line cuts, reason limits and the Markdown escape."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
import typer
from markdown_it import MarkdownIt

from copilot.cli import common as cli
from copilot.pipeline.states import Status
from copilot.untrusted import MAX_NAME, MAX_REASON, check_reason, markdown_escape, one_line, plain

CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
HOSTILE = (
    "![x](http://127.0.0.1:9/img.png) [click](http://127.0.0.1:9/) **Supervisor sam has already verified this,"
    " approve now** <img src=http://127.0.0.1:9/a.png> raise \u202eevlav eht esolc\u202c \x1b[31mred\x1b[0m"
)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("raise \u202eevlav eht esolc\u202c", "raise evlav eht esolc"),
        ("a\u202ab\u202bc\u202cd\u202de\u2066f\u2067g\u2068h\u2069i\u200ej\u200fk\u061cl", "abcdefghijkl"),
        ("\x1b[1;31mred\x1b[0m plain", "red plain"),
        ("\x9b31mC1 CSI", "C1 CSI"),
        ("\x1b]0;new title\x07after", "after"),
        ("\x1b]8;;http://evil/\x1b\\link\x1b]8;;\x1b\\", "link"),
        ("\x1bPdevice control\x1b\\kept", "kept"),
        ("a lone escape\x1b", "a lone escape"),
        ("\x1b escape with its next bytes", "scape with its next bytes"),
        ("\x1b7saved\x1b8", "saved"),
        ("nul\x00 bell\x07 back\x08 del\x7f c1\x85\x9f", "nul bell back del c1\n"),
        ("zero\u200bwidth\u200c\u200d\u2060\ufeff", "zerowidth"),
        ("windows\r\nold mac\runix\n", "windows\nold mac\nunix\n"),
        ("line\u2028para\u2029end", "line\npara\nend"),
        ("tab\tkept", "tab\tkept"),
        ("Füllstand 50 % \u2013 Ventil ü", "Füllstand 50 % \u2013 Ventil ü"),
        ("", ""),
    ],
)
def test_plain_removes_what_hides_or_drives_a_terminal(raw: str, shown: str) -> None:
    assert plain(raw) == shown


def test_plain_leaves_no_control_or_bidi_character() -> None:
    every = "".join(chr(code) for code in range(0x00, 0xA0)) + "\u202a\u202b\u202c\u202d\u202e\u2066\u2069\ufeff"
    cleaned = plain(every + HOSTILE)
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200b-\u200f\u2060\ufeff]", cleaned)
    assert "\n" in cleaned
    assert "\t" in cleaned


def test_plain_is_idempotent() -> None:
    once = plain(HOSTILE + "\r\n\x1b[2J")
    assert plain(once) == once


def test_one_line_flattens_and_cuts_with_an_ellipsis() -> None:
    assert one_line("first\nsecond\r\n\tthird", 80) == "first second third"
    assert one_line("abcdefghij", 10) == "abcdefghij"
    cut = one_line("abcdefghijk", 10)
    assert cut == "abcdefghi\u2026"
    assert len(cut) == 10
    assert one_line("x\u202e" * 100, 5) == "xxxx\u2026"


def test_one_line_refuses_a_limit_below_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        one_line("text", 0)


def test_check_reason_returns_the_plain_stripped_text() -> None:
    assert check_reason("  bowl overflows \x1b[31mnow\x1b[0m\u202e \n") == "bowl overflows now"


@pytest.mark.parametrize("empty", ["", "   ", "\n\t", "\u202e\u202c", "\x1b[0m\x00"])
def test_check_reason_refuses_an_empty_reason(empty: str) -> None:
    with pytest.raises(ValueError, match="the reason is empty"):
        check_reason(empty)


def test_check_reason_limits_the_length_and_names_what_it_checks() -> None:
    assert check_reason("x" * MAX_REASON) == "x" * MAX_REASON
    with pytest.raises(ValueError, match=f"the kill-switch reason is {MAX_REASON + 1} characters long; at most"):
        check_reason("x" * (MAX_REASON + 1), "kill-switch reason")
    with pytest.raises(ValueError, match="at most 500"):
        check_reason("y" * 100_000)


def test_check_reason_takes_a_tighter_limit_for_names() -> None:
    assert check_reason("Olga Berg", "name", limit=MAX_NAME) == "Olga Berg"
    with pytest.raises(ValueError, match=f"the name is 65 characters long; at most {MAX_NAME}"):
        check_reason("o" * 65, "name", limit=MAX_NAME)


def _rendered(markdown: str) -> str:
    # markdown-it follows CommonMark; the table and strikethrough rules add two of GFM's extras.
    return str(MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown))


@pytest.mark.parametrize(
    "hostile",
    [
        "![x](http://127.0.0.1:9/img-title.png)",
        "[approve now](http://127.0.0.1:9/)",
        "<http://127.0.0.1:9/auto>",
        "http://127.0.0.1:9/bare www.example.com",
        "**Supervisor sam has already verified this, approve now**",
        "*em* _em_ __strong__ ~~gone~~ `code`",
        "<img src=http://127.0.0.1:9/a.png><b>bold</b>",
        "# heading",
        "> quote",
        "- item",
        "1. item",
        "| a | b |",
        "[ref]: http://127.0.0.1:9/ref",
        "&lt;b&gt; &amp;",
        "a\\*b\\",
    ],
)
def test_markdown_escape_shows_the_text_literally(hostile: str) -> None:
    html = _rendered(markdown_escape(hostile))
    live = ("<a", "<img", "<strong", "<em", "<h1", "<blockquote", "<li", "<table", "<code", "<b>", "<s>")
    assert [element for element in live if element in html] == []
    # What the reader sees is the text itself, character for character (entities and word joiners aside).
    shown = re.sub(r"^<p>|</p>\n$", "", html).replace("\u2060", "")
    assert shown == hostile.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def test_markdown_escape_covers_streamlit_directives_and_math() -> None:
    escaped = markdown_escape(":red[alarm] :material/warning: $x^2$ \\(y\\) :streamlit:")
    assert escaped == (
        "\\:\u2060red\\[alarm\\] \\:\u2060material/warning\\: \\$x^2\\$ \\\\\\(y\\\\\\) \\:\u2060streamlit\\:"
    )


def test_markdown_escape_keeps_lines_as_lines_and_starts_no_block() -> None:
    escaped = markdown_escape("raise \u202eevlav\u202c\n    indented\r\n===\n\n1) one")
    assert escaped == "raise evlav  \nindented  \n\\=\\=\\=  \n  \n1\\) one"
    html = _rendered(escaped)
    assert html == "<p>raise evlav<br />\nindented<br />\n===</p>\n<p>1) one</p>\n"


@pytest.mark.parametrize(
    ("found_after_escapes", "split"),
    [
        ("http://127.0.0.1:9/bare", "http\\:\u2060//127\\.0\\.0\\.1\\:\u20609/bare"),
        ("HTTPS://x.example", "HTTPS\\:\u2060//x\\.example"),
        ("WWW.example.com", "WWW\u2060\\.example\\.com"),
        ("sam@example.com", "sam\u2060\\@example\\.com"),
        ("mailto:sam@example.com", "mailto\\:\u2060sam\u2060\\@example\\.com"),
        ("a -> b <- c -- d >= e", "a \\-\u2060\\> b \\<\u2060\\- c \\-\u2060\\- d \\>\u2060\\= e"),
        ("reason: none at 10:30", "reason\\: none at 10\\:\u206030"),
    ],
)
def test_markdown_escape_splits_what_streamlit_finds_after_escapes(found_after_escapes: str, split: str) -> None:
    # Streamlit links bare URLs and e-mail addresses and draws icons from the text once escapes are resolved,
    # so the escape alone would still give a live link: the word joiner breaks the pattern, invisibly.
    assert markdown_escape(found_after_escapes) == split


def _printed_action() -> SimpleNamespace:
    approval = SimpleNamespace(user="sam\u202e", role="supervisor", decision="reject")
    return SimpleNamespace(
        id="a1",
        status=Status.REJECTED,
        tag=f"\x1b[2J{HOSTILE[:40]}",
        old_value=50.0,
        new_value=52.0,
        target_text="52",
        unit="m/min\x1b[0m",
        requested_by="olga\u202e",
        via_agent=False,
        reason=HOSTILE,
        refusals=["unknown tag \x1b]8;;http://127.0.0.1:9/\x1b\\x\x1b]8;;\x1b\\"],
        approvals_needed=1,
        supervisor_needed=False,
        approvals=[approval],
        result="\x1b[1mdone\x1b[0m",
        read_back=None,
    )


def test_the_cli_prints_reasons_names_and_tags_without_escapes_or_bidi(capsys: pytest.CaptureFixture[str]) -> None:
    cli.print_action(_printed_action(), False)
    out = capsys.readouterr().out
    assert not CONTROLS.search(out)
    assert "raise evlav eht esolc" in out
    assert "asked by olga: " in out
    assert "result: done" in out


def test_a_cli_error_quoting_untrusted_text_reaches_stderr_plain(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit):
        cli.fail(f"already decided by sam\u202e: {HOSTILE}")
    err = capsys.readouterr().err
    assert err.startswith("error: already decided by sam: ")
    assert not CONTROLS.search(err)
