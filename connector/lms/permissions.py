"""What a target's account may do and see, as read-only probes find it (``upskill target check``).

A target that can tell more than the functions its token may call implements
:class:`PermissionProbe`; the connection check itself (:meth:`LmsTarget.check`) stays one cheap
request, because every run does it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Permission:
    """One thing the account must be able to do or see. ``ok`` is None when the probe could not
    tell (the function is not in the service, no course to look at); ``fix`` says what to grant
    or set when it is False; ``seen`` what the probe was answered."""

    what: str
    ok: bool | None
    fix: str = ""
    seen: str = ""


@runtime_checkable
class PermissionProbe(Protocol):
    def permissions(
        self, course_refs: Sequence[str], *, reconcile: bool = False
    ) -> list[Permission]:
        """Probe, changing nothing, what the enabled features need; ``course_refs`` are the
        target's courses of the bundles (one of them is looked at)."""
        ...


MARKS = {True: "ok", False: "MISSING", None: "unknown"}


def describe(found: Sequence[Permission]) -> list[str]:
    """One line per permission, with what to do under a missing one and what was seen under
    one that could not be told."""
    lines = []
    for permission in found:
        lines.append(f"  {MARKS[permission.ok]:<8} {permission.what}")
        if permission.ok is False and permission.fix:
            lines.append(f"           fix: {permission.fix}")
        if permission.ok is not True and permission.seen:
            lines.append(f"           seen: {permission.seen}")
    return lines
