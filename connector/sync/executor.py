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

Per target the order is: accounts, enrollments, revivals, then ``before_removals`` (the sync
collects the completions of the enrollments about to go: Moodle no longer reports completion
of a suspended enrolment), then suspensions and unenrolments.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from connector.errors import AccessDenied, UserError
from connector.lms import (
    AccountLifecycle,
    BatchOutcome,
    CourseModes,
    EnrollRow,
    LmsTarget,
    ProfileSync,
    VerifiedWrites,
    row_key,
)
from connector.model import Change, ChangeKind, EnrollmentStatus, Person, PersonStatus, Plan
from connector.monitoring.stages import stage
from connector.store import Store

log = logging.getLogger(__name__)

BATCH_SIZE = 4000
"""Most changes journaled and sent together; a target may ask for fewer (``preferred_batch``:
the Moodle target asks for what one request's lookups can hold)."""

_STATUS_AFTER: Mapping[ChangeKind, EnrollmentStatus] = {
    ChangeKind.MOVE: EnrollmentStatus.ACTIVE,
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
    stopped: str | None = None  # why the apply stopped between batches (None: it finished)
    created: dict[str, set[str]] = field(default_factory=dict)  # target -> accounts it made

    def add(self, kind: ChangeKind, done: int, failed: int) -> None:
        self.done[kind.value] = self.done.get(kind.value, 0) + done
        self.failed[kind.value] = self.failed.get(kind.value, 0) + failed

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())


class _Stop(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_AS_STATUS: Mapping[str, EnrollmentStatus] = {s.value: s for s in EnrollmentStatus}


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
        due_days: Mapping[tuple[str, str], int] | None = None,
        reconcile: bool = False,
        before_removals: Callable[[str, Sequence[Change]], None] | None = None,
        should_stop: Callable[[], str | None] | None = None,
    ) -> None:
        self.store = store
        self.should_stop = should_stop  # asked before each batch: a reason stops the apply
        self.last_result = ApplyResult()
        self.course_ids: dict[str, dict[str, str]] = {}  # per target, resolved by preflight
        self.targets = targets
        self.people = people
        self.batch_size = batch_size or BATCH_SIZE
        self.clock = clock
        self.due_days = due_days or {}  # (target, course ref) → days: sent as timeend
        self.reconcile = reconcile
        self.before_removals = before_removals  # (target, removal changes), before they go

    def preflight(self, plan: Plan) -> dict[str, dict[str, str]]:
        """Check every target the plan writes to; return course ids per target."""
        course_ids: dict[str, dict[str, str]] = {}
        for name in sorted({c.target for c in plan.changes}):
            target = self.targets[name]
            info = target.check(reconcile=True) if self.reconcile else target.check()
            if info.missing_functions:
                lacking = ", ".join(
                    f"{f} (for {info.needed_by[f]})" if f in info.needed_by else f
                    for f in info.missing_functions
                )
                raise AccessDenied(
                    f"{name}: the token's service lacks {lacking}; "
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

    def _check_stop(self) -> None:
        reason = self.should_stop() if self.should_stop is not None else None
        if reason is not None:
            raise _Stop(reason)

    def apply(self, run_id: int, plan: Plan) -> ApplyResult:
        """Apply ``plan``; :attr:`last_result` holds what was applied even when it raises.
        Between batches it asks ``should_stop``; a reason stops it (``result.stopped``)."""
        result = self.last_result = ApplyResult()
        if plan.is_empty and not self.reconcile:
            return result
        course_ids = self.preflight(plan) if not plan.is_empty else {}
        self.course_ids = course_ids
        if plan.changes:
            self.store.journal_plan(run_id, plan.changes)
        writes_before = {n: t.stats.writes for n, t in self.targets.items()}
        try:
            for name in sorted(course_ids):
                self._apply_target(run_id, name, plan, course_ids[name], result)
            if self.reconcile:
                self._check_stop()
                self._sync_profiles()
        except _Stop as stop:
            result.stopped = stop.reason
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

        hint = getattr(target, "preferred_batch", None)
        size = min(self.batch_size, hint) if isinstance(hint, int) and hint > 0 else self.batch_size
        creating = by_kind.get(ChangeKind.CREATE_USER, [])
        with stage(f"apply {name} create_user", total=len(creating), unit="change") as shown:
            for batch in _batches(creating, size):
                self._check_stop()
                self.store.journal_mark(run_id, [c.ident for c in batch], "sent")
                people = [self.people[c.person_key] for c in batch]
                outcome = target.ensure_users(people)
                accounts.update(outcome.done)
                result.created.setdefault(name, set()).update(outcome.created)
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
                shown.advance(len(batch))

        removing = [*by_kind.get(ChangeKind.SUSPEND, []), *by_kind.get(ChangeKind.UNENROLL, [])]
        kinds = (ChangeKind.MOVE, ChangeKind.ENROLL, ChangeKind.REVIVE, ChangeKind.SUSPEND,
                 ChangeKind.UNENROLL)  # fmt: skip
        for kind in kinds:
            if kind is ChangeKind.SUSPEND and removing and self.before_removals is not None:
                self.before_removals(name, removing)
            changes = by_kind.get(kind, [])
            if not changes:
                continue
            with stage(f"apply {name} {kind.value}", total=len(changes), unit="change") as shown:
                for batch in _batches(changes, size):
                    self._check_stop()
                    self._apply_enrollments(
                        run_id, name, target, kind, batch, accounts, course_ids, result
                    )
                    shown.advance(len(batch))
        if isinstance(target, VerifiedWrites):
            self._verify(run_id, name, target, plan, result)
        if isinstance(target, AccountLifecycle):
            self._suspend_leavers(name, target, by_kind, accounts)

    def _sync_profiles(self) -> None:
        """In a reconciling run: bring account names and e-mails in step with the directory."""
        for name, target in sorted(self.targets.items()):
            if not isinstance(target, ProfileSync):
                continue
            profiles = target.update_profiles(self.people, self.store.accounts(name))
            for key, failure in profiles.warnings.items():
                log.warning("%s: account of %s not updated: %s", name, key, failure.message)
            if profiles.done:
                log.info("%s: %d account(s) updated from the directory", name, len(profiles.done))

    def _verify(
        self, run_id: int, name: str, target: VerifiedWrites, plan: Plan, result: ApplyResult
    ) -> None:
        """Read back what the writes should have done; a shortfall becomes a failure of its
        change, and the state records what the target actually has, so the next run plans
        the write again."""
        shortfall = target.verify_writes()
        if not shortfall:
            return
        by_key = {
            row_key(c.person_key, c.course_ref or ""): c
            for c in plan.changes
            if c.target == name and c.course_ref
        }
        actual = {"active": EnrollmentStatus.ACTIVE, "suspended": EnrollmentStatus.SUSPENDED}
        failed: dict[str, tuple[str, str]] = {}
        repaired: list[tuple[str, str, EnrollmentStatus, str | None]] = []
        for item in shortfall:
            change = by_key.get(item.key)
            if change is None:
                continue
            failed[change.ident] = (item.failure.errorcode, item.failure.message)
            status = actual.get(item.actual, EnrollmentStatus.REMOVED)
            repaired.append((change.person_key, change.course_ref or "", status, change.persona))
            result.failures.append((change, item.failure.errorcode, item.failure.message))
            result.done[change.kind.value] = max(result.done.get(change.kind.value, 0) - 1, 0)
            result.failed[change.kind.value] = result.failed.get(change.kind.value, 0) + 1
            log.error("%s %s: %s", name, change.ident, item.failure.message)
        self.store.commit_batch(
            run_id, name, done=[], failed=failed, enrollments=repaired, at=self.clock()
        )

    def _suspend_leavers(
        self,
        name: str,
        target: AccountLifecycle,
        by_kind: Mapping[ChangeKind, list[Change]],
        accounts: Mapping[str, str],
    ) -> None:
        """Suspend the accounts of people who left (or vanished) and lost their enrollments
        in this run, and reactivate those of people revived in it; the target decides whether
        that is configured."""
        leavers = {
            c.person_key: accounts[c.person_key]
            for kind in (ChangeKind.SUSPEND, ChangeKind.UNENROLL)
            for c in by_kind.get(kind, [])
            if c.person_key in accounts
            and (
                c.person_key not in self.people
                or self.people[c.person_key].status is PersonStatus.LEFT
            )
        }
        if leavers:
            outcome = target.suspend_accounts(leavers)
            for key, failure in outcome.failed.items():
                log.warning("%s: leaver %s not suspended: %s", name, key, failure.message)
        returning = {
            c.person_key: accounts[c.person_key]
            for c in by_kind.get(ChangeKind.REVIVE, [])
            if c.person_key in accounts
        }
        if returning:  # a leaver who came back: their account is usable again
            outcome = target.reactivate_accounts(returning)
            for key, failure in outcome.failed.items():
                log.warning("%s: account of %s not reactivated: %s", name, key, failure.message)

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
            active = kind in (ChangeKind.MOVE, ChangeKind.ENROLL, ChangeKind.REVIVE)
            days = self.due_days.get((name, ref)) if active else None
            timeend = int(self.clock().timestamp()) + days * 86_400 if days else 0
            rows.append(
                EnrollRow(change.person_key, user_id, ref, course_ids[ref], active, 0, timeend)
            )
        self.store.journal_mark(run_id, [c.ident for c in batch], "sent")
        outcome = BatchOutcome()
        if rows and kind is ChangeKind.MOVE and not isinstance(target, CourseModes):
            blocked.update((c.ident, ("nomodes", f"{name} cannot move enrollments")) for c in batch)
        elif rows:
            send = {
                ChangeKind.MOVE: target.move if isinstance(target, CourseModes) else target.enroll,
                ChangeKind.ENROLL: target.enroll,
                ChangeKind.REVIVE: target.enroll,
                ChangeKind.SUSPEND: target.suspend,
                ChangeKind.UNENROLL: target.unenroll,
            }[kind]
            outcome = send(rows)
        # the status the target reports (a removal through cohort sync may suspend), else
        # the one the change asks for
        enrollments = [
            (
                c.person_key,
                c.course_ref or "",
                _AS_STATUS.get(outcome.done[key], _STATUS_AFTER[kind]),
                c.persona,
            )
            for c in batch
            if (key := row_key(c.person_key, c.course_ref or "")) in outcome.done
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
        skip = frozenset(failed)  # a change's ident is worked out only when some are blocked
        for change in batch:
            if skip and change.ident in skip:
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
        by_ident = {c.ident: c for c in batch} if failed else {}
        for ident, (code, message) in failed.items():
            result.failures.append((by_ident[ident], code, message))
            log.warning("%s %s %s failed: %s %s", name, kind.value, ident, code, message)
        result.add(kind, len(done), len(failed))
