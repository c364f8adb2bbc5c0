"""A small organisation whose report figures are computed by hand in the tests.

The period is ISO week 2024-W18 (29 April to 5 May 2024; it ends at AS_OF, 6 May 00:00 UTC).
Bundles: consumer = AI-101 (2 h, due 30 days) + PROMPT-1 (3 h); analyst = AI-101;
leader = LEAD-1 (4 h, due 14 days) + RISK-1 (1.5 h); builder = skillbuilder GENAI-ARCH (10 h,
due 60 days). Every enrollment the LMS holds started on 1 April unless said otherwise.

==== ===================== ========== ===============================================
key  persona (tier)        status     by the end of W18
==== ===================== ========== ===============================================
p01  consumer (C)          active     AI-101 done 1 Mar, PROMPT-1 done 5 Mar: finished
p02  consumer (C)          active     AI-101 done 10 Feb, PROMPT-1 40 % (in progress)
p03  consumer (C)          active     none; AI-101 since 1 Mar: overdue; a 30 % record
                                      changed on 8 May says nothing about W18
p04  consumer (C)          on leave   none; AI-101 since 1 Mar but on leave: not overdue
p05  consumer (C)          active     AI-101 done 10 May (after W18: not started, and
                                      overdue: due 1 May); PROMPT-1 10 % on 20 Apr
p06  stat. analyst (C)     active     AI-101 done 20 Apr: finished
p07  leader (L)            active     LEAD-1 done 2 Apr, RISK-1 done (no date): finished
p08  leader (L)            active     LEAD-1 50 % (since 22 Apr: due 6 May, not overdue)
p09  developer (B)         active     GENAI-ARCH done 2 Apr 01:30 +02:00 (1 Apr UTC)
p10  no persona            active     no courses
p11  consumer              left       terminated 1 Mar: not counted
p12  consumer (C)          left       terminated 10 May: counted in W18 (active then)
p13  consumer (C)          unusable   no e-mail: 2 enrollments not enrollable
p14  consumer              active     hired 20 May: not counted in W18
p15  consumer (C) ×4       active     p15-p18: nothing yet (2 not started each)
==== ===================== ========== ===============================================

Manager chain: p07 manages p01, p02, p03; p01 manages p07 (a cycle); p08 manages p09.
Counted in W18: 16 people (15 active, 1 on leave): consumers 12, leaders 2, builders 1,
unassigned 1: builders 1/16 = 6.25 % → 6.3 % (half-up).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType

from connector.model import Completion, Course, Person, Persona, PersonStatus, RecordProblem, Tier
from connector.report.allocation import ReportInput

GENERATED_AT = datetime(2024, 5, 20, 2, 0, tzinfo=UTC)
TARGETS = {Tier.CONSUMERS: 70.0, Tier.LEADERS: 20.0, Tier.BUILDERS: 10.0}

CONSUMER = Persona("consumer", Tier.CONSUMERS, "Consumer", "consumer-bundle")
ANALYST = Persona(
    "statistical-analyst", Tier.CONSUMERS, "Statistical analyst", "analyst", "statistical analyst"
)
LEADER = Persona("leader", Tier.LEADERS, "Business decision maker", "leader-bundle")
DEVELOPER = Persona("developer", Tier.BUILDERS, "Developer", "builder-bundle", "developer")

M, SB = "moodle", "skillbuilder"
AI101 = Course(M, "AI-101", "Responsible AI", 2.0, due_days=30)
PROMPT1 = Course(M, "PROMPT-1", "Prompt engineering fundamentals", 3.0)
LEAD1 = Course(M, "LEAD-1", "Building business cases for AI", 4.0, due_days=14)
RISK1 = Course(M, "RISK-1", "Assessing AI risk", 1.5)
ARCH = Course(SB, "GENAI-ARCH", "Generative AI architecture", 10.0, due_days=60)
BUNDLES = {
    "consumer-bundle": (AI101, PROMPT1),
    "analyst": (AI101,),
    "leader-bundle": (LEAD1, RISK1),
    "builder-bundle": (ARCH,),
}
AS_OF = datetime(2024, 5, 6, tzinfo=UTC)


def person(key: str, first: str, last: str, **kw: object) -> Person:
    attributes = kw.pop("attributes", {})
    return Person(key, f"{key}@example.org", first, last,  # type: ignore[arg-type]
                  attributes=MappingProxyType(dict(attributes)), **kw)  # type: ignore[arg-type]


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def done(key: str, ref: str, when: datetime | None, target: str = M) -> Completion:
    return Completion(key, target, ref, True, when, 100.0, "moodle")


def partly(key: str, ref: str, progress: float) -> Completion:
    return Completion(key, M, ref, False, None, progress, "moodle")


def people() -> dict[str, Person]:
    left = PersonStatus.LEFT
    return {
        "p01": person("p01", "Ada", "Lovelace", department="Finance", title="Clerk",
                      manager_key="p07"),
        "p02": person("p02", "Zoë", "Brontë", department="Sales", manager_key="p07"),
        "p03": person("p03", "Łukasz", "Nowak", manager_key="p07"),
        "p04": person("p04", "Grace", "Hopper", status=PersonStatus.DISABLED),
        "p05": person("p05", "Alan", "Turing"),
        "p06": person("p06", "Karl", "Pearson"),
        "p07": person("p07", "Indra", "Nooyi", title="CFO", manager_key="p01"),
        "p08": person("p08", "Satya", "Nadella"),
        "p09": person("p09", "Linus", "Torvalds", department="IT", manager_key="p08"),
        "p10": person("p10", "Nobody", "Special"),
        "p11": person("p11", "Gone", "Already", status=left,
                      attributes={"termination_date": "2024-03-01"}),
        "p12": person("p12", "Leaving", "Soon", status=left,
                      attributes={"termination_date": "2024-05-10"}),
        "p14": person("p14", "New", "Starter", attributes={"hire_date": "2024-05-20"}),
        "p15": person("p15", "Katherine", "Johnson", attributes={"preferred_name": "Kate"}),
        "p16": person("p16", "Dorothy", "Vaughan"),
        "p17": person("p17", "Mary", "Jackson"),
        "p18": person("p18", "Annie", "Easley"),
    }


def build_input(**overrides: object) -> ReportInput:
    everyone = people()
    personas = {k: CONSUMER for k in ("p01", "p02", "p03", "p04", "p05", "p11", "p12", "p13",
                                      "p14", "p15", "p16", "p17", "p18")}
    personas |= {"p06": ANALYST, "p07": LEADER, "p08": LEADER, "p09": DEVELOPER}
    plus_two = timezone(timedelta(hours=2))
    completions = [
        done("p01", "AI-101", at("2024-03-01T10:00")),
        done("p01", "PROMPT-1", at("2024-03-05T10:00")),
        done("p02", "AI-101", at("2024-02-10T09:00")),
        partly("p02", "PROMPT-1", 40.0),
        partly("p03", "AI-101", 30.0),
        done("p05", "AI-101", at("2024-05-10T09:00")),
        partly("p05", "PROMPT-1", 10.0),
        done("p06", "AI-101", at("2024-04-20T08:00")),
        done("p07", "LEAD-1", at("2024-04-02T08:00")),
        done("p07", "RISK-1", None),
        partly("p08", "LEAD-1", 50.0),
        done("p09", "GENAI-ARCH", datetime(2024, 4, 2, 1, 30, tzinfo=plus_two), SB),
        done("p11", "AI-101", at("2024-02-01T08:00")),
    ]
    recorded = {
        ("p01", M, "AI-101"): at("2024-03-02T02:00"),
        ("p01", M, "PROMPT-1"): at("2024-03-06T02:00"),
        ("p02", M, "AI-101"): at("2024-02-11T02:00"),
        ("p02", M, "PROMPT-1"): at("2024-04-10T02:00"),
        ("p03", M, "AI-101"): at("2024-05-08T02:00"),
        ("p05", M, "AI-101"): at("2024-05-11T02:00"),
        ("p05", M, "PROMPT-1"): at("2024-04-20T02:00"),
        ("p06", M, "AI-101"): at("2024-04-21T02:00"),
        ("p07", M, "LEAD-1"): at("2024-04-03T02:00"),
        ("p07", M, "RISK-1"): at("2024-04-03T02:00"),
        ("p08", M, "LEAD-1"): at("2024-05-01T02:00"),
        ("p09", SB, "GENAI-ARCH"): at("2024-04-03T02:00"),
    }
    since = {
        (k, c.target, c.ref): at("2024-04-01T00:00")
        for k in ("p01", "p02", "p03", "p04", "p05", "p06", "p07", "p08", "p09")
        for c in BUNDLES[personas[k].bundle]
    }
    since[("p03", M, "AI-101")] = at("2024-03-01T00:00")
    since[("p04", M, "AI-101")] = at("2024-03-01T00:00")
    since[("p08", M, "LEAD-1")] = at("2024-04-22T00:00")
    unusable = Person("p13", "", "Nora", "Mailless")
    values: dict[str, object] = {
        "as_of": AS_OF,
        "since": since,
        "period": "2024-W18",
        "title": "Generative AI upskilling progress",
        "generated_at": GENERATED_AT,
        "people": everyone,
        "personas": personas,
        "bundles": BUNDLES,
        "completions": completions,
        "recorded": recorded,
        "people_targets": TARGETS,
        "hours_targets": TARGETS,
        "tolerance": 5.0,
        "unusable": {"p13": (unusable, "no e-mail address")},
        "skipped": (
            RecordProblem("examples/org.csv:17", "p13 has no email; row skipped", "p13",
                          "email"),
            RecordProblem("examples/org.csv:23", "E023: e-mail ada@example.org is already "
                          "used by p01 on line 2 (ignoring case); row skipped", "E023", "email"),
            RecordProblem("examples/org.csv:2", "p01: e-mail ada@example.org is also used by "
                          "E023 on line 23 (ignoring case); this row is kept", "p01", "email"),
        ),
    }
    values |= overrides
    return ReportInput(**values)  # type: ignore[arg-type]
