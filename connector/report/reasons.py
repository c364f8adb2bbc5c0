"""Reason classes of directory rows that could not be used: what a report may say about them.

A report tells its readers how many rows could not be used and why, by class; the names,
keys and e-mail addresses in the problems go to the administrators' summary only
(:mod:`connector.report.admin`), never to a leader's or the organisation's report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from connector.model import RecordProblem, Unusable

NO_EMAIL = Unusable.NO_EMAIL.value
BAD_EMAIL = Unusable.BAD_EMAIL.value
SHARED_EMAIL = Unusable.SHARED_EMAIL.value
NO_KEY = Unusable.NO_KEY.value
UNKNOWN_STATUS = Unusable.UNKNOWN_STATUS.value
DUPLICATE_KEY = "key of another row"
MANAGER = "manager not in the directory or in a cycle"
OTHER = "other problem in the row"

# (words in the message, class): the first that matches wins; checked in order.
_RULES: tuple[tuple[str, str], ...] = (
    ("manager", MANAGER),
    ("is not an e-mail address", BAD_EMAIL),
    ("invalid e-mail address", BAD_EMAIL),
    ("already used by", SHARED_EMAIL),
    ("also used by", SHARED_EMAIL),
    ("uses the e-mail", SHARED_EMAIL),
    ("shares the e-mail", SHARED_EMAIL),
    ("unknown status", UNKNOWN_STATUS),
    ("duplicate", DUPLICATE_KEY),
)


def reason_class(problem: RecordProblem) -> str:
    """The class of one problem (its words, never its names)."""
    text = problem.message.casefold()
    field = (problem.field or "").casefold()
    if " has no " in text and field in text and "mail" in field:
        return NO_EMAIL
    if field and "mail" not in field:
        if text.startswith(("no ", "has no id")):  # "no employee_id", "no usable objectGUID"
            return NO_KEY
        if f"unknown {field} " in text:  # the HR export's status column, by its name
            return UNKNOWN_STATUS
    for words, cls in _RULES:
        if words in text:
            return cls
    if "no e-mail" in text or "no email" in text or "no mail" in text:
        return NO_EMAIL
    return OTHER


def skipped_rows(problems: Iterable[RecordProblem]) -> tuple[tuple[str, int], ...]:
    """How many rows were skipped per reason class (rows kept with a warning not counted),
    most first."""
    counts = Counter(reason_class(p) for p in problems if is_skipped(p))
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


_KEPT = ("this row is kept", "this entry is kept", "this record is kept")


def is_skipped(problem: RecordProblem) -> bool:
    """A problem that skipped its row; not the warning on the row kept of a pair (whose
    partner's message, "row skipped (line 53 is kept …)", is the skipped one)."""
    text = problem.message.casefold()
    return "skipped" in text and not any(kept in text for kept in _KEPT)
