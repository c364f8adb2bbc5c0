"""Loading and validating the role mappings folder (``mappings/``).

Every ``*.yaml``/``*.yml`` file of the folder is read with the position of each node
(:mod:`connector.personas.marked_yaml`), each entry is validated against
:mod:`connector.personas.schema`, the sections of all files are merged, and then the
cross-references are checked: personas name known tiers and bundles, rules name known
personas, includes name known bundles without cycles, tier shares sum to 100. Every problem
found is collected, and :func:`load_mappings` raises one :class:`~connector.errors.MappingsError`
listing them all as ``mappings/rules.yaml:12:5: <message>; <what to do>``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType

from connector.errors import MappingsError
from connector.model import Bundle, Course, Leader, Persona, ScopeKind, Tier
from connector.personas.conditions import Condition, fold
from connector.personas.marked_yaml import read_marked_yaml
from connector.personas.schema import CourseEntry
from connector.personas.sections import Place, Problems, Sections, collect

SHARE_TOTAL = 100.0
MAX_FILE_BYTES = 1_000_000  # a hand-written mappings file is a few kilobytes
DEFAULT_TOLERANCE = 5.0


@dataclass(frozen=True)
class TierTarget:
    """A tier of the 70-20-10 model, its target share of people and, separately, of training
    hours, in percent (the hours target defaults to the people target)."""

    tier: Tier
    title: str
    share: float
    hours_share: float | None = None

    @property
    def hours(self) -> float:
        return self.share if self.hours_share is None else self.hours_share


@dataclass(frozen=True)
class Rule:
    """Who gets ``persona``: the people ``condition`` matches, unless a rule of higher
    precedence matches them too. ``source`` is where it is written (``mappings/rules.yaml:12``)."""

    name: str
    priority: int
    persona: str
    description: str
    condition: Condition
    source: str
    at: str = ""  # file:line:column of the rule, for validation messages

    @property
    def precedence(self) -> tuple[int, str]:
        """Sort key: higher priority first, then rule name alphabetically (the tie-break)."""
        return (-self.priority, self.name)


@dataclass(frozen=True, slots=True)
class Override:
    """An administrator's pin on one person: a persona that wins over every rule, or
    ``leave_alone`` (the planner sends nothing for them: no enrollment, no removal). A pin
    with ``expires`` holds through that day and is ignored (and reported) after it."""

    person_key: str
    persona: str | None
    leave_alone: bool
    author: str
    reason: str
    expires: date | None
    source: str  # mappings/overrides.yaml:7

    def expired(self, today: date) -> bool:
        return self.expires is not None and today > self.expires

    def describe(self) -> str:
        what = "leave alone" if self.leave_alone else f"persona {self.persona}"
        until = f", expires {self.expires.isoformat()}" if self.expires else ""
        return f"{what} (by {self.author}: {self.reason}{until}; {self.source})"


@dataclass(frozen=True, slots=True)
class Exclusions:
    """People and groups (through nesting) the connector never touches."""

    people: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()  # folded names


@dataclass(frozen=True)
class Mappings:
    """The validated mappings: tiers and targets, personas, flattened bundles, sorted rules.

    ``content_hash`` is the sha256 of the files' names and bytes in name order: the mappings
    version each run records."""

    tiers: Mapping[Tier, TierTarget]
    tolerance: float
    default_persona: str
    personas: Mapping[str, Persona]
    bundles: Mapping[str, Bundle]
    rules: tuple[Rule, ...]
    content_hash: str
    leaders: Mapping[str, Leader] = field(default_factory=lambda: MappingProxyType({}))
    overrides: Mapping[str, Override] = field(default_factory=lambda: MappingProxyType({}))
    exclusions: Exclusions = Exclusions()
    #: where each course is first defined, (target, ref) → ``file:line:column``
    course_sources: Mapping[tuple[str, str], str] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def bundle_for(self, persona_key: str) -> Bundle:
        """The bundle (with includes flattened) of the persona ``persona_key``."""
        persona = self.personas.get(persona_key)
        if persona is None:
            raise KeyError(f"unknown persona {persona_key!r}")
        return self.bundles[persona.bundle]

    def courses(self) -> dict[tuple[str, str], Course]:
        """Every course of every bundle, by (target, ref)."""
        out: dict[tuple[str, str], Course] = {}
        for key in sorted(self.bundles):
            for course in self.bundles[key].courses:
                out.setdefault((course.target, course.ref), course)
        return out


def _known(keys: Mapping[str, object]) -> str:
    names = sorted(keys)
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    return shown or "none defined"


def _tier_targets(sections: Sections, problems: Problems, folder: str) -> dict[Tier, TierTarget]:
    targets = {
        Tier(key): TierTarget(Tier(key), entry.title, entry.target_share, entry.target_hours_share)
        for key, (entry, _) in sections.tiers.items()
    }
    if not sections.tier_sections:
        problems.at_file(
            folder,
            "no tiers are defined; add a tiers: section with consumers, leaders and builders "
            "(see the shipped tiers.yaml)",
        )
        return targets
    anchor = sections.tier_sections[0]
    broken = any(section == "tiers" for section, _ in sections.broken)
    missing = [tier.value for tier in Tier if tier.value not in sections.tiers]
    if missing and not broken:
        problems.at(
            anchor,
            "missing tier(s) " + ", ".join(missing) + "; define all three tiers: "
            "consumers, leaders and builders (a target_share of 0 is allowed)",
        )
    elif not broken:
        for name, total in (
            ("target_share", sum(t.share for t in targets.values())),
            ("target_hours_share", sum(t.hours for t in targets.values())),
        ):
            if abs(total - SHARE_TOTAL) > 1e-6:
                problems.at(
                    anchor,
                    f"the tiers' {name} values sum to {total:g}, not 100; adjust them so "
                    "they add up to 100 (the seed's model is 70, 20, 10)",
                )
    return targets


def _personas(sections: Sections, problems: Problems, folder: str) -> dict[str, Persona]:
    personas: dict[str, Persona] = {}
    tiers = ", ".join(tier.value for tier in Tier)
    for key, (entry, place) in sorted(sections.personas.items()):
        if entry.tier not in tuple(Tier):
            problems.at(
                place.sub("tier"),
                f"persona '{key}' has unknown tier '{entry.tier}'; use one of {tiers}",
            )
        else:
            personas[key] = Persona(key, Tier(entry.tier), entry.title, entry.bundle, entry.role)
        if not sections.known("bundles", entry.bundle):
            problems.at(
                place.sub("bundle"),
                f"persona '{key}' names unknown bundle '{entry.bundle}'; define it under "
                f"bundles: or use one of: {_known(sections.bundles)}",
            )
    if not sections.personas and not any(s == "personas" for s, _ in sections.broken):
        problems.at_file(folder, "no personas are defined; add a personas: section")
    if sections.default_persona is None:
        problems.at_file(
            folder, "default_persona is not set; add e.g. 'default_persona: consumer' to tiers.yaml"
        )
    else:
        value, place = sections.default_persona
        if not sections.known("personas", value):
            problems.at(
                place,
                f"default_persona '{value}' is not a defined persona; use one of: "
                f"{_known(sections.personas)}",
            )
    return personas


class _Flattener:
    """Bundles with their includes resolved: included courses first, in order, then the
    bundle's own; the first course of each (target, ref) is kept."""

    def __init__(self, sections: Sections, problems: Problems) -> None:
        self.sections = sections
        self.problems = problems
        self.done: dict[str, tuple[Course, ...]] = {}
        self.incomplete: set[str] = set()
        self.visiting: list[str] = []
        self.cycles: set[frozenset[str]] = set()
        self.defined: dict[tuple[str, str], tuple[Course, Place]] = {}

    def courses(self, key: str) -> tuple[Course, ...]:
        if key in self.done:
            return self.done[key]
        entry, place = self.sections.bundles[key]
        self.visiting.append(key)
        found: dict[tuple[str, str], Course] = {}
        for number, included in enumerate(entry.includes):
            for course in self._included(key, included, place.sub("includes", number)):
                found.setdefault((course.target, course.ref), course)
        for number, course_entry in enumerate(entry.courses):
            course = self._course(course_entry, place.sub("courses", number))
            found.setdefault((course.target, course.ref), course)
        self.visiting.pop()
        self.done[key] = tuple(found.values())
        return self.done[key]

    def _included(self, key: str, included: str, place: Place) -> tuple[Course, ...]:
        if included in self.visiting:
            cycle = [*self.visiting[self.visiting.index(included) :], included]
            self.incomplete.update(cycle)
            if frozenset(cycle) not in self.cycles:
                self.cycles.add(frozenset(cycle))
                self.problems.at(
                    place,
                    "bundle includes form a cycle: "
                    + " → ".join(cycle)
                    + "; remove one of these includes",
                )
            return ()
        if included not in self.sections.bundles:
            self.incomplete.add(key)
            if not self.sections.known("bundles", included):
                self.problems.at(
                    place,
                    f"bundle '{key}' includes unknown bundle '{included}'; define it or use "
                    f"one of: {_known(self.sections.bundles)}",
                )
            return ()
        courses = self.courses(included)
        if included in self.incomplete:
            self.incomplete.add(key)
        return courses

    def _course(self, entry: CourseEntry, place: Place) -> Course:
        course = Course(
            entry.target,
            entry.ref,
            entry.title,
            entry.hours,
            entry.due_days,
            tuple(entry.activities),
            entry.kind,
        )
        first = self.defined.get((course.target, course.ref))
        if first is None:
            self.defined[(course.target, course.ref)] = (course, place)
            return course
        if first[0] != course:
            self.problems.at(
                place,
                f"course {course.target} {course.ref} is defined differently at {first[1]} "
                "(title, hours, due_days or activities differ); define it once and include that "
                "bundle",
            )
        return first[0]


def _bundles(
    sections: Sections, problems: Problems
) -> tuple[dict[str, Bundle], dict[tuple[str, str], str]]:
    flattener = _Flattener(sections, problems)
    bundles: dict[str, Bundle] = {}
    for key, (entry, place) in sorted(sections.bundles.items()):
        courses = flattener.courses(key)
        if not courses and key not in flattener.incomplete:
            problems.at(
                place,
                f"bundle '{key}' has no courses, neither its own nor through includes; add "
                "courses: or include a bundle that has some",
            )
        bundles[key] = Bundle(key, entry.title, courses)
    return bundles, {ident: str(place) for ident, (_, place) in flattener.defined.items()}


def _rules(sections: Sections, problems: Problems) -> list[Rule]:
    rules = []
    for draft in sections.rules:
        entry = draft.entry
        if not sections.known("personas", entry.persona):
            problems.at(
                draft.place.sub("persona"),
                f"rule '{entry.name}' names unknown persona '{entry.persona}'; use one of: "
                f"{_known(sections.personas)}",
            )
        if draft.condition is None:
            continue
        source = f"{draft.place.label}:{draft.place.line()}"
        rule = Rule(
            entry.name,
            entry.priority,
            entry.persona,
            entry.description,
            draft.condition,
            source,
            str(draft.place),
        )
        rules.append(rule)
    return sorted(rules, key=lambda rule: rule.precedence)


def _leaders(sections: Sections) -> dict[str, Leader]:
    """The report recipients. Person keys (``person``, ``scope.manager``) can only be checked
    against a snapshot: ``upskill mappings validate --online`` does, and the report skips and
    reports a leader whose person is not in the directory."""
    leaders: dict[str, Leader] = {}
    for key, (entry, place) in sorted(sections.leaders.items()):
        scope = entry.scope
        if scope.manager is not None:
            kind, value = ScopeKind.MANAGER, scope.manager.strip()
        elif scope.department is not None:
            kind, value = ScopeKind.DEPARTMENT, scope.department.strip()
        else:
            kind, value = ScopeKind.ORGANISATION, None
        leaders[key] = Leader(
            key=key,
            person_key=entry.person.strip() if entry.person is not None else None,
            email=entry.email,
            scope=kind,
            scope_value=value,
            name=entry.name,
            source=f"{place.label}:{place.line()}",
        )
    return leaders


def _overrides(sections: Sections, problems: Problems) -> dict[str, Override]:
    found: dict[str, Override] = {}
    for key, (entry, place) in sorted(sections.overrides.items()):
        if entry.persona is not None and not sections.known("personas", entry.persona):
            problems.at(
                place.sub("persona"),
                f"override of '{key}' pins unknown persona '{entry.persona}'; use one of: "
                f"{_known(sections.personas)}",
            )
        found[key] = Override(
            person_key=key,
            persona=entry.persona,
            leave_alone=bool(entry.leave_alone),
            author=entry.author,
            reason=entry.reason,
            expires=entry.expires,
            source=f"{place.label}:{place.line()}",
        )
    return found


def _exclusions(sections: Sections) -> Exclusions:
    people = {key.strip() for entry, _ in sections.exclusions for key in entry.people}
    groups = {fold(name) for entry, _ in sections.exclusions for name in entry.groups}
    return Exclusions(frozenset(people), frozenset(groups))


def _build(
    sections: Sections, problems: Problems, folder: str, content_hash: str
) -> Mappings | None:
    tiers = _tier_targets(sections, problems, folder)
    personas = _personas(sections, problems, folder)
    bundles, course_sources = _bundles(sections, problems)
    rules = _rules(sections, problems)
    overrides = _overrides(sections, problems)
    if problems.found or sections.default_persona is None:
        return None
    return Mappings(
        tiers=MappingProxyType({tier: tiers[tier] for tier in Tier if tier in tiers}),
        tolerance=sections.tolerance[0] if sections.tolerance else DEFAULT_TOLERANCE,
        default_persona=sections.default_persona[0],
        personas=MappingProxyType(personas),
        bundles=MappingProxyType(bundles),
        rules=tuple(rules),
        content_hash=content_hash,
        leaders=MappingProxyType(_leaders(sections)),
        course_sources=MappingProxyType(course_sources),
        overrides=MappingProxyType(overrides),
        exclusions=_exclusions(sections),
    )


def _mapping_files(folder: Path) -> list[Path]:
    if not folder.exists():
        raise MappingsError(
            f"the mappings folder {folder} does not exist; create it (copy the shipped mappings/) "
            "or set [mappings] path in upskill.toml"
        )
    if not folder.is_dir():
        raise MappingsError(f"{folder} is not a folder; [mappings] path must name the folder")
    files = sorted(
        (
            file
            for file in folder.iterdir()
            if file.is_file() and file.suffix in (".yaml", ".yml") and not file.name.startswith(".")
        ),
        key=lambda file: file.name,
    )
    if not files:
        raise MappingsError(
            f"the mappings folder {folder} holds no .yaml files; add tiers.yaml, personas.yaml, "
            "bundles.yaml and rules.yaml (see the shipped mappings/)"
        )
    return files


def load_mappings(path: Path) -> Mappings:
    """Read, merge and validate every YAML file of the folder ``path``.

    Raises :class:`~connector.errors.MappingsError` listing every problem found."""
    files = _mapping_files(path)
    problems = Problems()
    sections = Sections()
    digest = hashlib.sha256()
    for file in files:
        label = (path / file.name).as_posix()
        try:
            size = file.stat().st_size
            if size > MAX_FILE_BYTES:
                problems.at_file(
                    label,
                    f"is {size:,} bytes, over the limit of {MAX_FILE_BYTES:,} for a mappings "
                    "file; it is not read. Mappings are written by hand: check that the file "
                    "is the right one, or split it into several files",
                )
                continue
            raw = file.read_bytes()
        except OSError as exc:
            problems.at_file(label, f"cannot be read ({exc.strerror}); check its permissions")
            continue
        name = file.name.encode("utf-8")
        digest.update(b"%d:%s%d:" % (len(name), name, len(raw)) + raw)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.at_file(label, f"is not UTF-8 text (byte {exc.start}); save it as UTF-8")
            continue
        doc, found = read_marked_yaml(text)
        for problem in found:
            problems.at_file(label, problem.message, problem.position.line, problem.position.column)
        if doc is not None:
            collect(doc, label, sections, problems)
    mappings = _build(sections, problems, path.as_posix(), digest.hexdigest())
    if problems.found or mappings is None:
        messages = problems.messages()
        raise MappingsError(
            f"the mappings in {path.as_posix()} have {len(messages)} problem(s); fix them and "
            "run again",
            messages,
        )
    return mappings
