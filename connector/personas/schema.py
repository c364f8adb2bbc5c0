"""The shape of the mappings YAML, as pydantic models of each entry.

The folder holds several files whose top-level sections are merged; a section may appear in
any file (the shipped defaults keep one per file)::

    tiers:            {consumers|leaders|builders: {title, target_share}}
    tolerance:        percentage points a tier may drift from its target share
    default_persona:  the persona of anyone no rule matches
    personas:         {<key>: {tier, title, role?, bundle}}
    bundles:          {<key>: {title, includes?: [bundle keys], courses?: [course]}}
    rules:            [{name, priority, persona, description?, when: <condition>}]

Entries are validated one by one (so one broken persona does not hide the problems of the
others) in strict mode: YAML already gives typed values, and ``priority: "10"`` is a mistake.
Conditions (``when``) are parsed by :mod:`connector.personas.conditions`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

SECTIONS = ("tiers", "tolerance", "default_persona", "personas", "bundles", "rules")


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
    target_share: float = Field(ge=0, le=100)


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


Tolerance = Annotated[float, Field(ge=0, le=100)]

#: the keys allowed inside each kind of entry, for "unknown key" hints
ALLOWED_KEYS: dict[str, tuple[str, ...]] = {
    "": SECTIONS,
    "tiers": tuple(TierEntry.model_fields),
    "personas": tuple(PersonaEntry.model_fields),
    "bundles": tuple(BundleEntry.model_fields),
    "courses": tuple(CourseEntry.model_fields),
    "rules": tuple(RuleEntry.model_fields),
}
