"""The Skill Builder steps of a sync, after the apply: write this run's upload batch and the
remove-by-hand list from the state database, then import the reports waiting in the inbox.

The inbox rule: every ``*.csv`` file directly in ``targets.skillbuilder.inbox`` is imported in
name order, then moved to ``imported/`` beside it; a file that cannot be read at all is moved to
``rejected/`` and the run records why (the other files still import). Moving never loses a
report: the import is recorded by content, so a file put back is recognised.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from connector.config import Settings
from connector.errors import InputError
from connector.model import Change, ChangeKind, Course, Person, RecordProblem
from connector.skillbuilder import SKILLBUILDER
from connector.skillbuilder.importer import FileImport, import_report
from connector.skillbuilder.outbox import WrittenBatch, outgoing, write_batch, write_removals
from connector.store import Store
from connector.store.skillbuilder import Pair, SkillBuilderLedger

log = logging.getLogger(__name__)


@dataclass(slots=True)
class PublishResult:
    batch: WrittenBatch | None = None
    listed: int = 0  # removals added to the list in this run
    cancelled: int = 0  # removals taken off it (wanted again)
    open_removals: int = 0
    problems: list[RecordProblem] = field(default_factory=list)
    imports: list[FileImport] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """What a sync says about Skill Builder."""
        out = []
        if self.batch is not None:
            r = self.batch.record
            out.append(
                f"Skill Builder: batch {r.batch_id} written to {r.folder} ({r.learners} "
                f"learner(s), {r.assignments} assignment(s)): upload it in the console "
                "(manifest.json says in which order)"
                + (f"; copied to {self.batch.dropped}" if self.batch.dropped else "")
            )
        else:
            out.append("Skill Builder: no new batch (nothing new to request)")
        if self.open_removals:
            out.append(f"Skill Builder: {self.open_removals} assignment(s) to remove by hand "
                       "(remove-by-hand.csv in the outbox)")
        out += [f"Skill Builder report: {i.line()}" for i in self.imports]
        out += [f"Skill Builder report refused: {p}" for p in self.rejected]
        return out

    def counts(self) -> dict[str, int]:
        out = {
            "skillbuilder.batch_learners": self.batch.record.learners if self.batch else 0,
            "skillbuilder.batch_assignments": self.batch.record.assignments if self.batch else 0,
            "skillbuilder.remove_by_hand": self.open_removals,
        }
        if self.imports or self.rejected:
            out["skillbuilder.reports_imported"] = sum(1 for i in self.imports if not i.already)
            out["skillbuilder.reports_rejected"] = len(self.rejected)
            out["skillbuilder.completions_changed"] = sum(
                i.completions_changed for i in self.imports)
        return out


def removal_reasons(changes: Sequence[Change]) -> dict[Pair, str]:
    return {
        (c.person_key, c.course_ref or ""): c.reason
        for c in changes
        if c.target == SKILLBUILDER and c.kind in (ChangeKind.SUSPEND, ChangeKind.UNENROLL)
    }


def publish(
    settings: Settings,
    store: Store,
    run_id: int,
    people: Mapping[str, Person],
    courses: Mapping[tuple[str, str], Course],
    reasons: Mapping[Pair, str],
    now: datetime,
) -> PublishResult:
    """Write this run's batch (when anything is new) and the remove-by-hand list."""
    sb = settings.targets.skillbuilder
    ledger = SkillBuilderLedger(store)
    result = PublishResult()
    listed = ledger.removals()
    found = outgoing(
        store.enrollments(SKILLBUILDER), people, courses, ledger.assignments(),
        ledger.learners(), listed, reasons=reasons, run_id=run_id, now=now,
    )
    result.problems = found.problems
    outbox = settings.path(sb.outbox)
    if not found.is_empty:
        written = write_batch(outbox, settings.path_or_none(sb.drop_dir), run_id, found,
                              sb.upload, now)
        ledger.record_batch(written.record, written.learners, written.assignments)
        result.batch = written
        log.info("skillbuilder: batch %s written to %s (%d learner(s), %d assignment(s))",
                 written.record.batch_id, written.record.folder, written.record.learners,
                 written.record.assignments)
    ledger.list_removals(found.removals, found.cancelled)
    result.listed, result.cancelled = len(found.removals), len(found.cancelled)
    now_listed = ledger.removals() if (found.removals or found.cancelled) else listed
    kinds = {ref: c.kind for (target, ref), c in courses.items() if target == SKILLBUILDER}
    write_removals(outbox, list(now_listed.values()), kinds, sb.upload)
    result.open_removals = len(now_listed)
    return result


def inbox_files(inbox: Path) -> list[Path]:
    if not inbox.is_dir():
        return []
    return sorted(p for p in inbox.iterdir() if p.is_file() and p.suffix.lower() == ".csv")


def import_inbox(
    settings: Settings,
    store: Store,
    run_id: int,
    people: Mapping[str, Person],
    courses: Mapping[tuple[str, str], Course],
    now: datetime,
    result: PublishResult,
) -> None:
    """Import every report in the inbox (see the module docstring); problems go to the run."""
    sb = settings.targets.skillbuilder
    inbox = settings.path(sb.inbox)
    ledger = SkillBuilderLedger(store)
    for path in inbox_files(inbox):
        try:
            done = import_report(ledger, path, sb.report, people, courses, run_id, now)
        except InputError as exc:
            moved = _move(path, inbox / "rejected")
            result.rejected.append(str(path))
            result.problems.append(RecordProblem(
                str(path), f"{exc.message} (moved to {moved})"))
            log.warning("skillbuilder: report refused: %s", exc.message)
            continue
        _move(path, inbox / "imported")
        result.imports.append(done)
        result.problems.extend(done.problems)
        log.info("skillbuilder: %s", done.line())


def _move(path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    n = 1
    while target.exists():
        target = folder / f"{path.stem}.{n}{path.suffix}"
        n += 1
    path.replace(target)
    return target
