"""One run of the nightly sync: read, assign, plan, apply, collect — journaled as a run.

Steps 1–4 (read, assign, desire, plan) are pure and free (:mod:`connector.sync.prepare`);
only :func:`sync` without ``dry_run`` contacts the targets. Every run, dry or not, is recorded
in the state database with its outcome, the mappings version it used and the rows it skipped;
a run that fails is recorded as failed with its message, so a sync never fails silently.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from connector.config import Settings
from connector.errors import ConfigError, Interrupted, SafetyStop, UpskillError, UserError
from connector.lms import CourseModes, LmsTarget, RequestStats, request_counts
from connector.lms.reconcile import HandRemovalLimit, ReconcileResult, reconcile_targets
from connector.model import (
    Bundle,
    Change,
    EnrollmentStatus,
    Person,
    RecordProblem,
)
from connector.monitoring.stages import stage
from connector.personas.loader import Mappings, load_mappings
from connector.registry import build_source, build_targets, mappings_path
from connector.store import Store
from connector.sync import approval, course_identity, guard_hold, quarantine
from connector.sync.policy import modes_after, unwanted_after
from connector.sync.prepare import (
    Prepared,
    check_guards,
    policy_of,
    prepare,
    run_counts,
    utcnow,
    warn_unseen,
)
from connector.sync.reading import (
    READ_FAILED,
    READ_MS,
    read_directory,
    save_cursor,
)
from connector.sync.state import Refusal

if TYPE_CHECKING:  # what only a sync that writes, or a collect, uses is imported there
    from connector.progress.collect import CollectResult
    from connector.progress.xapi.collect import XapiResult
    from connector.skillbuilder.publish import PublishResult
    from connector.sync.executor import ApplyResult, Executor
    from connector.sync.interrupt import StopRequest

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    run_id: int
    prepared: Prepared
    dry_run: bool
    applied: ApplyResult | None = None
    collected: CollectResult | None = None
    reconciled: ReconcileResult | None = None
    quarantined: tuple[Refusal, ...] = ()  # every change quarantined after the run
    files: PublishResult | None = None  # Skill Builder: the batch written, reports imported
    guard_held: str | None = None  # the removal guards held the plan's removals: why

    @property
    def writes_sent(self) -> int:
        return self.applied.writes_sent if self.applied else 0

    @property
    def failed_open(self) -> int:
        """Changes that failed in this run and are not quarantined: the run failed."""
        if self.applied is None:
            return 0
        excused = {r.ident for r in self.quarantined}
        return sum(1 for change, _, _ in self.applied.failures if change.ident not in excused)


def _due_days(settings: Settings, mappings: Mappings) -> dict[tuple[str, str], int]:
    """(target, course ref) → due days, for the targets configured to send them as timeend."""
    if not settings.targets.moodle.due_dates_to_timeend:
        return {}
    return {
        (c.target, c.ref): c.due_days
        for c in mappings.courses().values()
        if c.target == "moodle" and c.due_days
    }


def sync(
    settings: Settings,
    store: Store,
    *,
    dry_run: bool = False,
    targets: Mapping[str, LmsTarget] | None = None,
    clock: Clock = utcnow,
    restore: Collection[str] = (),
    approved: approval.ApprovedPlan | None = None,
    reconcile: bool = False,
    accept_shrink: bool = False,
    retry_quarantined: bool = False,
    stop: StopRequest | None = None,
    accept_hand_removals: bool = False,
) -> SyncOutcome:
    """Run the sync once. With ``dry_run`` it plans and records the run, writing nothing.

    Before the first write the safety guards are checked (:mod:`connector.sync.guards`); an
    ``approved`` plan is applied only when it is exactly the plan computed now, and then
    passes the guards. ``restore`` names people whose removals and suspensions by hand are
    to be undone. With ``reconcile`` the actual enrollments are first read from the targets
    and the state database repaired (each drift recorded as a problem of the run), then the
    plan is made. The completions of the enrollments the plan removes are collected before
    they are removed, the others after the writes. A change refused the same way in
    ``[sync] quarantine_after`` runs in a row is quarantined (:mod:`connector.sync.quarantine`):
    held back, and its refusal does not fail the run; ``retry_quarantined`` sends it again.
    ``stop`` (set by signals, see :mod:`connector.sync.interrupt`), the time limit
    ``[sync] max_minutes`` and a lost run lock stop the apply between two batches: the run is
    recorded ``stopped`` with what it applied, and :class:`Interrupted` is raised."""
    from connector.progress.collect import CollectResult, collect
    from connector.report.admin import after_sync
    from connector.sync.executor import Executor
    from connector.sync.interrupt import StopRequest

    try:
        mappings = load_mappings(mappings_path(settings))  # fail fast, before taking the lock
        run_id = store.start_run("sync", dry_run=dry_run, mappings_hash=mappings.content_hash)
    except BaseException as exc:
        after_sync(settings, store, None, exc, clock)  # a run that cannot start is reported too
        raise
    failure: BaseException | None = None  # for the admin summary, sent whatever the outcome
    prepared: Prepared | None = None
    read_failed = False
    executor: Executor | None = None
    live: Mapping[str, LmsTarget] | None = targets
    before = _stats_now(targets)
    stop = stop if stop is not None else StopRequest()
    if settings.sync.max_minutes:
        stop.limit_minutes = settings.sync.max_minutes
        stop.deadline = time.monotonic() + settings.sync.max_minutes * 60
    stop.lock_lost = lambda: store.lock_lost(run_id)
    try:
        _warn_plaintext(settings, store, run_id)
        now = clock()
        reconciled: ReconcileResult | None = None
        recreated: list[RecordProblem] = []
        course_ids: dict[str, dict[str, str]] = {}  # target -> course ref -> id, this run
        if not dry_run:
            live = live if live is not None else build_targets(settings)
            recreated = course_identity.check_courses(store, live, course_ids)
            store.record_problems(run_id, recreated)
        if reconcile and not dry_run:
            live = live if live is not None else build_targets(settings)
            stop_on_course_problems(store, live)
            reconciled = reconcile_targets(store, live, run_id, now, HandRemovalLimit(
                settings.removal.max_hand_removal_share, settings.removal.max_hand_removal_min,
                accepted=accept_hand_removals,
            ))
        try:
            read = read_directory(settings, store, now)
        except UpskillError:
            read_failed = True
            raise
        prepared = prepare(
            settings,
            store,
            now=now,
            restore=restore,
            accept_shrink=accept_shrink,
            retry_quarantined=retry_quarantined,
            snapshot=read.snapshot,
        )
        save_cursor(store, read, run_id, clock())  # the read passed the outage guard
        _check_restore(restore, prepared)
        store.record_problems(run_id, prepared.snapshot.problems)
        warn_unseen(prepared.unseen)
        counts = run_counts(prepared) | read.counts()
        if recreated:
            counts["courses_recreated"] = len(recreated)
        if reconciled is not None:
            counts.update(reconciled.counts())
        if dry_run:
            store.finish_run(
                run_id,
                "succeeded",
                counts=counts,
                people_read=len(prepared.snapshot),
                message="dry run: nothing sent",
            )
            return SyncOutcome(run_id, prepared, dry_run=True)
        if accept_shrink:
            store.record_problems(
                run_id, guard_hold.accepted_gone(prepared.state, prepared.snapshot.people)
            )
        to_apply = prepared.plan
        guard_note: str | None = None
        if approved is not None:
            approval.verify(approved, prepared.plan, prepared.fingerprint())
        else:
            violations = check_guards(settings, store, prepared)
            if violations:
                to_apply, held_back = guard_hold.hold_removals(prepared.plan, violations)
                guard_note = guard_hold.held_message(violations, held_back)
                counts["guard.removals_held"] = len(held_back)
                log.warning("guards: %s", guard_note)
        live = live if live is not None else build_targets(settings)
        if reconciled is None:
            stop_on_course_problems(store, live)
        early = CollectResult()
        targets_now = live

        def before_removals(name: str, removing: Sequence[Change]) -> None:
            idents = {(c.person_key, c.target, c.course_ref or "") for c in removing}
            found = collect(store, {name: targets_now[name]}, run_id, clock(), only=idents)
            early.read[name] = early.read.get(name, 0) + found.read.get(name, 0)
            early.changed += found.changed

        executor = Executor(
            store,
            live,
            prepared.snapshot.people,
            clock=clock,
            due_days=_due_days(settings, prepared.mappings),
            reconcile=reconcile,
            before_removals=before_removals,
            should_stop=stop.check,
        )
        store.record_unwanted(run_id, unwanted_after(prepared.plan, prepared.state, now))
        applied = executor.apply(run_id, to_apply)
        course_identity.remember(store, executor.course_ids)
        for name, ids in executor.course_ids.items():
            course_ids.setdefault(name, {}).update(ids)
        if applied.stopped is not None:
            _update_refusals(settings, store, prepared, applied, run_id, clock())
            raise _interrupted(store, run_id, applied, stop)
        store.record_course_modes(run_id, modes_after(
            to_apply, prepared.state, policy_of(settings),
            {change.ident for change, _c, _m in applied.failures},
        ), clock())  # fmt: skip
        held_now = _update_refusals(settings, store, prepared, applied, run_id, clock())
        files = skillbuilder_files(settings, store, run_id, prepared, clock())
        if files is not None:
            counts.update(files.counts())
        if restore:
            store.restore_manual_removals(sorted(restore))
        collected = collect(
            store, live, run_id, clock(), created=applied.created, course_ids=course_ids
        )
        for name, n in early.read.items():
            collected.read[name] = collected.read.get(name, 0) + n
        collected.changed += early.changed
        try:
            from_lrs = collect_sources(
                settings, store, run_id, prepared.snapshot.people.values(),
                prepared.mappings.bundles, clock(),
            )
        except UpskillError as exc:  # the enrollments are applied: the run stands
            from_lrs = None
            counts["xapi.failed"] = 1
            log.warning("xapi: the LRS could not be read: %s", exc.message)
            store.record_problems(run_id, [RecordProblem(
                "progress.xapi", f"the LRS could not be read: {exc.message}; its completions "
                "are read by the next run (or `upskill collect`)",
            )])
        if from_lrs is not None:
            counts.update(from_lrs.counts())
            collected.sources = from_lrs
        counts.update({f"done.{k}": v for k, v in applied.done.items()})
        counts.update({f"failed.{k}": v for k, v in applied.failed.items()})
        counts["completions_changed"] = collected.changed
        if held_now:
            counts["quarantined"] = len(held_now)
        counts.update(request_counts(live, before))
        outcome = SyncOutcome(
            run_id, prepared, False, applied, collected, reconciled, tuple(held_now), files,
            guard_note,
        )
        status = "succeeded" if not outcome.failed_open else "failed"
        message = "; ".join(m for m in (guard_note, _run_message(outcome)) if m) or None
        store.finish_run(
            run_id,
            status,
            counts=counts,
            writes_sent=applied.writes_sent,
            people_read=len(prepared.snapshot),
            message=message,
        )
        return outcome
    except UpskillError as exc:
        failure = exc
        store.finish_run(
            run_id,
            "stopped" if isinstance(exc, Interrupted) else "failed",
            counts=(
                _counts_so_far(store, run_id, prepared)
                if prepared or not read_failed else {READ_FAILED: 1}
            ) | request_counts(live, before),
            writes_sent=executor.last_result.writes_sent if executor is not None else 0,
            people_read=len(prepared.snapshot) if prepared else None,
            message=exc.message,
        )
        raise
    except BaseException as exc:
        failure = exc
        store.finish_run(
            run_id,
            "failed",
            counts=_counts_so_far(store, run_id, prepared) | request_counts(live, before),
            writes_sent=executor.last_result.writes_sent if executor is not None else 0,
            people_read=len(prepared.snapshot) if prepared else None,
            message=f"internal error: {type(exc).__name__}",
        )
        raise
    finally:
        after_sync(settings, store, run_id, failure, clock)


def skillbuilder_files(
    settings: Settings, store: Store, run_id: int, prepared: Prepared, at: datetime
) -> PublishResult | None:
    """With Skill Builder enabled: write the run's upload batch and remove-by-hand list, and
    import the reports in the inbox (:mod:`connector.skillbuilder.publish`); problems go to
    the run. None when Skill Builder is not enabled."""
    if not settings.targets.skillbuilder.enabled:
        return None
    from connector.skillbuilder.publish import import_inbox, publish, removal_reasons

    people = prepared.snapshot.people
    courses = prepared.mappings.courses()
    done = publish(settings, store, run_id, people, courses,
                   removal_reasons(prepared.plan.changes), at)
    import_inbox(settings, store, run_id, people, courses, at, done)
    store.record_problems(run_id, done.problems)
    return done


def _stats_now(targets: Mapping[str, LmsTarget] | None) -> dict[str, RequestStats]:
    """The request counts of the targets a run was given, at its start: the run's counts are
    what it added to them (:func:`connector.lms.request_counts`)."""
    return {name: target.stats.copy() for name, target in (targets or {}).items()}


def _counts_so_far(store: Store, run_id: int, prepared: Prepared | None) -> dict[str, int]:
    """The counts of a run that did not finish: its plan's, and what its journal says was
    applied (``done.*``, ``failed.*``) and ``left`` for the next run."""
    counts = run_counts(prepared) if prepared is not None else {}
    counts.update(store.journal_tally(run_id))
    return counts


def _interrupted(
    store: Store, run_id: int, applied: ApplyResult, stop: StopRequest
) -> Interrupted:
    """The error of a run stopped between two batches, saying what it did and what is left."""
    tally = store.journal_tally(run_id)
    done = sum(v for k, v in tally.items() if k.startswith("done."))
    failed = sum(v for k, v in tally.items() if k.startswith("failed."))
    left = tally.get("left", 0)
    return Interrupted(
        f"the sync stopped: {applied.stopped}. Before it stopped, {done} change(s) were applied"
        + (f" and {failed} failed" if failed else "")
        + f"; {left} planned change(s) were not sent and are planned again by the next run "
        f"(`upskill runs --show {run_id}`)",
        exit_code=stop.exit_code,
    )


def _check_restore(restore: Collection[str], prepared: Prepared) -> None:
    """Every person named by ``--restore`` is a person of the directory read or the state."""
    known = set(prepared.snapshot.people) | {i[0] for i in prepared.state.enrollments}
    unknown = sorted(set(restore) - known)
    if unknown:
        raise UserError(
            f"--restore: no person with the key {', '.join(unknown)} in "
            f"{prepared.snapshot.source} or the state database; nothing was sent. Give the "
            "person's directory key (as `upskill explain` and `upskill runs --show` print it)"
        )


def _warn_plaintext(settings: Settings, store: Store, run_id: int) -> None:
    """Every run says which connections ``allow_plaintext`` lets travel in clear."""
    from connector.configcheck import transport_warnings

    lines = transport_warnings(settings)
    for line in lines:
        log.warning("security: %s", line)
    if lines:
        store.record_problems(run_id, [RecordProblem("security", line) for line in lines])


def stop_on_course_problems(store: Store, targets: Mapping[str, LmsTarget]) -> None:
    """Stop before any write when a target finds the set-up of a course the state holds
    active enrollments in broken (a cohort deleted on Moodle): every message names the
    course and the administrator's fix."""
    problems: list[str] = []
    for name, target in sorted(targets.items()):
        if not isinstance(target, CourseModes):
            continue
        active = store.enrollment_counts(name, EnrollmentStatus.ACTIVE)
        problems += [f"{name}: {p}" for p in target.course_problems(active)] if active else []
    if problems:
        raise SafetyStop("; ".join(problems))


def _update_refusals(
    settings: Settings,
    store: Store,
    prepared: Prepared,
    applied: ApplyResult,
    run_id: int,
    at: datetime,
) -> list[Refusal]:
    """Extend, start or end the refusal streaks after an apply; the changes quarantined now."""
    previous = prepared.state.refusals
    people = prepared.snapshot.people
    if applied.failures or previous:
        write, ended = quarantine.streaks(
            previous, prepared.plan, applied.failures, people, run_id, at
        )
        store.record_refusals(write, ended)
        current = {i: r for i, r in previous.items() if i not in ended}
        current.update({r.ident: r for r in write})
    else:
        current = {}
    held = quarantine.quarantined(current, people, settings.sync.quarantine_after)
    return [held[ident] for ident in sorted(held)]


def _run_message(outcome: SyncOutcome) -> str | None:
    """What the run record says: the changes that failed, the ones refused again although
    quarantined."""
    applied = outcome.applied
    if applied is None or not applied.failed_total:
        return None
    see = f"see `upskill runs --show {outcome.run_id}`"
    excused = applied.failed_total - outcome.failed_open
    quarantined = (
        f"{excused} change(s) refused again and quarantined (not sent until the person's "
        "directory record changes or `upskill sync --retry-quarantined`)"
    )
    if not outcome.failed_open:
        return f"{quarantined}; {see}"
    failed = f"{outcome.failed_open} change(s) failed"
    return f"{failed}; {quarantined}; {see}" if excused else f"{failed}; {see}"


def collect_sources(
    settings: Settings,
    store: Store,
    run_id: int,
    people: Iterable[Person],
    bundles: Mapping[str, Bundle],
    at: datetime,
    *,
    since: datetime | None = None,
) -> XapiResult | None:
    """Completions from the sources beside the targets (``[progress.xapi]``), recorded with
    their problems in the run; None when none is configured."""
    xapi = settings.progress.xapi
    if xapi is None:
        return None
    from connector.progress.xapi.client import LrsClient
    from connector.progress.xapi.collect import collect_xapi

    client = LrsClient(
        xapi.endpoint,
        username=xapi.username,
        password=settings.xapi_password(),
        timeout=xapi.timeout,
        retries=xapi.retries,
        max_wait=xapi.max_wait,
        verify_tls=xapi.verify_tls,
        ca_file=str(settings.path(xapi.ca_file)) if xapi.ca_file else None,
    )
    result = collect_xapi(store, client, xapi, people, bundles, run_id, at, since=since)
    store.record_problems(run_id, result.problems)
    return result


def collect_only(
    settings: Settings,
    store: Store,
    *,
    targets: Mapping[str, LmsTarget] | None = None,
    clock: Clock = utcnow,
    xapi_since: datetime | None = None,
) -> CollectResult:
    """Collect progress without planning or applying enrollments; ``xapi_since`` re-reads
    the LRS from then (see :func:`connector.progress.xapi.collect.collect_xapi`)."""
    from connector.progress.collect import collect

    if xapi_since is not None and settings.progress.xapi is None:
        raise ConfigError("--xapi-since needs a [progress.xapi] section (the LRS to read)")
    run_id = store.start_run("collect", dry_run=False, mappings_hash=None)
    people_read: int | None = None
    live: Mapping[str, LmsTarget] | None = targets
    before = _stats_now(targets)
    try:
        live = targets if targets is not None else build_targets(settings)
        result = collect(store, live, run_id, clock())
        from_lrs = None
        reports: dict[str, int] = {}
        read_ms: dict[str, int] = {}
        if settings.progress.xapi is not None or settings.targets.skillbuilder.enabled:
            mappings = load_mappings(mappings_path(settings))
            with stage("read directory", unit="person") as reading:
                snapshot = build_source(settings).read()
                reading.set_total(len(snapshot))
                reading.advance(len(snapshot))
                read_ms[READ_MS] = round(reading.seconds * 1000)
            people_read = len(snapshot)
        if settings.targets.skillbuilder.enabled:
            from connector.skillbuilder.publish import PublishResult, import_inbox

            found = PublishResult()
            import_inbox(settings, store, run_id, snapshot.people, mappings.courses(), clock(),
                         found)
            store.record_problems(run_id, found.problems)
            reports = {k: v for k, v in found.counts().items() if "report" in k
                       or "completions" in k}
            result.changed += reports.get("skillbuilder.completions_changed", 0)
        if settings.progress.xapi is not None:
            from_lrs = collect_sources(
                settings, store, run_id, snapshot.people.values(), mappings.bundles, clock(),
                since=xapi_since,
            )
    except BaseException as exc:
        message = exc.message if isinstance(exc, UpskillError) else type(exc).__name__
        store.finish_run(
            run_id, "failed", counts=request_counts(live, before), message=message
        )
        raise
    store.finish_run(
        run_id,
        "succeeded",
        counts={
            "completions_changed": result.changed,
            **{f"read.{k}": v for k, v in result.read.items()},
            **(from_lrs.counts() if from_lrs is not None else {}),
            **reports,
            **read_ms,
            **request_counts(live, before),
        },
        people_read=people_read,
    )
    result.sources = from_lrs
    return result
