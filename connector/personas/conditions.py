r"""The conditions of a rule (``when:``) and how they are read from YAML.

A condition is exactly one of::

    {group: NAME}                        member, directly or through nested groups
    {department: NAME or [NAMES]}        the person's department is one of them
    {title: REGEX}                       RE2 regex, searched in the title, case-insensitive
    {attribute: {NAME: VALUE or [VALUES]}}   an extra directory column (several names: all)
    {manager_chain: PERSON_KEY}          that person is anywhere above in the manager chain
    {all: [conditions]}  {any: [conditions]}  {not: condition}

Group names, departments and attribute values compare case-insensitively (directories differ
in how they spell them); attribute names compare exactly.

Title patterns are bounded in cost: they are matched by RE2 in time linear in the title
(:mod:`connector.personas.titles`; ``(a|a)*$`` or ``(a+)+$`` cannot backtrack), the engine
searches only the first :data:`TITLE_LIMIT` characters of a title, and patterns are limited to
:data:`PATTERN_LIMIT` characters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connector.personas.marked_yaml import NodePath
from connector.personas.titles import PatternError, TitlePattern

TITLE_LIMIT = 256
PATTERN_LIMIT = 500

KINDS = ("group", "department", "title", "attribute", "manager_chain", "all", "any", "not")


def fold(text: str) -> str:
    return text.strip().casefold()


@dataclass(frozen=True, slots=True)
class InGroup:
    group: str
    folded: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "folded", fold(self.group))


@dataclass(frozen=True, slots=True)
class InDepartment:
    departments: tuple[str, ...]
    folded: frozenset[str]


@dataclass(frozen=True, slots=True)
class TitleMatches:
    pattern: TitlePattern  # linear-time matching (connector.personas.titles)


@dataclass(frozen=True, slots=True)
class HasAttribute:
    name: str
    values: tuple[str, ...]
    folded: frozenset[str]


@dataclass(frozen=True, slots=True)
class ReportsTo:
    person_key: str


@dataclass(frozen=True, slots=True)
class AllOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    condition: Condition


Condition = InGroup | InDepartment | TitleMatches | HasAttribute | ReportsTo | AllOf | AnyOf | Not

ConditionProblem = tuple[NodePath, str]


def describe(condition: Condition) -> str:
    """The condition in words, as an explanation shows it."""
    match condition:
        case InGroup(group=group):
            return f"group {group}"
        case InDepartment(departments=names):
            return "department " + _listed(names)
        case TitleMatches(pattern=pattern):
            return f"title matches '{pattern.pattern}'"
        case HasAttribute(name=name, values=values):
            return f"attribute {name} " + _listed(values)
        case ReportsTo(person_key=key):
            return f"manager chain includes {key}"
        case AllOf(conditions=parts):
            return "(" + " and ".join(describe(part) for part in parts) + ")"
        case AnyOf(conditions=parts):
            return "(" + " or ".join(describe(part) for part in parts) + ")"
        case Not(condition=inner):
            return f"not {describe(inner)}"


def _listed(values: tuple[str, ...]) -> str:
    if len(values) == 1:
        return f"'{values[0]}'"
    return "in [" + ", ".join(f"'{value}'" for value in values) + "]"


def walk(condition: Condition) -> list[Condition]:
    """The condition and every condition inside it."""
    out: list[Condition] = [condition]
    match condition:
        case AllOf(conditions=parts) | AnyOf(conditions=parts):
            for part in parts:
                out.extend(walk(part))
        case Not(condition=inner):
            out.extend(walk(inner))
    return out


class _Reader:
    def __init__(self) -> None:
        self.problems: list[ConditionProblem] = []

    def fail(self, path: NodePath, message: str) -> None:
        self.problems.append((path, message))

    def text(self, raw: object, path: NodePath, what: str) -> str | None:
        if isinstance(raw, int) and not isinstance(raw, bool):
            raw = str(raw)
        if not isinstance(raw, str) or not raw.strip():
            self.fail(path, f"{what} must be a non-empty text, got {raw!r}; quote it if needed")
            return None
        return raw

    def texts(self, raw: object, path: NodePath, what: str) -> tuple[str, ...] | None:
        if isinstance(raw, list):
            if not raw:
                self.fail(path, f"{what} list is empty; give at least one value")
                return None
            items = [self.text(item, (*path, n), what) for n, item in enumerate(raw)]
            return None if None in items else tuple(item for item in items if item is not None)
        one = self.text(raw, path, what)
        return None if one is None else (one,)

    def condition(self, raw: object, path: NodePath) -> Condition | None:
        if not isinstance(raw, dict) or len(raw) != 1:
            self.fail(
                path,
                "a condition must be a mapping with exactly one key, one of "
                + ", ".join(KINDS)
                + f" (got {_short(raw)}); combine several with all: or any:",
            )
            return None
        ((kind, value),) = raw.items()
        here = (*path, str(kind))
        if kind not in KINDS:
            self.fail(here, f"unknown condition '{kind}'; use one of " + ", ".join(KINDS))
            return None
        return self._kind(str(kind), value, here)

    def _kind(self, kind: str, value: object, here: NodePath) -> Condition | None:
        if kind == "group":
            name = self.text(value, here, "group")
            return None if name is None else InGroup(name)
        if kind == "department":
            names = self.texts(value, here, "department")
            return None if names is None else InDepartment(names, frozenset(map(fold, names)))
        if kind == "title":
            return self._title(value, here)
        if kind == "attribute":
            return self._attribute(value, here)
        if kind == "manager_chain":
            key = self.text(value, here, "manager_chain")
            return None if key is None else ReportsTo(key.strip())
        if kind == "not":
            inner = self.condition(value, here)
            return None if inner is None else Not(inner)
        return self._combined(kind, value, here)

    def _title(self, value: object, here: NodePath) -> Condition | None:
        source = self.text(value, here, "title")
        if source is None:
            return None
        if len(source) > PATTERN_LIMIT:
            self.fail(
                here,
                f"title pattern is {len(source)} characters long (limit {PATTERN_LIMIT}); "
                "split it into several title conditions under any:",
            )
            return None
        try:
            return TitleMatches(TitlePattern(source))
        except PatternError as exc:
            self.fail(
                here,
                f"invalid regular expression '{source}': {exc}; fix the pattern (RE2 syntax: "
                "Python's without look-around and back-references; escape special characters "
                "with a backslash)",
            )
            return None

    def _attribute(self, value: object, here: NodePath) -> Condition | None:
        if not isinstance(value, dict) or not value:
            self.fail(
                here,
                f"attribute must map a column name to a value or a list of values "
                f"(got {_short(value)}); e.g. attribute: {{employment_type: contractor}}",
            )
            return None
        parts: list[Condition] = []
        for name, wanted in value.items():
            values = self.texts(wanted, (*here, str(name)), f"attribute {name}")
            if values is not None:
                parts.append(HasAttribute(str(name), values, frozenset(map(fold, values))))
        if len(parts) != len(value):
            return None
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def _combined(self, kind: str, value: object, here: NodePath) -> Condition | None:
        if not isinstance(value, list) or not value:
            self.fail(
                here,
                f"{kind} must be a non-empty list of conditions, got {_short(value)}; "
                f"write {kind}: [{{group: a}}, {{title: b}}]",
            )
            return None
        parts = [self.condition(item, (*here, n)) for n, item in enumerate(value)]
        if None in parts:
            return None
        found = tuple(part for part in parts if part is not None)
        return AllOf(found) if kind == "all" else AnyOf(found)


def _short(raw: object) -> str:
    text = repr(raw)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_condition(raw: object, path: NodePath) -> tuple[Condition | None, list[ConditionProblem]]:
    """Read the condition at ``path``; every problem inside it is returned with its path."""
    reader = _Reader()
    found = reader.condition(raw, path)
    return (None if reader.problems else found), reader.problems
