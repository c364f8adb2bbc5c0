"""Reviewed plans: save a plan with the fingerprint of everything it was computed from, and
apply exactly that plan later, or refuse when anything moved in between.

The fingerprint covers the directory snapshot (people and groups), the state database's view
(accounts, enrollments, grace periods, removals and suspensions by hand) and the mappings
version. Applying a saved plan (``upskill sync --approve-plan FILE``) recomputes the plan and
refuses when the fingerprint differs or when any field a reviewer reads in the file differs
from the plan computed now: the counts, every change with its persona and reason, the rows
skipped and the changes held. So the plan applied is always the one that was read, never a
file edited after it was saved. An approved plan passes the safety guards, since a person has
reviewed it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connector.errors import InputError, SafetyStop
from connector.model import Plan, Snapshot
from connector.sync.state import State

FORMAT = "upskill-plan/1"
MAX_PLAN_BYTES = 500_000_000


def _digest(rows: list[Any]) -> str:
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(row, separators=(",", ":"), default=str).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def snapshot_digest(snapshot: Snapshot) -> str:
    people = [
        [
            p.key,
            p.email,
            p.first_name,
            p.last_name,
            p.department,
            p.title,
            p.manager_key,
            p.status.value,
            sorted(p.groups),
            sorted(p.attributes.items()),
        ]
        for _, p in sorted(snapshot.people.items())
    ]
    groups = [[name, sorted(g.parents)] for name, g in sorted(snapshot.groups.items())]
    return _digest([*people, *groups])


def state_digest(state: State) -> str:
    rows: list[Any] = [
        ["a", target, key, remote]
        for target, accounts in sorted(state.accounts.items())
        for key, remote in sorted(accounts.items())
    ]
    rows += [
        ["e", *ident, e.status.value, e.persona] for ident, e in sorted(state.enrollments.items())
    ]
    rows += [["g", *ident, since] for ident, since in sorted(state.unwanted_since.items())]
    rows += [["w", *ident, at] for ident, at in sorted(state.withdrawn.items())]
    rows += [["s", *ident, at] for ident, at in sorted(state.hand_suspended.items())]
    return _digest(rows)


@dataclass(frozen=True, slots=True)
class Fingerprint:
    snapshot: str
    state: str
    mappings: str

    def differences(self, other: Fingerprint) -> list[str]:
        names = {
            "snapshot": "the directory read",
            "state": "the state database",
            "mappings": "the mappings",
        }
        return [text for key, text in names.items() if getattr(self, key) != getattr(other, key)]


def fingerprint(snapshot: Snapshot, state: State, mappings_hash: str) -> Fingerprint:
    return Fingerprint(snapshot_digest(snapshot), state_digest(state), mappings_hash)


def change_idents(plan: Plan) -> list[str]:
    return [change.ident for change in plan.changes]


def saved_plan(plan_document: Mapping[str, Any], print_: Fingerprint) -> dict[str, Any]:
    """The document ``--save`` writes: the plan's JSON plus format and fingerprint."""
    return {
        "format": FORMAT,
        "fingerprint": {
            "snapshot": print_.snapshot,
            "state": print_.state,
            "mappings": print_.mappings,
        },
        **plan_document,
    }


@dataclass(frozen=True, slots=True)
class ApprovedPlan:
    """A saved plan read back: what was reviewed."""

    path: str
    fingerprint: Fingerprint
    idents: tuple[str, ...]
    reviewed: Mapping[str, Any] | None = None  # what the reviewer read: the plan's JSON body


def read_approved(path: Path) -> ApprovedPlan:
    """Read a plan saved by ``upskill plan --save``; a user error names what is wrong."""
    where = path.as_posix()
    try:
        if path.stat().st_size > MAX_PLAN_BYTES:
            raise InputError(f"{where}: too large to be a saved plan")
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(
            f"{where}: no such plan file; save one with `upskill plan --save`"
        ) from exc
    except OSError as exc:
        raise InputError(f"{where}: cannot be read ({exc.strerror})") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{where}: not a saved plan (invalid JSON: {exc})") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InputError(
            f"{where}: not a plan saved by `upskill plan --save` (format {FORMAT} expected)"
        )
    try:
        raw = document["fingerprint"]
        print_ = Fingerprint(str(raw["snapshot"]), str(raw["state"]), str(raw["mappings"]))
        idents = tuple(
            f"{c['target']}:{c['kind']}:{c['person']}:{c['course'] or ''}"
            for c in document["changes"]
        )
    except (KeyError, TypeError) as exc:
        raise InputError(f"{where}: the saved plan is incomplete ({exc}); save it again") from exc
    reviewed = {k: v for k, v in document.items() if k not in ("format", "fingerprint")}
    return ApprovedPlan(where, print_, idents, reviewed)


def verify(approved: ApprovedPlan, plan: Plan, current: Fingerprint) -> None:
    """Refuse (SafetyStop) unless ``plan`` computed now is exactly the approved one."""
    moved = approved.fingerprint.differences(current)
    if moved:
        raise SafetyStop(
            f"the plan in {approved.path} was reviewed against another state: "
            + ", ".join(moved)
            + " changed since it was saved; nothing was written. Review the new plan and save "
            "it again (`upskill plan --save FILE`)."
        )
    now = tuple(change_idents(plan))
    if now != approved.idents:
        extra = len(set(now) - set(approved.idents))
        missing = len(set(approved.idents) - set(now))
        raise SafetyStop(
            f"the plan computed now differs from the one in {approved.path} ({extra} change(s) "
            f"not in it, {missing} missing; a grace period or an override may have ended); "
            "nothing was written. Review and save the plan again."
        )
    if approved.reviewed is not None:
        from connector.sync.plan_text import plan_json

        where = first_difference(approved.reviewed, json.loads(plan_json(plan)))
        if where is not None:
            field, saved, computed = where
            raise SafetyStop(
                f"the plan in {approved.path} does not say what the plan computed now says: "
                f"{field} reads {_short(saved)} in the file but is {_short(computed)} now (the "
                "file was edited after it was saved?); nothing was written. Review the plan and "
                "save it again (`upskill plan --save FILE`)."
            )


def first_difference(saved: Any, computed: Any, path: str = "") -> tuple[str, Any, Any] | None:
    """The first place (``changes[3].persona``) where two JSON documents differ, with both
    values; None when they are equal."""
    if isinstance(saved, dict) and isinstance(computed, dict):
        for key in sorted(set(saved) | set(computed)):
            found = first_difference(
                saved.get(key), computed.get(key), f"{path}.{key}" if path else key
            )
            if found is not None:
                return found
        return None
    if isinstance(saved, list) and isinstance(computed, list):
        for index in range(max(len(saved), len(computed))):
            found = first_difference(
                saved[index] if index < len(saved) else None,
                computed[index] if index < len(computed) else None,
                f"{path}[{index}]",
            )
            if found is not None:
                return found
        return None
    return None if saved == computed else (path or "the document", saved, computed)


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."
