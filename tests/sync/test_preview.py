"""The plan preview of a mappings change: the population diff, as text and JSON."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.cli import main
from connector.errors import SafetyStop
from connector.model import ChangeKind, EnrollmentStatus, PersonStatus, Plan
from connector.personas.engine import Assignment, Match
from connector.personas.loader import load_mappings
from connector.sync.planner import Policy, plan
from connector.sync.preview import (
    diff_json,
    format_diff,
    moved_people,
    people_subset,
    population_diff,
)
from connector.sync.state import AppliedEnrollment, State

from .test_planner import BUILDER, BUNDLES, CONSUMER, T0, person, snap

ROOT = Path(__file__).resolve().parents[2]


def pinned(key: str, persona: object) -> Assignment:
    return Assignment(persona, None, None, ())  # type: ignore[arg-type]


def test_population_diff_counts_moves_and_enrollment_effects() -> None:
    people = snap(person("ann"), person("bob"), person("cy"), person("dan", PersonStatus.LEFT))
    state = State(
        accounts={"moodle": {k: k for k in ("ann", "bob", "cy", "dan")}},
        enrollments={
            (k, "moodle", ref): AppliedEnrollment(EnrollmentStatus.ACTIVE, "consumer", T0)
            for k in ("ann", "bob", "cy", "dan")
            for ref in ("C1", "C2")
        },
    )
    current = {k: pinned(k, CONSUMER) for k in ("ann", "bob", "cy")}
    by_rule = Match("engineers", BUILDER.key, 60)
    proposed = {
        **current,
        "bob": pinned("bob", BUILDER),
        "cy": Assignment(BUILDER, "engineers", by_rule, ()),
    }
    targets = ["moodle"]
    before = plan(people, {k: a.persona for k, a in current.items()}, BUNDLES, state, targets)
    after = plan(people, {k: a.persona for k, a in proposed.items()}, BUNDLES, state, targets)
    diff = population_diff(current, proposed, before, after, current_version="a" * 64,
                           proposed_version="b" * 64)
    assert diff.tiers == {"consumers": (3, 1), "leaders": (0, 0), "builders": (0, 2)}
    assert diff.personas == {"consumer": (3, 1), "developer": (0, 2)}
    assert [(m.person_key, m.before, m.after) for m in diff.moves] == [
        ("bob", "consumer", "developer"),
        ("cy", "consumer", "developer"),
    ]
    # dan's two suspensions are planned either way; bob and cy gain B1 and lose C2
    assert diff.effects == {"added": 2, "suspended": 4, "removed": 0, "accounts": 0}
    assert sorted((c.kind, c.person_key, c.course_ref) for c in diff.caused) == [
        (ChangeKind.ENROLL, "bob", "B1"),
        (ChangeKind.ENROLL, "cy", "B1"),
        (ChangeKind.SUSPEND, "bob", "C2"),
        (ChangeKind.SUSPEND, "cy", "C2"),
    ]
    assert diff.dropped == ()
    text = format_diff(diff, people.people, verbose=True)
    assert "consumer → developer: 2" in text
    assert "Bob Doe <bob@example.com> [bob]: consumer → developer (default persona)" in text
    assert "[cy]: consumer → developer (rule engineers)" in text
    assert "caused by the mapping change: 2 added, 2 suspended, 0 removed, 0 accounts" in text
    document = json.loads(diff_json(diff))
    assert document["tiers"]["builders"] == {"before": 0, "after": 2}
    assert document["enrollments"]["suspended"] == 4
    assert len(document["caused"]) == 4 and document["moves"][0]["after_tier"] == "builders"


def test_a_persona_that_keeps_its_key_but_changes_bundle_moves_its_people() -> None:
    people = snap(person("ann"), person("bob"))
    state = State(
        accounts={"moodle": {"ann": "ann", "bob": "bob"}},
        enrollments={
            (k, "moodle", ref): AppliedEnrollment(EnrollmentStatus.ACTIVE, "consumer", T0)
            for k in ("ann", "bob")
            for ref in ("C1", "C2")
        },
    )
    current = {k: pinned(k, CONSUMER) for k in ("ann", "bob")}
    # the proposed tree gives the consumer persona the developers' bundle, under the same key
    rebundled = dataclasses.replace(CONSUMER, bundle=BUILDER.bundle)
    proposed = {k: pinned(k, rebundled) for k in ("ann", "bob")}
    assert moved_people(current, proposed) == {"ann", "bob"}
    targets = ["moodle"]
    before = plan(people, {k: a.persona for k, a in current.items()}, BUNDLES, state, targets)
    after = plan(people, {k: a.persona for k, a in proposed.items()}, BUNDLES, state, targets)
    diff = population_diff(current, proposed, before, after, current_version="a" * 64,
                           proposed_version="b" * 64)
    assert diff.moves == ()  # nobody changes persona...
    assert sorted((c.kind, c.person_key, c.course_ref) for c in diff.caused) == [
        (ChangeKind.ENROLL, "ann", "B1"),
        (ChangeKind.ENROLL, "bob", "B1"),
        (ChangeKind.SUSPEND, "ann", "C2"),
        (ChangeKind.SUSPEND, "bob", "C2"),
    ]  # ...but their enrollments do


def test_verbose_preview_names_the_enrollments_kept_in_their_grace_period() -> None:
    people = snap(person("ann"), person("bob"))
    state = State(
        accounts={"moodle": {"ann": "ann", "bob": "bob"}},
        enrollments={
            (k, "moodle", ref): AppliedEnrollment(EnrollmentStatus.ACTIVE, "consumer", T0)
            for k in ("ann", "bob")
            for ref in ("C1", "C2")
        },
    )
    current = {k: pinned(k, CONSUMER) for k in ("ann", "bob")}
    proposed = {**current, "bob": pinned("bob", BUILDER)}
    policy = Policy(grace=timedelta(days=14))
    now = T0 + timedelta(days=1)

    def planned(assigned: dict[str, Assignment]) -> Plan:
        personas = {k: a.persona for k, a in assigned.items()}
        return plan(people, personas, BUNDLES, state, ["moodle"], policy, now=now)

    diff = population_diff(current, proposed, planned(current), planned(proposed),
                           current_version="a" * 64, proposed_version="b" * 64)
    assert diff.effects["suspended"] == 0  # bob's C2 waits out the grace period
    text = format_diff(diff, people.people, verbose=True)
    assert "1 enrollment(s) kept in their grace period before removal" in text
    assert "    kept for now: moodle C2 for Bob Doe <bob@example.com> [bob]: " in text
    assert "suspend after 2026-11-16 (grace period)" in text
    assert "[ann]" not in text  # ann does not move


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("UPSKILL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "upskill.toml"
    config.write_text(
        f'[directory]\ntype = "csv"\npath = "{ROOT / "examples" / "org.csv"}"\n'
        f'[mappings]\npath = "{ROOT / "mappings"}"\n',
        encoding="utf-8",
    )
    return config


def test_plan_preview_of_a_proposed_tree_through_the_cli(
    configured: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proposed = tmp_path / "proposed"
    shutil.copytree(ROOT / "mappings", proposed)
    rules = (proposed / "rules.yaml").read_text(encoding="utf-8")
    cut = rules.index("  - name: business-analysts")
    (proposed / "rules.yaml").write_text(rules[:cut], encoding="utf-8")  # drop the last rule

    assert main(["--config", str(configured), "plan", "--mappings", str(proposed), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    current = load_mappings(ROOT / "mappings")
    assert document["current_mappings"] == current.content_hash
    assert document["proposed_mappings"] == load_mappings(proposed).content_hash
    analysts = document["personas"]["business-analyst"]
    assert analysts["before"] > 0 and analysts["after"] == 0
    moved = document["moves"]
    assert len(moved) == analysts["before"]
    assert all(m["before"] == "business-analyst" and m["after"] == "consumer" for m in moved)
    # nothing else matches them any more: the default persona decides
    assert {m["why"] for m in moved} == {"default persona"}
    leaders = document["tiers"]["leaders"]
    assert leaders["before"] - leaders["after"] == len(moved)
    # empty state: every caused change is an enrollment of a moved person into a course the
    # consumer bundle has and the business-analyst bundle has not
    new_refs = {c.ref for c in current.bundle_for("consumer").courses if c.target == "moodle"}
    new_refs -= {c.ref for c in current.bundle_for("business-analyst").courses}
    movers = {m["person"] for m in moved}
    caused = document["caused"]
    assert caused and all(c["person"] in movers and c["kind"] == "enroll" for c in caused)
    assert len(caused) == len(movers) * len(new_refs)
    assert len(document["dropped"]) >= len(movers)  # their analyst courses are no longer planned

    assert main(["--config", str(configured), "plan", "--mappings", str(proposed), "-v"]) == 0
    text = capsys.readouterr().out
    assert f"business-analyst → consumer: {len(moved)}" in text
    assert "Mappings preview: proposed" in text and "no longer: moodle enroll GENAI-L221" in text
    assert "kept for now" not in text  # nothing was applied yet: nothing to keep


def test_plan_preview_refuses_a_broken_proposed_tree(
    configured: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proposed = tmp_path / "broken"
    shutil.copytree(ROOT / "mappings", proposed)
    (proposed / "extra.yaml").write_text("rules:\n  - {name: x}\n", encoding="utf-8")
    assert main(["--config", str(configured), "plan", "--mappings", str(proposed)]) == 2
    err = capsys.readouterr().err
    assert f"{proposed.as_posix()}/extra.yaml:2:" in err and "Traceback" not in err


@settings(max_examples=60, deadline=None)
@given(
    statuses=st.dictionaries(st.sampled_from("abcdef"), st.sampled_from(list(PersonStatus))),
    builders=st.frozensets(st.sampled_from("abcdef")),
    applied_rows=st.dictionaries(
        st.tuples(st.sampled_from("abcdefgh"), st.just("moodle"), st.sampled_from(["C1", "C2", "B1"])),
        st.sampled_from(list(EnrollmentStatus)),
    ),
    subset=st.frozensets(st.sampled_from("abcdefgh")),
)
def test_planning_a_subset_of_people_gives_their_part_of_the_whole_plan(
    statuses: dict[str, PersonStatus],
    builders: frozenset[str],
    applied_rows: dict[tuple[str, str, str], EnrollmentStatus],
    subset: frozenset[str],
) -> None:
    people = snap(*(person(k, s) for k, s in statuses.items()))
    personas = {k: (BUILDER if k in builders else CONSUMER) for k in statuses}
    state = State(
        accounts={"moodle": {k: k for k, *_ in applied_rows if k in "aceg"}},
        enrollments={i: AppliedEnrollment(s, "consumer", T0) for i, s in applied_rows.items()},
        withdrawn={i: T0 for i in list(applied_rows)[:1]},
    )
    try:
        whole = plan(people, personas, BUNDLES, state, ["moodle"])
    except SafetyStop:
        return  # an empty directory with active enrollments: tested in test_planner
    part_snapshot, part_state = people_subset(people, state, subset)
    try:
        part = plan(part_snapshot, personas, BUNDLES, part_state, ["moodle"])
    except SafetyStop:
        assert not (subset & set(statuses))
        return
    assert part.changes == tuple(c for c in whole.changes if c.person_key in subset)
    assert part.held == tuple(h for h in whole.held if h.person_key in subset)
