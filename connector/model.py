"""The shared vocabulary of the connector.

Every stage speaks these types: directory readers produce a :class:`Snapshot`, the persona
engine gives each :class:`Person` a :class:`Persona`, bundles turn personas into desired
:class:`Enrollment` rows, the planner emits :class:`Change` items inside a :class:`Plan`, LMS
targets apply them, and completion sources return :class:`Completion` records.

All types here are immutable value objects with no I/O. They are plain dataclasses (with
``slots``) rather than pydantic models because the planner handles hundreds of thousands of
them per run; validation happens at the edges (readers, mappings loader, configuration).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from itertools import islice
from operator import le
from types import MappingProxyType
from typing import ParamSpec, TypeVar, overload

from connector.bulk import collector_paused

EMPTY_ATTRIBUTES: Mapping[str, str] = MappingProxyType({})
P = ParamSpec("P")
T = TypeVar("T")


def fast_constructor(cls: Callable[P, T]) -> Callable[P, T]:
    """A constructor of the frozen slots dataclass ``cls`` that takes the same arguments and
    builds an equal, equally frozen instance two to three times faster: readers and the
    planner build millions of these. The ``__init__`` of a frozen dataclass sets each field
    through ``object.__setattr__``; this one fills a mutable twin with the same slots by plain
    assignment and then makes it a ``cls`` (CPython checks that the two layouts agree and
    refuses the switch otherwise). Only for classes without ``__post_init__``."""
    assert isinstance(cls, type) and dataclasses.is_dataclass(cls)
    assert "__post_init__" not in vars(cls), "a __post_init__ would be skipped"
    fields = dataclasses.fields(cls)
    slots = vars(cls)["__slots__"]
    twin = type(f"_{cls.__name__}Draft", (), {"__slots__": slots})
    namespace: dict[str, object] = {"_new": object.__new__, "_twin": twin, "_cls": cls,
                                    "_missing": dataclasses.MISSING}
    params, body = [], ["me = _new(_twin)"]
    for each in fields:
        if each.default is not dataclasses.MISSING:
            namespace[f"_default_{each.name}"] = each.default
            params.append(f"{each.name}=_default_{each.name}")
        elif each.default_factory is not dataclasses.MISSING:
            namespace[f"_factory_{each.name}"] = each.default_factory
            params.append(f"{each.name}=_missing")
            body.append(f"if {each.name} is _missing: {each.name} = _factory_{each.name}()")
        else:
            params.append(each.name)
        body.append(f"me.{each.name} = {each.name}")
    body += ["me.__class__ = _cls", "return me"]
    source = f"def build({', '.join(params)}):\n    " + "\n    ".join(body) + "\n"
    exec(source, namespace)  # noqa: S102 - generated from the field names, as dataclasses does
    build = namespace["build"]
    build.__doc__ = f"Builds a {cls.__name__} (see :func:`fast_constructor`)."
    return build  # type: ignore[return-value]


class Attributes(Mapping[str, str]):
    """A person's attributes: a mapping shared by everyone whose values are the same, and the
    few that are their own (an HR export's hire and termination dates), which come after it
    or take the place of a shared one of the same name. A million people share a few thousand
    mappings and each holds one small object, not a dictionary of their own."""

    __slots__ = ("_own", "_shared")

    def __init__(self, shared: Mapping[str, str], own: tuple[tuple[str, str], ...]) -> None:
        self._shared = shared
        self._own = own

    def __getitem__(self, name: str) -> str:
        for key, value in self._own:
            if key == name:
                return value
        return self._shared[name]

    @overload
    def get(self, name: str, /) -> str | None: ...

    @overload
    def get(self, name: str, /, default: str | T) -> str | T: ...

    def get(self, name: str, /, default: str | T | None = None) -> str | T | None:
        for key, value in self._own:
            if key == name:
                return value
        return self._shared.get(name, default)

    def __contains__(self, name: object) -> bool:
        return name in self._shared or any(key == name for key, _ in self._own)

    def __iter__(self) -> Iterator[str]:
        yield from self._shared
        for key, _ in self._own:
            if key not in self._shared:
                yield key

    def __len__(self) -> int:
        return len(self._shared) + sum(1 for key, _ in self._own if key not in self._shared)

    def __repr__(self) -> str:
        return f"Attributes({dict(self)!r})"


class PersonStatus(StrEnum):
    """Employment status as the directory reports it."""

    ACTIVE = "active"
    DISABLED = "disabled"  # account disabled or on leave: keep enrollments, send nothing new
    LEFT = "left"  # terminated or deprovisioned


class Tier(StrEnum):
    """The three tiers of the 70-20-10 model."""

    CONSUMERS = "consumers"
    LEADERS = "leaders"
    BUILDERS = "builders"


class Unusable(StrEnum):
    """Why a directory record could not be used (the reason class a report may show).

    Every reader sets such records aside in :attr:`Snapshot.unusable` with one of these, so a
    report counts the person whatever the source (HR export, LDAP/AD, Graph, Okta, SCIM)."""

    NO_EMAIL = "no e-mail address"
    BAD_EMAIL = "not an e-mail address"
    SHARED_EMAIL = "e-mail address of another person"
    NO_KEY = "no usable id"  # kept under the record's place: its DN, file:line or record
    UNKNOWN_STATUS = "status not readable"  # counted as active: the source lists them


@dataclass(frozen=True, slots=True)
class Person:
    """One person as the directory knows them.

    ``key`` is the stable identifier (HR employee id, objectGUID, Graph id); it never changes
    when the person changes name, e-mail or department. ``groups`` holds the groups the source
    lists the person in directly (a source that only knows flattened membership lists them all);
    membership through nesting is resolved from :attr:`Group.parents` by
    :meth:`Snapshot.group_ancestors`.
    """

    key: str
    email: str
    first_name: str
    last_name: str
    department: str = ""
    title: str = ""
    manager_key: str | None = None
    status: PersonStatus = PersonStatus.ACTIVE
    groups: frozenset[str] = frozenset()
    attributes: Mapping[str, str] = field(default_factory=lambda: EMPTY_ATTRIBUTES)
    identifiers: Mapping[str, str] = field(default_factory=lambda: EMPTY_ATTRIBUTES)
    """Other names the source gives the person, by label: ``employee id``, ``username``,
    ``object id``... (``upskill explain`` and ``directory show --person`` accept any of them)."""

    @property
    def known_as(self) -> str:
        """The first name the person goes by: the directory's preferred name when it gives
        one (``preferred_name`` attribute), else the first name."""
        return self.attributes.get("preferred_name", "").strip() or self.first_name

    @property
    def display_name(self) -> str:
        """How people and reports name the person: preferred first name and last name."""
        return f"{self.known_as} {self.last_name}".strip() or self.email

    @property
    def is_active(self) -> bool:
        return self.status is PersonStatus.ACTIVE


new_person = fast_constructor(Person)


@dataclass(frozen=True, slots=True)
class Group:
    """A directory group. ``parents`` are the names of the groups this group is directly a
    member of (the edges of nesting)."""

    name: str
    parents: frozenset[str] = frozenset()


new_group = fast_constructor(Group)


@dataclass(frozen=True, slots=True)
class RecordProblem:
    """A source record that could not be used: skipped, counted and reported, never dropped
    silently. ``where`` names the place (``examples/org.csv:17``), ``field`` the column."""

    where: str
    message: str
    record_key: str | None = None
    field: str | None = None
    identifiers: tuple[str, ...] = ()  # the record's e-mail, employee id, username... if any

    def __str__(self) -> str:
        place = self.where + (f" [{self.field}]" if self.field else "")
        return f"{place}: {self.message}"


class Membership(StrEnum):
    """What a source says about group membership."""

    NESTED = "nested"  # each person's direct groups and the group-in-group edges
    DIRECT_ONLY = "direct only"  # direct groups, nesting unknown (HR export without groups_path)
    FLATTENED = "flattened"  # every group a person is in, nesting resolved by the source (Okta)


def in_key_order(people: Mapping[str, Person]) -> Iterable[tuple[str, Person]]:
    """``people``'s (key, person) pairs by key: the mapping's own order when it is that
    already (the HR reader's), without looking each one up again, nor sorting to find out."""
    keys = list(people)
    if all(map(le, keys, islice(keys, 1, None))):
        return people.items()
    keys.sort()
    return ((key, people[key]) for key in keys)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An immutable, complete read of the directory at one moment."""

    source: str
    taken_at: datetime
    people: Mapping[str, Person]
    groups: Mapping[str, Group] = field(default_factory=dict)
    problems: tuple[RecordProblem, ...] = ()
    membership: Membership = Membership.NESTED
    # people whose record could not be used (no e-mail, another person's e-mail, no usable
    # id, a status the reader cannot read), with the reason class (an :class:`Unusable`
    # value): counted in reports with the persona their data gives, never enrolled. Their
    # e-mail is dropped (missing, broken or someone else's); leavers are never set aside.
    unusable: Mapping[str, tuple[Person, str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.people)

    def group_ancestors(self) -> dict[str, frozenset[str]]:
        """For every known group, the groups it belongs to through nesting (itself excluded).

        Cycles are tolerated: a group in a cycle has every other group of the cycle as an
        ancestor, and the walk ends. Parents that are not themselves listed are included."""
        out: dict[str, frozenset[str]] = {}
        for name in self.groups:
            seen: set[str] = set()
            stack = list(self.groups[name].parents)
            while stack:
                parent = stack.pop()
                if parent in seen or parent == name:
                    continue
                seen.add(parent)
                group = self.groups.get(parent)
                if group is not None:
                    stack.extend(group.parents)
            out[name] = frozenset(seen)
        return out

    def group_cycles(self) -> list[str]:
        """Names of groups that are (through nesting) their own ancestor."""
        # groups on no cycle are peeled off first, from the top: a group whose listed parents
        # are all peeled off is on none. Only what is left (the cycles, and the groups below
        # them) is walked: most directories have no cycle, and a walk from every group up
        # to the top costs their number times the depth of the nesting
        pending: dict[str, int] = {}  # group → its listed parents not yet peeled off
        children: dict[str, list[str]] = {}
        top: list[str] = []
        for name, group in self.groups.items():
            listed = [parent for parent in group.parents if parent in self.groups]
            for parent in listed:
                children.setdefault(parent, []).append(name)
            if listed:
                pending[name] = len(listed)
            else:
                top.append(name)
        while top:
            for child in children.get(top.pop(), ()):
                pending[child] -= 1
                if not pending[child]:
                    top.append(child)
        cycles = []
        for name, group in self.groups.items():
            if not pending.get(name):
                continue
            stack, seen = list(group.parents), set()
            while stack:
                parent = stack.pop()
                if parent == name:
                    cycles.append(name)
                    break
                if parent in seen:
                    continue
                seen.add(parent)
                if parent in self.groups:
                    stack.extend(self.groups[parent].parents)
        return sorted(cycles)


@dataclass(frozen=True, slots=True)
class Persona:
    """A training persona: a tier of the 70-20-10 model, and optionally a finer role inside
    it (data scientist, MLOps engineer, ...). ``bundle`` names the bundle it is enrolled in."""

    key: str
    tier: Tier
    title: str
    bundle: str
    role: str | None = None


@dataclass(frozen=True, slots=True)
class Course:
    """One course on one target. ``ref`` is the target's own reference: the Moodle course
    short name, or the Skill Builder item id."""

    target: str
    ref: str
    title: str
    hours: float
    due_days: int | None = None
    activities: tuple[str, ...] = ()  # xAPI activity ids whose completion completes it
    kind: str = "course"  # Skill Builder: "course" or "learning_plan"


@dataclass(frozen=True, slots=True)
class Bundle:
    """The courses a persona gets."""

    key: str
    title: str
    courses: tuple[Course, ...]


class EnrollmentStatus(StrEnum):
    """The state of one (person, course) enrollment as the connector last applied it."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class Enrollment:
    """A (person, target, course) enrollment, desired or applied."""

    person_key: str
    target: str
    course_ref: str
    status: EnrollmentStatus = EnrollmentStatus.ACTIVE
    persona: str | None = None

    @property
    def ident(self) -> tuple[str, str, str]:
        return (self.person_key, self.target, self.course_ref)


class ChangeKind(StrEnum):
    """What the executor does on a target. Order matters: users exist before enrolments."""

    CREATE_USER = "create_user"
    MOVE = "move"  # an active enrollment into or out of cohort mode, before any other
    ENROLL = "enroll"
    REVIVE = "revive"
    SUSPEND = "suspend"
    UNENROLL = "unenroll"


CHANGE_ORDER: Mapping[ChangeKind, int] = MappingProxyType({k: i for i, k in enumerate(ChangeKind)})


@dataclass(frozen=True, slots=True)
class Change:
    """One write the plan asks for, with the reason a reviewer reads."""

    kind: ChangeKind
    target: str
    person_key: str
    reason: str
    course_ref: str | None = None
    persona: str | None = None

    @property
    def ident(self) -> str:
        """A stable identifier of this change, the same in every run that plans it (a StrEnum
        formats as its value; ``.value`` is a slower descriptor, asked millions of times)."""
        return f"{self.target}:{self.kind}:{self.person_key}:{self.course_ref or ''}"


new_change = fast_constructor(Change)
ChangeDetail = tuple[str, str | None, str | None]
"""What a change says besides its kind, target and person: reason, course ref, persona (a
plan has few distinct ones: one per persona, course and cause)."""
ChangeRun = tuple[ChangeKind, str, Sequence[str], Sequence[ChangeDetail]]
"""Changes of one kind on one target, in order: the person keys and each one's detail."""


class Changes(Sequence[Change]):
    """The changes of a plan in plan order, built as :class:`Change` objects on first use.

    Until then they are kept as runs of one kind on one target (:data:`ChangeRun`): a person
    key and a shared detail each, a fifth of the memory of the objects. A plan of a million
    people holds some six million changes; its length and its counts by target and kind need
    no objects at all. The first access that needs them (iterating, indexing, comparing)
    builds them once, in order, and keeps them, as a tuple would."""

    __slots__ = ("_made", "_runs")

    def __init__(self, runs: Iterable[ChangeRun]) -> None:
        self._runs: tuple[ChangeRun, ...] = tuple(run for run in runs if run[2])
        self._made: tuple[Change, ...] | None = None

    def _all(self) -> tuple[Change, ...]:
        if self._made is None:
            with collector_paused():
                self._made = tuple(
                    new_change(kind, target, key, reason, ref, persona)
                    for kind, target, keys, details in self._runs
                    for key, (reason, ref, persona) in zip(keys, details, strict=True)
                )
            self._runs = ()
        return self._made

    def of_kinds(self, kinds: Collection[ChangeKind]) -> Iterator[Change]:
        """The changes of these kinds, in plan order; before the first full use only their
        objects are built (a guard looking at removals builds no enrollment objects)."""
        if self._made is not None:
            return (c for c in self._made if c.kind in kinds)
        return (
            new_change(kind, target, key, reason, ref, persona)
            for kind, target, keys, details in self._runs
            if kind in kinds
            for key, (reason, ref, persona) in zip(keys, details, strict=True)
        )

    def counts(self) -> dict[tuple[str, ChangeKind], int]:
        """How many changes of each kind on each target."""
        out: dict[tuple[str, ChangeKind], int] = {}
        if self._made is not None:
            for change in self._made:
                out[(change.target, change.kind)] = out.get((change.target, change.kind), 0) + 1
            return out
        for kind, target, keys, _ in self._runs:
            out[(target, kind)] = out.get((target, kind), 0) + len(keys)
        return out

    def __len__(self) -> int:
        if self._made is not None:
            return len(self._made)
        return sum(len(keys) for _, _, keys, _ in self._runs)

    def __bool__(self) -> bool:
        return bool(self._made) if self._made is not None else bool(self._runs)

    def __iter__(self) -> Iterator[Change]:
        return iter(self._all())

    @overload
    def __getitem__(self, index: int) -> Change: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Change, ...]: ...

    def __getitem__(self, index: int | slice) -> Change | tuple[Change, ...]:
        return self._all()[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Changes):
            return self._all() == other._all()
        if isinstance(other, tuple | list):
            return self._all() == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._all())

    def __repr__(self) -> str:
        return repr(self._all())


class HoldKind(StrEnum):
    """Why the plan deliberately sends nothing for an enrollment the rules alone would change."""

    GRACE = "grace"  # unwanted, but its grace period has not ended: removed after ``until``
    WITHDRAWN = "withdrawn"  # removed by hand on the target: not re-enrolled (sticky removal)
    UNTOUCHED = "untouched"  # a leave-alone override or an exclusion: nothing sent at all
    HAND_SUSPENDED = "hand_suspended"  # suspended by hand on the target: not reactivated
    QUARANTINED = "quarantined"  # refused the same way run after run: not sent again for now


@dataclass(frozen=True, slots=True)
class Hold:
    """An enrollment the plan holds back, with the reason the report and reviewers read (a
    quarantined account creation too: its ``course_ref`` is empty)."""

    kind: HoldKind
    target: str
    person_key: str
    course_ref: str
    reason: str
    since: datetime | None = None  # GRACE: unwanted since; WITHDRAWN, HAND_SUSPENDED: found at
    until: datetime | None = None  # GRACE: the removal is planned from then


@dataclass(frozen=True, slots=True)
class Plan:
    """The ordered changes a run intends to apply. Data only: printable, savable, reviewable."""

    changes: Sequence[Change]  # a tuple, or :class:`Changes` from the planner
    skipped: tuple[RecordProblem, ...] = ()
    held: tuple[Hold, ...] = ()
    not_enabled: tuple[tuple[str, int], ...] = ()  # (target, desired enrollments) not sent

    def counts(self) -> dict[tuple[str, ChangeKind], int]:
        if isinstance(self.changes, Changes):
            return self.changes.counts()
        out: dict[tuple[str, ChangeKind], int] = {}
        for change in self.changes:
            key = (change.target, change.kind)
            out[key] = out.get(key, 0) + 1
        return out

    @property
    def is_empty(self) -> bool:
        return not self.changes


@dataclass(frozen=True, slots=True)
class Completion:
    """Progress of one person in one course on one target, from one source."""

    person_key: str
    target: str
    course_ref: str
    completed: bool
    completed_at: datetime | None = None
    progress: float | None = None  # 0..100 where the source gives it
    source: str = ""


class ScopeKind(StrEnum):
    """Whose people a leader's report covers."""

    ORGANISATION = "organisation"  # everyone
    MANAGER = "manager"  # the person's direct and indirect reports, by the manager chain
    DEPARTMENT = "department"  # everyone in one department


@dataclass(frozen=True, slots=True)
class Leader:
    """A recipient of progress reports, from the ``leaders`` section of the mappings.

    ``person_key`` names the leader in the directory (their e-mail comes from there unless
    ``email`` is given); ``scope_value`` is the manager's person key for MANAGER scope (usually
    the leader's own key) or the department name for DEPARTMENT scope."""

    key: str
    person_key: str | None
    email: str | None
    scope: ScopeKind
    scope_value: str | None = None
    name: str = ""
    source: str = ""  # "mappings/leaders.yaml:4"

