"""A progress bar for long ingests (tqdm on stderr, silent when not a terminal)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def bar(items: Iterable[T], *, total: int, label: str, enabled: bool) -> Iterator[T]:
    # disable=None lets tqdm turn itself off when stderr is not a terminal (CI logs, pipes).
    yield from tqdm(items, total=total, desc=label, unit="file", disable=None if enabled else True, leave=False)
