"""The entries of each mappings file, validated one by one and merged across files.

Each entry keeps its :class:`Place` (file and node path) so that the checks made later, on the
merged sections, can still name the line that holds the problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from connector.model import Tier
from connector.personas.conditions import Condition, parse_condition
from connector.personas.marked_yaml import MarkedDocument, NodePath
from connector.personas.schema import (
    ALLOWED_KEYS,
    SECTIONS,
    BundleEntry,
    ExclusionsEntry,
    LeaderEntry,
    OverrideEntry,
    PersonaEntry,
    RuleEntry,
    TierEntry,
)

Entry = TypeVar("Entry", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Place:
    """A node of one file: turns into ``file:line:column`` for messages."""

    label: str
    doc: MarkedDocument
    path: NodePath

    def sub(self, *more: str | int) -> Place:
        return Place(self.label, self.doc, (*self.path, *more))

    def line(self) -> int:
        return self.doc.position(self.path).line

    def __str__(self) -> str:
        where = self.doc.position(self.path)
        return f"{self.label}:{where.line}:{where.column}"


@dataclass(frozen=True, slots=True)
class Problem:
    label: str
    line: int
    column: int
    text: str

    def __str__(self) -> str:
        if self.line == 0:
            return f"{self.label}: {self.text}"
        return f"{self.label}:{self.line}:{self.column}: {self.text}"


class Problems:
    def __init__(self) -> None:
        self.found: list[Problem] = []

    def at(self, place: Place, text: str) -> None:
        where = place.doc.position(place.path)
        self.found.append(Problem(place.label, where.line, where.column, text))

    def at_file(self, label: str, text: str, line: int = 0, column: int = 0) -> None:
        self.found.append(Problem(label, line, column, text))

    def messages(self) -> list[str]:
        ordered = sorted(self.found, key=lambda p: (p.label, p.line, p.column, p.text))
        return [str(problem) for problem in ordered]


@dataclass(slots=True)
class RuleDraft:
    entry: RuleEntry
    condition: Condition | None  # None: the condition has problems, already reported
    place: Place


class Sections:
    """The sections of every file, merged, with the place each entry came from."""

    def __init__(self) -> None:
        self.tiers: dict[str, tuple[TierEntry, Place]] = {}
        self.tier_sections: list[Place] = []
        self.tolerance: tuple[float, Place] | None = None
        self.default_persona: tuple[str, Place] | None = None
        self.personas: dict[str, tuple[PersonaEntry, Place]] = {}
        self.bundles: dict[str, tuple[BundleEntry, Place]] = {}
        self.rules: list[RuleDraft] = []
        self.leaders: dict[str, tuple[LeaderEntry, Place]] = {}
        self.overrides: dict[str, tuple[OverrideEntry, Place]] = {}
        self.exclusions: list[tuple[ExclusionsEntry, Place]] = []
        self.broken: set[tuple[str, str]] = set()  # (section, key) defined but invalid
        self.first: dict[tuple[str, str], Place] = {}

    def known(self, section: str, key: str) -> bool:
        """Defined (validly or not): a reference to it is not an "unknown" problem."""
        return (section, key) in self.first or (section, key) in self.broken


def _pydantic_message(error: ErrorDetails, kind: str) -> str:
    loc = error["loc"]
    field = str(loc[-1]) if loc else kind
    if error["type"] == "missing":
        return f"'{field}' is required here; add it"
    if error["type"] == "extra_forbidden":
        context = kind
        if kind == "bundles" and loc and loc[0] == "courses":
            context = "courses"
        elif kind == "leaders" and len(loc) > 1 and loc[0] == "scope":
            context = "scope"
        allowed = ", ".join(ALLOWED_KEYS[context])
        return f"unknown key '{field}'; remove it or correct its spelling (allowed: {allowed})"
    dotted = ".".join(str(part) for part in loc)
    if error["type"] == "model_type":
        what = "course" if dotted.startswith("courses") else kind.removesuffix("s")
        return f"{dotted or 'this'}: a {what} must be a mapping of keys; indent its keys below it"
    if error["type"] == "value_error":
        text = error["msg"].removeprefix("Value error, ")
        return f"{dotted}: {text}" if dotted else text
    shown = repr(error["input"])
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return f"{dotted}: {error['msg']} (got {shown}); fix the value"


def _entry(
    model: type[Entry], raw: Any, place: Place, kind: str, problems: Problems
) -> Entry | None:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            problems.at(place.sub(*error["loc"]), _pydantic_message(error, kind))
        return None


def _claim(sections: Sections, section: str, key: str, place: Place, problems: Problems) -> bool:
    """Record that ``key`` of ``section`` is defined at ``place``; False for a duplicate."""
    first = sections.first.get((section, key))
    if first is not None:
        problems.at(
            place,
            f"{section} '{key}' is already defined at {first}; keep only one definition",
        )
        return False
    sections.first[(section, key)] = place
    return True


def _keyed_section(
    raw: Any,
    place: Place,
    section: str,
    model: type[Entry],
    target: dict[str, tuple[Entry, Place]],
    sections: Sections,
    problems: Problems,
) -> None:
    if not isinstance(raw, dict):
        problems.at(place, f"'{section}' must be a mapping of keys to entries; indent the entries")
        return
    for key, value in raw.items():
        here = place.sub(str(key))
        if not isinstance(key, str) or not key.strip():
            problems.at(here, f"{section} keys must be non-empty text, got {key!r}; quote it")
            continue
        if not _claim(sections, section, key, here, problems):
            continue
        if section == "tiers" and key not in Tier.__members__.values():
            problems.at(
                here,
                f"unknown tier '{key}'; the tiers are " + ", ".join(tier.value for tier in Tier),
            )
            sections.broken.add((section, key))
            continue
        entry = _entry(model, value, here, section, problems)
        if entry is None:
            sections.broken.add((section, key))
        else:
            target[key] = (entry, here)


def _rules_section(raw: Any, place: Place, sections: Sections, problems: Problems) -> None:
    if not isinstance(raw, list):
        problems.at(place, "'rules' must be a list; start each rule with '- name:'")
        return
    for number, item in enumerate(raw):
        here = place.sub(number)
        entry = _entry(RuleEntry, item, here, "rules", problems)
        condition = None
        if isinstance(item, dict) and "when" in item:
            condition, found = parse_condition(item["when"], (*here.path, "when"))
            for path, text in found:
                problems.at(Place(here.label, here.doc, path), text)
        if entry is None:
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                sections.broken.add(("rules", item["name"]))
            continue
        if _claim(sections, "rule", entry.name, here, problems):
            sections.rules.append(RuleDraft(entry, condition, here))


def _scalar(raw: Any, place: Place, name: str, problems: Problems) -> Any:
    if name == "tolerance":
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 <= raw <= 100:
            problems.at(
                place,
                f"tolerance must be a number 0..100, got {raw!r}; give percentage points, e.g. 5",
            )
            return None
        return float(raw)
    if not isinstance(raw, str) or not raw.strip():
        problems.at(place, f"default_persona must be a persona key, got {raw!r}; e.g. consumer")
        return None
    return raw


def collect(doc: MarkedDocument, label: str, sections: Sections, problems: Problems) -> None:
    root = Place(label, doc, ())
    if doc.data is None:
        return
    if not isinstance(doc.data, dict):
        problems.at(
            root,
            "a mappings file must be a mapping of sections; start lines with one of: "
            + ", ".join(SECTIONS),
        )
        return
    for name, raw in doc.data.items():
        place = root.sub(str(name))
        if name not in SECTIONS:
            problems.at(
                place,
                f"unknown section '{name}'; remove it or correct its spelling "
                "(allowed: " + ", ".join(SECTIONS) + ")",
            )
        elif name == "tiers":
            sections.tier_sections.append(place)
            _keyed_section(raw, place, name, TierEntry, sections.tiers, sections, problems)
        elif name == "personas":
            _keyed_section(raw, place, name, PersonaEntry, sections.personas, sections, problems)
        elif name == "bundles":
            _keyed_section(raw, place, name, BundleEntry, sections.bundles, sections, problems)
        elif name == "rules":
            _rules_section(raw, place, sections, problems)
        elif name == "leaders":
            _keyed_section(raw, place, name, LeaderEntry, sections.leaders, sections, problems)
        elif name == "overrides":
            _keyed_section(raw, place, name, OverrideEntry, sections.overrides, sections, problems)
        elif name == "exclusions":
            entry = _entry(ExclusionsEntry, raw, place, name, problems)
            if entry is not None:
                sections.exclusions.append((entry, place))
        elif _claim(sections, "setting", name, place, problems):
            value = _scalar(raw, place, name, problems)
            if value is not None and name == "tolerance":
                sections.tolerance = (value, place)
            elif value is not None:
                sections.default_persona = (value, place)
