"""One report per leader, from the organisation-wide input: pure, no I/O.

A leader's report sums the organisation-wide :class:`Population` (each person's figures,
computed once) over the leader's scope (:mod:`connector.report.scope`): their people and
nothing else. A scope is judged by no company target: its composition comes from the org
chart, so its report shows no bands and compares its progress with the organisation's. The
rows the last run skipped are in no leader's report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from connector.model import Leader, Person, ScopeKind
from connector.report.allocation import Population, Report, compute
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


def _recipient(leader: Leader, directory: Mapping[str, Person]) -> tuple[str, str | None]:
    person = directory.get(leader.person_key or "")
    name = leader.name or (person.display_name if person is not None else leader.key)
    email = leader.email or (person.email if person is not None else None)
    return name, (email or None)


def leader_reports(
    pop: Population,
    leaders: Sequence[Leader],
    directory: Mapping[str, Person],
    previous: Mapping[str, Mapping[str, float | None]] | None = None,
    *,
    compare_with: str = "organisation",
) -> list[LeaderReport]:
    """Every leader's report. ``directory`` is the whole snapshot (the manager chain runs
    through people who are not counted); ``previous`` maps leader keys to the figures of their
    previous report; ``compare_with`` is ``"organisation"`` (the organisation's completion
    rate, overdue share and trend beside the scope's own) or ``"none"``. A leader whose scope
    is the whole organisation gets the organisation report, bands included."""
    index = ReportIndex.of(directory)
    organisation = compute(pop) if leaders else None
    out = []
    for leader in leaders:
        before = (previous or {}).get(leader.key)
        if leader.scope is ScopeKind.ORGANISATION:
            report = compute(pop, frozenset(pop.learners), scope=describe_scope(leader, directory),
                             bands=True, previous=before)
        else:
            report = compute(
                pop,
                scope_of(index, leader),
                scope=describe_scope(leader, directory),
                bands=False,
                previous=before,
                compare=organisation if compare_with == "organisation" else None,
            )
        name, email = _recipient(leader, directory)
        out.append(LeaderReport(leader, name, email, report))
    return out
