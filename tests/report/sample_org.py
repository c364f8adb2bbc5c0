"""A small organisation whose report figures are computed by hand in the tests.

Ten active people and one who left (p11, out of scope):

==== ===================== ============================================= ==================
key  persona (tier)        active enrollments (hours)                    completed
==== ===================== ============================================= ==================
p01  consumer (C)          AI-101 (2), PROMPT-1 (3)                      both
p02  consumer (C)          AI-101 (2), PROMPT-1 (3)                      AI-101
p03  consumer (C)          AI-101 (2)                                    none (no record)
p04  consumer (C)          none (AI-101 is suspended, though completed)  –
p05  consumer (C)          none                                          –
p06  stat. analyst (C)     AI-101 (2) (PROMPT-1 is removed)              AI-101
p07  leader (L)            LEAD-1 (4), RISK-1 (1.5)                      both
p08  leader (L)            LEAD-1 (4), GHOST-9 (not in catalogue: 0)     none (LEAD-1 50 %)
p09  developer (B)         skillbuilder GENAI-ARCH (10)                  yes
p10  no persona            AI-101 (2)                                    none
==== ===================== ============================================= ==================

Due-in days: AI-101 30, LEAD-1 14, GENAI-ARCH 60; the others have none. The period is ISO week
2024-W18; every enrollment started on 2024-04-01 except those named in :func:`build_input`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from connector.model import (
    Completion,
    Course,
    Enrollment,
    EnrollmentStatus,
    Person,
    Persona,
    PersonStatus,
    RecordProblem,
    Tier,
)
from connector.report.allocation import ReportInput

GENERATED_AT = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
TARGETS = {Tier.CONSUMERS: 70.0, Tier.LEADERS: 20.0, Tier.BUILDERS: 10.0}

CONSUMER = Persona("consumer", Tier.CONSUMERS, "Consumer", "consumer-bundle")
ANALYST = Persona(
    "statistical-analyst", Tier.CONSUMERS, "Statistical analyst", "analyst", "statistical analyst"
)
LEADER = Persona("leader", Tier.LEADERS, "Business decision maker", "leader-bundle")
DEVELOPER = Persona("developer", Tier.BUILDERS, "Developer", "builder-bundle", "developer")

M, SB = "moodle", "skillbuilder"
COURSES = {
    (M, "AI-101"): Course(M, "AI-101", "Responsible AI", 2.0, due_days=30),
    (M, "PROMPT-1"): Course(M, "PROMPT-1", "Prompt engineering fundamentals", 3.0),
    (M, "LEAD-1"): Course(M, "LEAD-1", "Building business cases for AI", 4.0, due_days=14),
    (M, "RISK-1"): Course(M, "RISK-1", "Assessing AI risk", 1.5),
    (SB, "GENAI-ARCH"): Course(SB, "GENAI-ARCH", "Generative AI architecture", 10.0, due_days=60),
}
# The report covers ISO week 2024-W18 (Monday 29 April to Sunday 5 May): it ends at AS_OF.
AS_OF = datetime(2024, 5, 6, tzinfo=UTC)


def person(key: str, first: str, last: str, **kw: object) -> Person:
    return Person(key, f"{key}@example.org", first, last, **kw)  # type: ignore[arg-type]


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def active(key: str, ref: str, target: str = M) -> Enrollment:
    return Enrollment(key, target, ref)


def done(key: str, ref: str, when: datetime | None, target: str = M) -> Completion:
    return Completion(key, target, ref, True, when, 100.0, "moodle")


def build_input(**overrides: object) -> ReportInput:
    people = {
        "p01": person("p01", "Ada", "Lovelace", department="Finance", title="Clerk"),
        "p02": person("p02", "Zoë", "Brontë", department="Sales"),
        "p03": person("p03", "Łukasz", "Nowak"),
        "p04": person("p04", "Grace", "Hopper"),
        "p05": person("p05", "Alan", "Turing"),
        "p06": person("p06", "Karl", "Pearson"),
        "p07": person("p07", "Indra", "Nooyi", title="CFO"),
        "p08": person("p08", "Satya", "Nadella"),
        "p09": person("p09", "Linus", "Torvalds", department="IT"),
        "p10": person("p10", "Nobody", "Special"),
        "p11": person("p11", "Gone", "Already", status=PersonStatus.LEFT),
    }
    personas = {k: CONSUMER for k in ("p01", "p02", "p03", "p04", "p05", "p11")}
    personas |= {"p06": ANALYST, "p07": LEADER, "p08": LEADER, "p09": DEVELOPER}
    enrollments = [
        active("p01", "AI-101"),
        active("p01", "PROMPT-1"),
        active("p02", "AI-101"),
        active("p02", "PROMPT-1"),
        active("p03", "AI-101"),
        Enrollment("p04", M, "AI-101", EnrollmentStatus.SUSPENDED),
        active("p06", "AI-101"),
        Enrollment("p06", M, "PROMPT-1", EnrollmentStatus.REMOVED),
        active("p07", "LEAD-1"),
        active("p07", "RISK-1"),
        active("p08", "LEAD-1"),
        active("p08", "GHOST-9"),
        active("p09", "GENAI-ARCH", SB),
        active("p10", "AI-101"),
        active("p11", "AI-101"),
    ]
    plus_two = timezone(timedelta(hours=2))
    completions = [
        done("p01", "AI-101", at("2024-03-01T10:00")),
        done("p01", "PROMPT-1", at("2024-03-05T10:00")),
        done("p02", "AI-101", at("2024-02-10T09:00")),
        Completion("p02", M, "PROMPT-1", False, None, 40.0, "moodle"),
        done("p04", "AI-101", at("2024-01-01T09:00")),  # enrollment suspended: not counted
        done("p06", "AI-101", at("2024-04-20T08:00")),
        done("p06", "PROMPT-1", at("2024-04-21T08:00")),  # enrollment removed: not counted
        done("p07", "LEAD-1", at("2024-04-02T08:00")),
        done("p07", "RISK-1", None),  # completed, no date known
        Completion("p08", M, "LEAD-1", False, None, 50.0, "moodle"),
        # 01:30 at +02:00 is 23:30 UTC the day before
        done("p09", "GENAI-ARCH", datetime(2024, 4, 2, 1, 30, tzinfo=plus_two), SB),
        done("p11", "AI-101", at("2024-04-01T08:00")),  # out of scope
    ]
    # every enrollment started on 1 April, except p03's and p10's AI-101 (1 March: overdue by
    # the end of the period, 30 days due) and p08's LEAD-1 (22 April: due 6 May, not overdue
    # yet although incomplete; the due moment is the end of the period itself)
    since = {e.ident: at("2024-04-01T00:00") for e in enrollments}
    since[("p03", M, "AI-101")] = at("2024-03-01T00:00")
    since[("p10", M, "AI-101")] = at("2024-03-01T00:00")
    since[("p08", M, "LEAD-1")] = at("2024-04-22T00:00")
    values: dict[str, object] = {
        "as_of": AS_OF,
        "since": since,
        "period": "2024-W18",
        "title": "Generative AI upskilling progress",
        "generated_at": GENERATED_AT,
        "people": people,
        "personas": personas,
        "courses": COURSES,
        "enrollments": enrollments,
        "completions": completions,
        "tier_targets": TARGETS,
        "tolerance": 5.0,
        "skipped": (
            RecordProblem("examples/org.csv:17", "e-mail is empty", "E017", "email"),
            RecordProblem("examples/org.csv:23", "department <b>Ops</b> unknown", "E023"),
        ),
    }
    values |= overrides
    return ReportInput(**values)  # type: ignore[arg-type]
