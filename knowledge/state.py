"""What has been ingested into a collection: one entry per source file, written atomically."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from knowledge.errors import IndexUnavailable


@dataclass(frozen=True, kw_only=True)
class IngestedFile:
    doc_id: str
    source: str  # as given on the command line
    sha256: str
    title: str
    chunk_ids: list[str]
    record_ids: list[str]
    ingested_at: str


class IngestState:
    """`manifest.json` beside the index; the key is the file's resolved absolute path."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.files: dict[str, IngestedFile] = {}
        if path.is_file():
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
                self.files = {key: IngestedFile(**value) for key, value in raw.items()}
            except (OSError, ValueError, TypeError) as err:
                raise IndexUnavailable(
                    f"the ingest manifest {path} is damaged ({err}); move it away and ingest again"
                ) from err

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({k: asdict(v) for k, v in self.files.items()}, indent=1), encoding="utf-8")
            os.replace(tmp, self.path)  # atomic: a crash leaves the old manifest or the new one, never half
        except OSError as err:
            raise IndexUnavailable(f"cannot write {self.path}: {err.strerror or err}") from err
