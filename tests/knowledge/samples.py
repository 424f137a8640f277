"""Small documents of every format, written by the tests themselves (the bad ones too)."""

from __future__ import annotations

import io
from pathlib import Path

import docx
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Table

MARKDOWN = """\
---
title: Sample Filler Manual
doc_type: manual
equipment: filler
revision: B
---
# Sample Filler Manual

## Operation

The filler bowl holds product at a steady level while the valves open in turn.

1. Close the guard doors.
2. Start the bowl refill.
3. Start the carousel at crawl speed.

## Troubleshooting

| Symptom | Probable cause | Remedy | Related tags |
|---|---|---|---|
| Bowl level falls slowly | Leaking filling valve seal | Replace the valve seal | filler.bowl_level |
| Fill weight spread high | Worn valve spring | Replace the spring | filler.fill_weight_std |

```
ZX-9 diagnostic dump: keep this block whole
line two of the dump
```
"""

RST = """\
Sample Air Manual
=================

:doc_type: manual
:equipment: air
:revision: A

Alarm codes
-----------

.. list-table::
   :header-rows: 1

   * - Code
     - Message
     - Probable cause
     - Remedy
   * - QQ-777
     - Header pressure low
     - Compressor intake filter blocked
     - Change the intake filter

Start-up
--------

#. Open the receiver drain.
#. Start the compressor.

.. include:: /etc/passwd
"""

HTML = """\
<html><head><title>Sample Packer Manual</title><meta name="doc_type" content="manual">
<meta name="equipment" content="case_packer"></head>
<body><h1>Sample Packer Manual</h1>
<h2>Glue system</h2><p>The glue tank keeps hot melt at its working temperature.</p>
<script>alert('never indexed')</script>
<ol><li>Heat the tank.</li><li>Purge the nozzles.</li></ol>
</body></html>
"""

TEXT = """\
Title: Sample Lockout SOP
Type: sop
Equipment: line

PURPOSE

Make every energy source safe before hands go into a machine.

STEPS

1. Tell the operators on the line.
2. Stop the machine at its panel.
3. Lock the isolator and hang your tag.
"""


def write_docx(path: Path) -> None:
    document = docx.Document()
    document.core_properties.title = "Sample Clutch WI"
    document.core_properties.subject = "work_instruction"
    document.core_properties.keywords = "equipment=capper; revision=D"
    document.add_heading("Sample Clutch WI", level=1)
    document.add_heading("Steps", level=2)
    for step in ("Lock out the capper.", "Remove the head guard.", "Swap the clutch."):
        document.add_paragraph(step, style="List Number")
    table = document.add_table(rows=2, cols=4)
    for cell, text in zip(table.rows[0].cells, ("Symptom", "Probable cause", "Remedy", "Related tags"), strict=True):
        cell.text = text
    for cell, text in zip(
        table.rows[1].cells, ("Caps loose", "Clutch worn", "Replace clutch", "capper.torque"), strict=True
    ):
        cell.text = text
    document.save(str(path))


def write_pdf(path: Path) -> None:
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, invariant=1)
    story = [
        Paragraph("Sample Chiller Manual", styles["Heading1"]),
        Paragraph("Overview", styles["Heading2"]),
        Paragraph("The chiller keeps the product cooler supplied with water at five degrees.", styles["Normal"]),
        PageBreak(),
        Paragraph("Troubleshooting", styles["Heading2"]),
        Table(
            [
                ["Symptom", "Probable cause", "Remedy", "Related tags"],
                ["Supply water warm", "Strainer clogged", "Clean the strainer", "chiller.filter_dp"],
            ],
            style=[("GRID", (0, 0), (-1, -1), 0.5, "black")],
        ),
    ]
    doc.build(story)
    path.write_bytes(buffer.getvalue())


def write_all(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "md": folder / "filler.md",
        "rst": folder / "air.rst",
        "html": folder / "packer.html",
        "txt": folder / "lockout.txt",
        "docx": folder / "clutch.docx",
        "pdf": folder / "chiller.pdf",
    }
    files["md"].write_text(MARKDOWN, encoding="utf-8")
    files["rst"].write_text(RST, encoding="utf-8")
    files["html"].write_text(HTML, encoding="utf-8")
    files["txt"].write_text(TEXT, encoding="utf-8")
    write_docx(files["docx"])
    write_pdf(files["pdf"])
    return files
