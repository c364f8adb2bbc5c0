"""The executor: applies a plan to each target in batches, journaling every change.

Every change of the plan is written to the journal as ``planned`` before anything is sent.
Each batch is marked ``sent`` before its request, and one transaction then records the
outcome (``done`` or ``failed`` with the target's error) together with the new state
(accounts, enrollments). A crash between the two leaves the batch ``sent`` and the state
unchanged, so the next run plans it again; every target write is idempotent for the same
intent (accounts are looked up before creation, enrolments carry their full status), so the
rerun neither duplicates nor loses a change.

Before the first write to a target the executor checks the connection, the token's
functions and that every course of the plan exists, so a bad token, a missing service
function or a renamed course stops the run with nothing written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from connector.errors import AccessDenied, UserError
from connector.lms import BatchOutcome, EnrollRow, LmsTarget, row_key
from connector.model import Change, ChangeKind, EnrollmentStatus, Person, Plan
from connector.store import Store

log = logging.getLogger(__name__)

BATCH_SIZE = 500

_STATUS_AFTER: Mapping[ChangeKind, EnrollmentStatus] = {
    ChangeKind.ENROLL: EnrollmentStatus.ACTIVE,
    ChangeKind.REVIVE: EnrollmentStatus.ACTIVE,
    ChangeKind.SUSPEND: EnrollmentStatus.SUSPENDED,
    ChangeKind.UNENROLL: EnrollmentStatus.REMOVED,
}


@dataclass(slots=True)
class ApplyResult:
    """What one apply did, per change kind."""

    done: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[Change, str, str]] = field(default_factory=list)  # change, code, msg
    writes_sent: int = 0

    def add(self, kind: ChangeKind, done: int, failed: int) -> None:
        self.done[kind.value] = self.done.get(kind.value, 0) + done
        self.failed[kind.value] = self.failed.get(kind.value, 0) + failed

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())


def _batches(items: Sequence[Change], size: int) -> Iterator[Sequence[Change]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Executor:
    """Applies plans to LMS targets, journaled in the store."""

    def __init__(
        self,
        store: Store,
        targets: Mapping[str, LmsTarget],
        people: Mapping[str, Person],
        *,
        batch_size: int | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.targets = targets
        self.people = people
        self.batch_size = batch_size or BATCH_SIZE
        self.clock = clock

    def preflight(self, plan: Plan) -> dict[str, dict[str, str]]:
        """Check every target the plan writes to; return course ids per target."""
        course_ids: dict[str, dict[str, str]] = {}
        for name in sorted({c.target for c in plan.changes}):
            target = self.targets[name]
            info = target.check()
            if info.missing_functions:
                raise AccessDenied(
                    f"{name}: the token's service lacks {', '.join(info.missing_functions)}; "
                    "add these functions to the external service in Site administration > "
                    "Server > Web services > External services"
                )
            refs = sorted({c.course_ref for c in plan.changes if c.target == name and c.course_ref})
            found = target.course_ids(refs) if refs else {}
            missing = [r for r in refs if r not in found]
            if missing:
                raise UserError(
                    f"{name}: {len(missing)} course(s) of the bundles do not exist on the target: "
                    f"{', '.join(missing)}. Create them (short name as given) or correct the "
                    "course references in mappings/bundles.yaml; nothing was written."
                )
            course_ids[name] = found
        return course_ids

    def apply(self, run_id: int, plan: Plan) -> ApplyResult:
        result = ApplyResult()
        if plan.is_empty:
            return result
        course_ids = self.preflight(plan)
        self.store.journal_plan(run_id, plan.changes)
        writes_before = {n: t.stats.writes for n, t in self.targets.items()}
        try:
            for name in sorted(course_ids):
                self._apply_target(run_id, name, plan, course_ids[name], result)
        finally:
            result.writes_sent = sum(
                t.stats.writes - writes_before[n] for n, t in self.targets.items()
            )
        return result

    def _apply_target(
        self,
        run_id: int,
        name: str,
        plan: Plan,
        course_ids: Mapping[str, str],
        result: ApplyResult,
    ) -> None:
        target = self.targets[name]
        accounts = dict(self.store.accounts(name))
        by_kind: dict[ChangeKind, list[Change]] = {}
        for change in plan.changes:
            if change.target == name:
                by_kind.setdefault(change.kind, []).append(change)

        for batch in _batches(by_kind.get(ChangeKind.CREATE_USER, []), self.batch_size):
            self.store.journal_mark(run_id, [c.ident for c in batch], "sent")
            people = [self.people[c.person_key] for c in batch]
            outcome = target.ensure_users(people)
            accounts.update(outcome.done)
            self._commit(
                run_id,
                name,
                ChangeKind.CREATE_USER,
                batch,
                outcome,
                result,
                key=lambda c: c.person_key,
                accounts=outcome.done,
            )

        for kind in (ChangeKind.ENROLL, ChangeKind.REVIVE, ChangeKind.SUSPEND, ChangeKind.UNENROLL):
            for batch in _batches(by_kind.get(kind, []), self.batch_size):
                self._apply_enrollments(
                    run_id, name, target, kind, batch, accounts, course_ids, result
                )

    def _apply_enrollments(
        self,
        run_id: int,
        name: str,
        target: LmsTarget,
        kind: ChangeKind,
        batch: Sequence[Change],
        accounts: Mapping[str, str],
        course_ids: Mapping[str, str],
        result: ApplyResult,
    ) -> None:
        rows: list[EnrollRow] = []
        blocked: dict[str, tuple[str, str]] = {}
        for change in batch:
            user_id = accounts.get(change.person_key)
            ref = change.course_ref or ""
            if user_id is None:
                blocked[change.ident] = (
                    "noaccount",
                    f"no {name} account for {change.person_key} (its creation failed)",
                )
                continue
            active = kind in (ChangeKind.ENROLL, ChangeKind.REVIVE)
            rows.append(EnrollRow(change.person_key, user_id, ref, course_ids[ref], active))
        self.store.journal_mark(run_id, [c.ident for c in batch], "sent")
        outcome = BatchOutcome()
        if rows:
            send = {
                ChangeKind.ENROLL: target.enroll,
                ChangeKind.REVIVE: target.enroll,
                ChangeKind.SUSPEND: target.suspend,
                ChangeKind.UNENROLL: target.unenroll,
            }[kind]
            outcome = send(rows)
        status = _STATUS_AFTER[kind]
        enrollments = [
            (c.person_key, c.course_ref or "", status, c.persona)
            for c in batch
            if row_key(c.person_key, c.course_ref or "") in outcome.done
        ]
        self._commit(
            run_id,
            name,
            kind,
            batch,
            outcome,
            result,
            key=lambda c: row_key(c.person_key, c.course_ref or ""),
            enrollments=enrollments,
            blocked=blocked,
        )

    def _commit(
        self,
        run_id: int,
        name: str,
        kind: ChangeKind,
        batch: Sequence[Change],
        outcome: BatchOutcome,
        result: ApplyResult,
        *,
        key: Callable[[Change], str],
        accounts: Mapping[str, str] | None = None,
        enrollments: Sequence[tuple[str, str, EnrollmentStatus, str | None]] = (),
        blocked: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:
        done: list[Change] = []
        failed: dict[str, tuple[str, str]] = dict(blocked or {})
        for change in batch:
            if change.ident in failed:
                continue
            k = key(change)
            if k in outcome.done:
                done.append(change)
            else:
                failure = outcome.failed.get(k)
                failed[change.ident] = (
                    (failure.errorcode, failure.message)
                    if failure
                    else ("noresult", f"{name} gave no result for this row")
                )
        self.store.commit_batch(
            run_id,
            name,
            done=done,
            failed=failed,
            accounts=accounts or {},
            enrollments=enrollments,
            at=self.clock(),
        )
        by_ident = {c.ident: c for c in batch}
        for ident, (code, message) in failed.items():
            result.failures.append((by_ident[ident], code, message))
            log.warning("%s %s %s failed: %s %s", name, kind.value, ident, code, message)
        result.add(kind, len(done), len(failed))
