"""Upload batches and the remove-by-hand list: what the console is asked to do, as files.

:func:`outgoing` is pure: from the applied Skill Builder enrollments of the state database and
what earlier batches requested, it finds the learners to add and the assignments to make (every
active enrollment never requested, and those of a person whose e-mail changed since: the
console knows learners by e-mail, so the new address is added and assigned again), the
enrollments the plan removed that the console still has (to remove by hand) and the listed
removals that are wanted again (taken off the list).
Deriving the batch from the state, rather than from the plan alone, makes it crash-safe: an
enrollment applied by a run that died before writing its batch is requested by the next one.

:func:`write_batch` writes one batch folder ``batch-<run>-<hash>`` (``learners.csv``,
``assignments.csv``, ``manifest.json``) whole under a temporary name and renames it into the
outbox, then copies it the same way into the drop folder when one is configured. Nothing is
written when nothing is new.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from connector.config import SkillBuilderUpload
from connector.csvsafe import formula_like
from connector.errors import ConfigError
from connector.model import Course, Enrollment, EnrollmentStatus, Person, RecordProblem
from connector.skillbuilder import SKILLBUILDER
from connector.skillbuilder.csvfiles import csv_bytes, sha256, write_atomic
from connector.store.skillbuilder import (
    AssignmentRecord,
    BatchRecord,
    LearnerRecord,
    Pair,
    RemovalRecord,
)

REMOVE_BY_HAND = "remove-by-hand.csv"
REMOVE_COLUMNS = ("Email", "Item ID", "Item type", "Reason", "Listed on")


@dataclass(frozen=True, slots=True)
class Assignment:
    person: Person
    item: str
    kind: str
    title: str
    due: date | None


@dataclass(slots=True)
class Outgoing:
    """What this run asks of the console."""

    learners: list[Person] = field(default_factory=list)
    assignments: list[Assignment] = field(default_factory=list)
    removals: list[RemovalRecord] = field(default_factory=list)
    cancelled: list[Pair] = field(default_factory=list)
    problems: list[RecordProblem] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.learners or self.assignments)


def outgoing(
    enrollments: Sequence[Enrollment],
    people: Mapping[str, Person],
    courses: Mapping[tuple[str, str], Course],
    known: Mapping[Pair, AssignmentRecord],
    learners: Mapping[str, LearnerRecord],
    listed: Mapping[Pair, RemovalRecord],
    *,
    reasons: Mapping[Pair, str],
    run_id: int,
    now: datetime,
) -> Outgoing:
    """The learners, assignments and removals of this run (pure)."""
    out = Outgoing()
    adding: set[str] = set()
    for e in enrollments:
        if e.target != SKILLBUILDER:
            continue
        pair = (e.person_key, e.course_ref)
        record = known.get(pair)
        if e.status is not EnrollmentStatus.ACTIVE:
            if record is not None and pair not in listed:
                out.removals.append(RemovalRecord(
                    e.person_key, e.course_ref, record.email,
                    reasons.get(pair, "no longer in the person's bundle"), now, run_id,
                ))
            continue
        if pair in listed:
            out.cancelled.append(pair)  # wanted again before anyone removed it
            continue
        person = people.get(e.person_key)
        moved = person is not None and record is not None and bool(person.email) and (
            record.email != person.email.lower())  # Skill Builder knows the old address
        if record is not None and (record.batch_id or record.confirmed_at) and not moved:
            continue
        if person is None or not person.email:
            out.problems.append(RecordProblem(
                "skillbuilder outbox", f"no e-mail for {e.person_key}: {e.course_ref} not "
                "requested (Skill Builder knows learners by e-mail); fix the directory record",
                record_key=e.person_key, field="email"))
            continue
        if formula_like(person.email):
            out.problems.append(RecordProblem(
                "skillbuilder outbox", f"the e-mail of {e.person_key} starts with "
                f"{person.email[0]!r}, which spreadsheets read as a formula: {e.course_ref} "
                "not requested; fix the directory record", record_key=e.person_key,
                field="email"))
            continue
        course = courses.get((SKILLBUILDER, e.course_ref))
        kind = course.kind if course is not None else "course"
        due = now.date() + timedelta(days=course.due_days) if course and course.due_days else None
        title = course.title if course is not None else ""
        out.assignments.append(Assignment(person, e.course_ref, kind, title, due))
        learner = learners.get(e.person_key)
        if (learner is None or learner.email != person.email.lower()) and (
                e.person_key not in adding):
            adding.add(e.person_key)
            out.learners.append(person)
    return out


def _learner_cells(person: Person, fields: Sequence[str]) -> list[str]:
    values = {
        "email": person.email, "first_name": person.first_name, "last_name": person.last_name,
        "department": person.department, "title": person.title,
    }
    return [values[f] for f in fields]


def _assignment_cells(a: Assignment, upload: SkillBuilderUpload) -> list[str]:
    word = upload.learning_plan_word if a.kind == "learning_plan" else upload.course_word
    values = {
        "email": a.person.email, "item": a.item, "kind": word, "title": a.title,
        "due_date": a.due.strftime(upload.date_format) if a.due else "",
    }
    return [values[f] for f in upload.assignment_fields]


@dataclass(frozen=True, slots=True)
class WrittenBatch:
    record: BatchRecord
    learners: list[LearnerRecord]
    assignments: list[AssignmentRecord]
    dropped: Path | None  # the copy in the drop folder


def write_batch(
    outbox: Path,
    drop_dir: Path | None,
    run_id: int,
    batch: Outgoing,
    upload: SkillBuilderUpload,
    now: datetime,
) -> WrittenBatch:
    """Write ``batch`` as one folder in ``outbox`` (and its copy in ``drop_dir``, which must
    exist: a missing upload share is an error, not a folder to create)."""
    if drop_dir is not None and not drop_dir.is_dir():
        raise ConfigError(
            f"targets.skillbuilder.drop_dir: {drop_dir} does not exist or is not a folder (is "
            "the upload share mounted?); create it or remove drop_dir; no batch was written"
        )
    learners = sorted(batch.learners, key=lambda p: p.email.lower())
    assignments = sorted(batch.assignments, key=lambda a: (a.person.email.lower(), a.item))
    files = {
        "learners.csv": (csv_bytes(upload.learner_columns,
                                   (_learner_cells(p, upload.learner_fields) for p in learners)),
                         len(learners)),
        "assignments.csv": (csv_bytes(upload.assignment_columns,
                                      (_assignment_cells(a, upload) for a in assignments)),
                            len(assignments)),
    }
    digest = sha256(b"".join(data for data, _ in files.values()))
    batch_id = f"{run_id}-{digest[:12]}"
    name = f"batch-{batch_id}"
    manifest = {
        "batch": batch_id,
        "run": run_id,
        "written_at": now.isoformat(),
        "sha256": digest,
        "upload_in_this_order": [
            {"file": f, "rows": n, "sha256": sha256(data),
             "what": "add these learners to the organisation" if f == "learners.csv"
             else "assign these courses and learning plans"}
            for f, (data, n) in files.items() if n
        ],
    }
    folder = _publish(outbox, name, files, manifest)
    dropped = _publish(drop_dir, name, files, manifest) if drop_dir is not None else None
    record = BatchRecord(batch_id, run_id, now, len(learners), len(assignments), digest,
                         str(folder))
    return WrittenBatch(
        record,
        [LearnerRecord(p.key, p.email.lower(), batch_id, now, None) for p in learners],
        [AssignmentRecord(a.person.key, a.item, a.person.email.lower(), a.kind, batch_id, now,
                          None) for a in assignments],
        dropped,
    )


def _publish(
    where: Path, name: str, files: Mapping[str, tuple[bytes, int]], manifest: object
) -> Path:
    final = where / name
    if final.exists():  # the same content written by this run already (a retried step)
        return final
    partial = where / f".{name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for file, (data, rows) in files.items():
        if rows:
            write_atomic(partial / file, data)
    write_atomic(partial / "manifest.json",
                 (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
    partial.rename(final)
    return final


def write_removals(outbox: Path, listed: Sequence[RemovalRecord],
                   kinds: Mapping[str, str], upload: SkillBuilderUpload) -> Path | None:
    """Rewrite ``remove-by-hand.csv`` with every open removal (deleted when there is none)."""
    path = outbox / REMOVE_BY_HAND
    if not listed:
        path.unlink(missing_ok=True)
        return None
    rows = [
        [r.email, r.item,
         upload.learning_plan_word if kinds.get(r.item) == "learning_plan" else upload.course_word,
         r.reason, r.listed_at.date().isoformat()]
        for r in sorted(listed, key=lambda r: (r.email, r.item))
    ]
    data = csv_bytes(REMOVE_COLUMNS, rows)
    if not path.exists() or path.read_bytes() != data:
        write_atomic(path, data)
    return path
