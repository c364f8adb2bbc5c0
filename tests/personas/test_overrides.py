"""Overrides (pins) and exclusions: validated, in force until they expire, explained."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.errors import MappingsError
from connector.model import PersonStatus
from connector.personas.engine import assign, expired_pins, explain, untouched
from connector.personas.loader import Mappings, Override, load_mappings

from .conftest import MakePerson, MakeSnapshot, WriteMappings, write_tree

OVERRIDES = """\
overrides:
  ada:
    persona: builder
    author: jane.admin@example.org
    reason: Joins the platform team in January
    expires: 2027-03-31
  bob:
    leave_alone: true
    author: jane.admin@example.org
    reason: Separate programme
  cy:
    persona: leader
    author: sam
    reason: Acting head of sales
    expires: '2026-06-30'
exclusions:
  people: [dan]
  groups: [auditors]
"""

NESTING = {"external-auditors": ["auditors"], "executive-team": ["people-managers"]}


def problems_of(folder: Path) -> tuple[str, ...]:
    with pytest.raises(MappingsError) as caught:
        load_mappings(folder)
    return caught.value.problems


@pytest.fixture
def pinned(write_mappings: WriteMappings) -> Mappings:
    return load_mappings(write_mappings({"overrides.yaml": OVERRIDES}))


def test_overrides_load_with_author_reason_expiry_and_source(pinned: Mappings) -> None:
    ada, bob, cy = (pinned.overrides[k] for k in ("ada", "bob", "cy"))
    assert ada == Override(
        "ada",
        "builder",
        False,
        "jane.admin@example.org",
        "Joins the platform team in January",
        date(2027, 3, 31),
        ada.source,
    )
    assert ada.source.endswith("overrides.yaml:2")
    assert bob.leave_alone and bob.persona is None and bob.expires is None
    assert cy.expires == date(2026, 6, 30)  # a quoted date is read too
    assert pinned.exclusions.people == {"dan"} and pinned.exclusions.groups == {"auditors"}


def test_a_pin_holds_through_its_expiry_day_then_is_ignored(pinned: Mappings) -> None:
    ada = pinned.overrides["ada"]
    assert not ada.expired(date(2027, 3, 31)) and ada.expired(date(2027, 4, 1))
    assert [p.person_key for p in expired_pins(pinned, date(2026, 7, 1))] == ["cy"]
    assert [p.person_key for p in expired_pins(pinned, date(2027, 4, 1))] == ["ada", "cy"]


def test_a_pinned_persona_wins_over_every_rule_and_explain_says_so(
    pinned: Mappings, make_person: MakePerson, make_snapshot: MakeSnapshot
) -> None:
    ada = make_person("ada", groups=["executive-team"], title="Engineer")
    snapshot = make_snapshot([ada], NESTING)
    got = assign(snapshot, pinned, today=date(2027, 1, 1))["ada"]
    assert got.persona.key == "builder" and got.rule is None and got.winner is None
    assert [m.rule for m in got.lost] == ["execs", "engineers"]  # both lost to the pin
    text = explain(snapshot, pinned, "ada", got)
    assert "rule: none; pinned by override: persona builder (by jane.admin@example.org: " in text
    assert "expires 2027-03-31" in text and "overrides.yaml:2" in text
    assert "also matched, lost to the override:" in text
    expired = assign(snapshot, pinned, today=date(2027, 4, 1))["ada"]
    assert expired.persona.key == "leader" and expired.rule == "execs" and expired.pin is None


def test_leave_alone_and_exclusions_make_people_untouched(
    pinned: Mappings, make_person: MakePerson, make_snapshot: MakeSnapshot
) -> None:
    people = [
        make_person("bob", title="Engineer"),
        make_person("dan"),
        make_person("eve", groups=["external-auditors"]),
        make_person("fay", groups=["Auditors"]),
        make_person("gus", groups=["people-managers"]),
    ]
    snapshot = make_snapshot(people, NESTING)
    found = untouched(snapshot, pinned, today=date(2027, 1, 1))
    assert found == {
        "bob": "override: leave alone (by jane.admin@example.org: Separate programme)",
        "dan": "excluded: listed under exclusions.people",
        "eve": "excluded: member of group auditors via external-auditors",
        "fay": "excluded: member of group auditors",
    }
    bob = assign(snapshot, pinned)["bob"]
    assert bob.persona.key == "builder" and bob.rule == "engineers"  # rules still decide
    text = explain(snapshot, pinned, "bob", bob)
    assert "override: leave alone" in text and "sends nothing for this person" in text


@pytest.mark.parametrize(
    ("text", "fragment", "line"),
    [
        ("overrides:\n  x: {persona: leader, author: a}\n", "'reason' is required", 2),
        ("overrides:\n  x: {author: a, reason: r}\n", "exactly one", 2),
        (
            "overrides:\n  x: {persona: leader, leave_alone: true, author: a, reason: r}\n",
            "exactly one",
            2,
        ),
        ("overrides:\n  x: {persona: nobody, author: a, reason: r}\n", "unknown persona", 2),
        (
            "overrides:\n  x: {persona: leader, author: a, reason: r, expires: soon}\n",
            "'soon' is not a date",
            2,
        ),
        (
            "overrides:\n  x: {persona: leader, author: a, reason: r,\n"
            "      expires: 2027-01-01T10:00:00}\n",
            "without a time",
            3,
        ),
        ("overrides:\n  x: {leave_alone: false, author: a, reason: r}\n", "leave_alone", 2),
        ("exclusions: {people: [a], teams: [b]}\n", "unknown key 'teams'", 1),
    ],
)
def test_bad_overrides_are_reported_with_their_place(
    write_mappings: WriteMappings, text: str, fragment: str, line: int
) -> None:
    found = problems_of(write_mappings({"overrides.yaml": text}))
    assert any(fragment in p and f"overrides.yaml:{line}:" in p for p in found), found


@pytest.fixture(scope="module")
def module_pinned(tmp_path_factory: pytest.TempPathFactory) -> Mappings:
    return load_mappings(write_tree(tmp_path_factory.mktemp("pins"), {"overrides.yaml": OVERRIDES}))


KEYS = ["ada", "bob", "cy", "dan", "eve", "p1", "p2", "p3"]


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(KEYS),
            st.sampled_from(["Engineer", "Clerk", ""]),
            st.frozensets(st.sampled_from(["executive-team", "auditors", "x"]), max_size=2),
            st.sampled_from(list(PersonStatus)),
        ),
        unique_by=lambda row: row[0],
        max_size=8,
    ),
    day=st.dates(date(2026, 1, 1), date(2028, 1, 1)),
    seed=st.randoms(use_true_random=False),
)
def test_pins_in_force_always_win_and_order_does_not_matter(
    module_pinned: Mappings,
    make_person: MakePerson,
    make_snapshot: MakeSnapshot,
    rows: list[tuple[str, str, frozenset[str], PersonStatus]],
    day: date,
    seed: object,
) -> None:
    people = [make_person(k, title=t, groups=g, status=s) for k, t, g, s in rows]
    got = assign(make_snapshot(people, NESTING), module_pinned, today=day)
    for key, assignment in got.items():
        pin = module_pinned.overrides.get(key)
        in_force = pin is not None and not pin.expired(day)
        if in_force and pin is not None and pin.persona is not None:
            assert assignment.persona.key == pin.persona and assignment.rule is None
        else:
            assert assignment.pin is (pin if in_force else None)
            assert assignment.persona.key != "" and (
                assignment.rule is not None or assignment.persona.key == "consumer"
            )
    shuffled = people[:]
    seed.shuffle(shuffled)  # type: ignore[attr-defined]
    reordered = dataclasses.replace(
        module_pinned, overrides=dict(reversed(list(module_pinned.overrides.items())))
    )
    assert assign(make_snapshot(shuffled, NESTING), reordered, today=day) == got
    left = untouched(make_snapshot(people, NESTING), module_pinned, today=day)
    assert ("bob" in left) == any(k == "bob" for k, *_ in rows)
    assert all(key in {k for k, *_ in rows} for key in left)
