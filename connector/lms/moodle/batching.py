"""Batch mechanics shared by the Moodle writes: bisection of refused batches and pacing."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from connector.errors import RemoteError

Row = TypeVar("Row")


def bisect(
    batch: list[Row],
    apply: Callable[[list[Row]], None],
    refused: Callable[[Row, RemoteError], None],
) -> None:
    """Apply a batch that Moodle takes all-or-nothing; on a refusal split it in halves until
    each refused row stands alone. Only :class:`RemoteError` is a row problem: a run-stopping
    error (token, access, availability) propagates at once.

    Cost: one request for a good batch; for ``k`` bad rows in a batch of ``n``, at most
    ``1 + 2·k·ceil(log2 n)`` requests."""
    try:
        apply(batch)
    except RemoteError as exc:
        if len(batch) == 1:
            refused(batch[0], exc)
            return
        middle = len(batch) // 2
        bisect(batch[:middle], apply, refused)
        bisect(batch[middle:], apply, refused)


def paced(
    batches: Iterable[list[Row]],
    pause: float,
    sleep: Callable[[float], None] | None = None,
) -> Iterator[list[Row]]:
    """The batches, with ``pause`` seconds between two of them (throttling courtesy)."""
    for index, batch in enumerate(batches):
        if index and pause > 0:
            (sleep or time.sleep)(pause)
        yield batch
