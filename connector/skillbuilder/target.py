"""The Skill Builder target the executor applies a plan to.

It sends nothing over a network and writes no file: it accepts the plan's intent so that the
state database records it, and :func:`connector.skillbuilder.publish.publish` writes the upload
batch and the remove-by-hand list from that state once the apply is done. A person's "account"
is their e-mail in lower case (Skill Builder knows learners by e-mail, case-insensitively).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from connector.config import Settings
from connector.csvsafe import formula_like
from connector.errors import ConfigError
from connector.lms import BatchOutcome, EnrollRow, RequestStats, RowFailure, TargetInfo, row_key
from connector.model import Completion, Person
from connector.skillbuilder import SKILLBUILDER


class SkillBuilderTarget:
    """AWS Skill Builder through upload files (see :mod:`connector.skillbuilder`)."""

    name = SKILLBUILDER
    reads_completions = False  # progress comes from imported reports, not from the target

    def __init__(self, outbox: Path, drop_dir: Path | None = None) -> None:
        self.outbox = outbox
        self.drop_dir = drop_dir
        self.stats = RequestStats()

    @classmethod
    def from_settings(cls, settings: Settings) -> SkillBuilderTarget:
        sb = settings.targets.skillbuilder
        return cls(settings.path(sb.outbox), settings.path_or_none(sb.drop_dir))

    def check(self, *, reconcile: bool = False) -> TargetInfo:
        """The outbox (created when missing) and the drop folder (which must exist: another
        process uploads from it, and a missing mount must not go unnoticed) can be written;
        raises ConfigError saying which not."""
        for what, folder in (("outbox", self.outbox), ("drop_dir", self.drop_dir)):
            if folder is None:
                continue
            if what == "drop_dir" and not folder.is_dir():
                raise ConfigError(
                    f"targets.skillbuilder.drop_dir: {folder} does not exist or is not a "
                    "folder (is the upload share mounted?); create it or remove drop_dir; "
                    "nothing was written"
                )
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"targets.skillbuilder.{what}: cannot create {folder} ({exc.strerror}); "
                    "create it or point the setting at a writable folder"
                ) from exc
            if not os.access(folder, os.W_OK | os.X_OK):
                raise ConfigError(
                    f"targets.skillbuilder.{what}: {folder} is not writable by this user; "
                    "fix its permissions"
                )
        where = f"upload files in {self.outbox}" + (
            f", copied to {self.drop_dir}" if self.drop_dir else "")
        return TargetInfo(SKILLBUILDER, f"AWS Skill Builder through {where}")

    def course_ids(self, refs: Sequence[str]) -> dict[str, str]:
        """Every item id stands for itself: there is no catalogue to look it up in."""
        return {ref: ref for ref in refs}

    def ensure_users(self, people: Sequence[Person]) -> BatchOutcome:
        outcome = BatchOutcome()
        for person in people:
            email = person.email.strip().lower()
            if not email:
                outcome.failed[person.key] = RowFailure(
                    "noemail", "no e-mail in the directory; Skill Builder knows learners by "
                    "e-mail: fix the directory record")
            elif formula_like(email):
                outcome.failed[person.key] = RowFailure(
                    "formula", f"the e-mail starts with {email[0]!r}, which spreadsheets read "
                    "as a formula; fix the directory record")
            else:
                outcome.done[person.key] = email
        return outcome

    def enroll(self, rows: Sequence[EnrollRow]) -> BatchOutcome:
        """Accepted: requested in this run's upload batch."""
        return BatchOutcome(done={row_key(r.person_key, r.course_ref): r.user_id for r in rows})

    def suspend(self, rows: Sequence[EnrollRow]) -> BatchOutcome:
        """Accepted: listed to remove by hand (no upload file removes an assignment)."""
        return BatchOutcome(done={row_key(r.person_key, r.course_ref): r.user_id for r in rows})

    def unenroll(self, rows: Sequence[EnrollRow]) -> BatchOutcome:
        return self.suspend(rows)

    def completions(self, rows: Sequence[EnrollRow]) -> list[Completion]:
        """Nothing to read: Skill Builder progress comes from imported reports."""
        return []
