"""The small text builders the pages share, checked without a page around them."""

from __future__ import annotations

import dataclasses

from console.widgets import document_line
from tests.console.test_chat_page import CITATION


def test_the_document_line_names_kind_revision_and_file_only() -> None:
    assert document_line(CITATION) == "manual · revision C · conveyors\\-manual\\.md"


def test_a_missing_revision_is_left_out_rather_than_shown_as_a_dash() -> None:
    record = dataclasses.replace(CITATION, revision="", doc_type="troubleshooting_guide", source="/a/b/fill_level.pdf")
    assert document_line(record) == "troubleshooting guide · fill\\_level\\.pdf"
