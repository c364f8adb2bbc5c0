"""One report per leader, from the organisation-wide input: pure, no I/O.

A leader's report is computed from the organisation-wide :class:`ReportInput` restricted to
the leader's scope (:mod:`connector.report.scope`): their people, those people's personas,
enrollments, completions and enrollment dates, and nothing else. The rows the last run skipped
name people of the whole organisation, so they are only in the organisation-wide report and
in the administrators' summary, never in a leader's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from connector.model import Leader, Person
from connector.report.allocation import Report, ReportInput, compute
from connector.report.scope import ReportIndex, describe_scope, scope_of


@dataclass(frozen=True, slots=True)
class LeaderReport:
    """A leader's computed report and where it goes (``recipient`` is None when neither the
    leaders configuration nor the directory gives the leader an e-mail address)."""

    leader: Leader
    recipient_name: str
    recipient: str | None
    report: Report

    @property
    def empty(self) -> bool:
        return self.report.total.headcount == 0


def scoped_input(base: ReportInput, keys: frozenset[str], scope: str) -> ReportInput:
    """``base`` restricted to the people of ``keys``."""
    return replace(
        base,
        people={k: p for k, p in base.people.items() if k in keys},
        personas={k: p for k, p in base.personas.items() if k in keys},
        enrollments=[e for e in base.enrollments if e.person_key in keys],
        completions=[c for c in base.completions if c.person_key in keys],
        since={k: v for k, v in base.since.items() if k[0] in keys},
        skipped=(),
        show_skipped=False,
        scope=scope,
        previous=None,
    )


def _recipient(leader: Leader, directory: Mapping[str, Person]) -> tuple[str, str | None]:
    person = directory.get(leader.person_key or "")
    name = leader.name or (person.display_name if person is not None else leader.key)
    email = leader.email or (person.email if person is not None else None)
    return name, (email or None)


def leader_reports(
    base: ReportInput,
    leaders: Sequence[Leader],
    directory: Mapping[str, Person],
    previous: Mapping[str, Mapping[str, float | None]] | None = None,
) -> list[LeaderReport]:
    """Every leader's report. ``directory`` is the whole snapshot (the manager chain runs
    through people who are not active); ``previous`` maps leader keys to the figures of their
    previous report."""
    index = ReportIndex.of(directory)
    by_person: dict[str, list[int]] = {}
    # Restricting the whole input once per leader costs leaders × people; index it instead.
    for i, e in enumerate(base.enrollments):
        by_person.setdefault(e.person_key, []).append(i)
    done_by_person: dict[str, list[int]] = {}
    for i, c in enumerate(base.completions):
        done_by_person.setdefault(c.person_key, []).append(i)
    out = []
    for leader in leaders:
        keys = scope_of(index, leader)
        people = {k: base.people[k] for k in sorted(keys) if k in base.people}
        enrollments = [base.enrollments[i] for k in people for i in by_person.get(k, ())]
        inp = replace(
            base,
            people=people,
            personas={k: base.personas[k] for k in people if k in base.personas},
            enrollments=enrollments,
            completions=[base.completions[i] for k in people for i in done_by_person.get(k, ())],
            since={e.ident: base.since[e.ident] for e in enrollments if e.ident in base.since},
            skipped=(),
            show_skipped=False,
            scope=describe_scope(leader, directory),
            previous=(previous or {}).get(leader.key),
        )
        name, email = _recipient(leader, directory)
        out.append(LeaderReport(leader, name, email, compute(inp)))
    return out

