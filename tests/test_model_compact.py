"""The compact forms of the model: the fast constructor and the plan's changes as runs."""

from __future__ import annotations

import dataclasses

import pytest

from connector.model import (
    EMPTY_ATTRIBUTES,
    Change,
    ChangeKind,
    Changes,
    Person,
    PersonStatus,
    Plan,
    fast_constructor,
    new_change,
    new_person,
)

ENROLL, CREATE = ChangeKind.ENROLL, ChangeKind.CREATE_USER


def test_fast_constructor_builds_equal_frozen_instances_with_the_same_defaults() -> None:
    made = new_person("E1", "a@example.com", "Ann", "Lee", manager_key="E0")
    assert made == Person("E1", "a@example.com", "Ann", "Lee", manager_key="E0")
    assert type(made) is Person
    assert made.status is PersonStatus.ACTIVE and made.groups == frozenset()
    assert made.attributes is EMPTY_ATTRIBUTES and made.identifiers is EMPTY_ATTRIBUTES
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.key = "E2"  # type: ignore[misc]
    assert dataclasses.replace(made, email="") == Person("E1", "", "Ann", "Lee", manager_key="E0")
    change = new_change(ENROLL, "moodle", "E1", "why", course_ref="C1")
    assert change == Change(ENROLL, "moodle", "E1", "why", "C1")
    assert hash(change) == hash(Change(ENROLL, "moodle", "E1", "why", "C1"))
    with pytest.raises(TypeError):
        new_change(ENROLL, "moodle")  # type: ignore[call-arg]


def test_fast_constructor_refuses_what_it_cannot_build() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        value: int

        def __post_init__(self) -> None:
            raise AssertionError

    with pytest.raises(AssertionError, match="__post_init__"):
        fast_constructor(Checked)


RUNS = [
    (CREATE, "moodle", ["E1", "E2"], [("account", None, "p")] * 2),
    (ENROLL, "moodle", [], []),
    (ENROLL, "moodle", ["E1", "E1", "E2"],
     [("r1", "C1", "p"), ("r2", "C2", "p"), ("r1", "C1", "p")]),
]
AS_TUPLE = (
    Change(CREATE, "moodle", "E1", "account", None, "p"),
    Change(CREATE, "moodle", "E2", "account", None, "p"),
    Change(ENROLL, "moodle", "E1", "r1", "C1", "p"),
    Change(ENROLL, "moodle", "E1", "r2", "C2", "p"),
    Change(ENROLL, "moodle", "E2", "r1", "C1", "p"),
)


def test_changes_count_without_objects_and_read_as_the_tuple_they_stand_for() -> None:
    changes = Changes(RUNS)
    assert len(changes) == 5 and changes
    plan = Plan(changes)
    assert plan.counts() == {("moodle", CREATE): 2, ("moodle", ENROLL): 3}
    assert changes._made is None  # nothing built for the length and the counts
    assert list(changes) == list(AS_TUPLE)
    assert changes == AS_TUPLE and changes == list(AS_TUPLE)
    assert AS_TUPLE == changes  # noqa: SIM300 - the tuple on the left asks Changes back
    assert changes[0] is changes[0]  # built once, kept
    assert changes[1:3] == AS_TUPLE[1:3] and changes[-1] == AS_TUPLE[-1]
    assert len(changes) == 5 and plan.counts() == Plan(AS_TUPLE).counts()
    assert plan == Plan(AS_TUPLE) and hash(changes) == hash(AS_TUPLE)
    assert AS_TUPLE[3] in changes and changes.index(AS_TUPLE[3]) == 3
    assert changes != AS_TUPLE[:4] and changes != "not changes"


def test_no_changes_is_empty() -> None:
    empty = Changes([(ENROLL, "moodle", [], [])])
    assert not empty and len(empty) == 0 and empty == () and Plan(empty).is_empty
    assert Plan(empty).counts() == {}


def test_changes_of_some_kinds_are_built_alone_and_in_plan_order() -> None:
    from connector.sync.policy import of_kinds, removals

    changes = Changes(RUNS)
    assert list(changes.of_kinds({ENROLL})) == list(AS_TUPLE[2:])
    assert list(of_kinds(changes, {CREATE})) == list(AS_TUPLE[:2])
    assert removals(Plan(changes)) == set() and changes._made is None  # nothing else built
    assert list(changes) == list(AS_TUPLE)  # and after the full build, the same answers
    assert list(changes.of_kinds({ENROLL})) == list(of_kinds(AS_TUPLE, {ENROLL}))
    suspend = Change(ChangeKind.SUSPEND, "moodle", "E9", "left", "C1", "p")
    assert removals(Plan((*AS_TUPLE, suspend))) == {"E9"}


def test_a_change_ident_is_target_kind_person_course() -> None:
    """Journals and holds of earlier runs are keyed by it: it never changes form."""
    for kind in ChangeKind:
        change = Change(kind, "moodle", "E7", "why", "C1" if kind is not CREATE else None)
        assert change.ident == f"moodle:{kind.value}:E7:{'C1' if kind is not CREATE else ''}"
    assert Change(CREATE, "moodle", "E7", "why").ident == "moodle:create_user:E7:"
