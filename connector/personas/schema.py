"""The shape of the mappings YAML, as pydantic models of each entry.

The folder holds several files whose top-level sections are merged; a section may appear in
any file (the shipped defaults keep one per file)::

    tiers:            {consumers|leaders|builders: {title, target_share, target_hours_share}}
    tolerance:        percentage points a tier may drift from its target share
    default_persona:  the persona of anyone no rule matches
    personas:         {<key>: {tier, title, role?, bundle}}
    bundles:          {<key>: {title, includes?: [bundle keys], courses?: [course]}}
    rules:            [{name, priority, persona, description?, when: <condition>}]
    leaders:          {<key>: {person?, email?, name?, scope: {organisation: true} |
                               {manager: PERSON_KEY} | {department: NAME}}}
    overrides:        {<person key>: {persona: KEY | leave_alone: true, author, reason,
                                      expires?: YYYY-MM-DD}}
    exclusions:       {people?: [person keys], groups?: [group names]}

Entries are validated one by one (so one broken persona does not hide the problems of the
others) in strict mode: YAML already gives typed values, and ``priority: "10"`` is a mistake.
Conditions (``when``) are parsed by :mod:`connector.personas.conditions`.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

SECTIONS = (
    "tiers",
    "tolerance",
    "default_persona",
    "personas",
    "bundles",
    "rules",
    "leaders",
    "overrides",
    "exclusions",
)


def _number_as_text(value: Any) -> Any:
    """Skill Builder ids are numbers in YAML (``ref: 2205``); keep them as text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


Name = Annotated[str, Field(min_length=1)]
Ref = Annotated[str, BeforeValidator(_number_as_text), Field(min_length=1)]


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class TierEntry(Entry):
    title: Name
    target_share: float = Field(ge=0, le=100)  # of people
    target_hours_share: float | None = Field(None, ge=0, le=100)  # of hours; default: the same


class PersonaEntry(Entry):
    tier: Name
    title: Name
    role: Name | None = None
    bundle: Name


class CourseEntry(Entry):
    target: Literal["moodle", "skillbuilder"]
    ref: Ref
    title: Name
    hours: float
    due_days: int | None = Field(default=None, gt=0)
    activities: list[str] = []  # xAPI activity ids whose completion completes this course
    kind: Literal["course", "learning_plan"] = "course"  # Skill Builder items only

    @model_validator(mode="after")
    def _kind_on_skillbuilder(self) -> CourseEntry:
        if self.kind != "course" and self.target != "skillbuilder":
            raise ValueError(
                f"kind {self.kind!r} is for Skill Builder items; a {self.target} course is "
                "a course (remove kind)"
            )
        return self

    @field_validator("activities")
    @classmethod
    def _iris(cls, value: list[str]) -> list[str]:
        for iri in value:
            scheme, sep, rest = iri.partition(":")
            if not sep or not scheme.isascii() or not scheme.isalpha() or not rest or " " in iri:
                raise ValueError(
                    f"activity {iri!r} is not an absolute IRI; give the xAPI activity id as "
                    "the LRS statements carry it, e.g. https://lms.example.org/course/12"
                )
        return value

    @field_validator("hours")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError(
                f"hours must be positive, got {value:g}; give the expected learning time "
                "in hours, e.g. 1.5"
            )
        return value


class BundleEntry(Entry):
    title: Name
    includes: list[Name] = []
    courses: list[CourseEntry] = []


class RuleEntry(Entry):
    name: Name
    priority: int
    persona: Name
    description: str = ""
    when: Any


#: the same shape the HR CSV reader accepts: something@domain.tld, no spaces
EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


class ScopeEntry(Entry):
    """Exactly one of the three: everyone, a manager's subtree, one department."""

    organisation: Literal[True] | None = None
    manager: Name | None = None
    department: Name | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ScopeEntry:
        given = [name for name in ("organisation", "manager", "department") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError(
                "name exactly one of organisation: true, manager: PERSON_KEY or "
                f"department: NAME (got {', '.join(given) or 'none'})"
            )
        return self


class LeaderEntry(Entry):
    person: Ref | None = None
    email: Name | None = None
    name: str = ""
    scope: ScopeEntry

    @field_validator("email")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL.fullmatch(value.strip()):
            raise ValueError(f"'{value}' is not an e-mail address; write e.g. ada@example.org")
        return value.strip() if value is not None else None

    @model_validator(mode="after")
    def _addressable(self) -> LeaderEntry:
        if self.person is None and self.email is None:
            raise ValueError(
                "a leader needs person: PERSON_KEY (the e-mail comes from the directory) "
                "or email: ADDRESS, or both"
            )
        return self


def _iso_date(value: Any) -> Any:
    """YAML reads ``2027-03-31`` as a date already; a quoted one is accepted too."""
    if isinstance(value, datetime):
        raise ValueError("give a date without a time, e.g. 2027-03-31")
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"'{value}' is not a date; write it as YYYY-MM-DD") from None
    return value


class OverrideEntry(Entry):
    persona: Name | None = None
    leave_alone: Literal[True] | None = None
    author: Name
    reason: Name
    expires: Annotated[date | None, BeforeValidator(_iso_date)] = None

    @model_validator(mode="after")
    def _one_pin(self) -> OverrideEntry:
        if (self.persona is None) == (self.leave_alone is None):
            raise ValueError(
                "an override pins either persona: KEY or leave_alone: true (exactly one)"
            )
        return self


class ExclusionsEntry(Entry):
    people: list[Ref] = []
    groups: list[Name] = []


Tolerance = Annotated[float, Field(ge=0, le=100)]

#: the keys allowed inside each kind of entry, for "unknown key" hints
ALLOWED_KEYS: dict[str, tuple[str, ...]] = {
    "": SECTIONS,
    "tiers": tuple(TierEntry.model_fields),
    "personas": tuple(PersonaEntry.model_fields),
    "bundles": tuple(BundleEntry.model_fields),
    "courses": tuple(CourseEntry.model_fields),
    "rules": tuple(RuleEntry.model_fields),
    "leaders": tuple(LeaderEntry.model_fields),
    "scope": tuple(ScopeEntry.model_fields),
    "overrides": tuple(OverrideEntry.model_fields),
    "exclusions": tuple(ExclusionsEntry.model_fields),
}
