"""`upskill mappings validate` and the checks behind it: rule analysis, regex cost, bad files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connector.cli import main
from connector.errors import MappingsError
from connector.personas.analysis import disjoint, implies, rule_problems
from connector.personas.conditions import (
    TITLE_LIMIT,
    AllOf,
    AnyOf,
    HasAttribute,
    InDepartment,
    InGroup,
    Not,
    TitleMatches,
    fold,
)
from connector.personas.engine import assign
from connector.personas.loader import MAX_FILE_BYTES, load_mappings
from connector.personas.titles import TitlePattern
from connector.personas.validate import course_problems, directory_problems, offline_problems

from .conftest import RULES, MakePerson, MakeSnapshot, WriteMappings


def problems_of(folder: Path) -> tuple[str, ...]:
    with pytest.raises(MappingsError) as caught:
        load_mappings(folder)
    return caught.value.problems


def dept(*names: str) -> InDepartment:
    return InDepartment(names, frozenset(map(fold, names)))


def attr(name: str, *values: str) -> HasAttribute:
    return HasAttribute(name, values, frozenset(map(fold, values)))


def title(pattern: str) -> TitleMatches:
    return TitleMatches(TitlePattern(pattern))


# -- the logic of implication and disjointness ---------------------------------------------


def test_implication_is_claimed_only_when_certain() -> None:
    sales = dept("Sales")
    assert implies(sales, dept("sales", "Marketing"))
    assert not implies(dept("Sales", "Marketing"), sales)
    assert implies(InGroup("Devs"), AnyOf((InGroup("devs"), title("x"))))
    assert implies(AllOf((InGroup("a"), sales)), InGroup("a"))
    assert not implies(InGroup("a"), AllOf((InGroup("a"), sales)))
    assert implies(InGroup("a"), AllOf((InGroup("a"), InGroup("A"))))
    assert implies(title("engineer"), title("engineer"))
    assert not implies(title("engineer"), title("enginee"))  # not provable from the text
    assert implies(sales, Not(dept("Legal")))
    assert not implies(sales, Not(dept("Sales", "Legal")))
    assert implies(AnyOf((dept("A"), dept("B"))), dept("A", "B", "C"))
    assert implies(attr("type", "intern"), attr("type", "intern", "contractor"))
    assert not implies(attr("type", "intern"), attr("kind", "intern"))


def test_disjointness_is_claimed_only_when_certain() -> None:
    assert disjoint(dept("Sales"), dept("Legal"))
    assert not disjoint(dept("Sales", "Legal"), dept("Legal"))
    assert disjoint(attr("type", "intern"), attr("type", "employee"))
    assert not disjoint(attr("type", "intern"), attr("grade", "employee"))
    assert disjoint(InGroup("a"), Not(InGroup("a")))
    assert not disjoint(InGroup("a"), InGroup("b"))  # one person can be in both groups
    assert not disjoint(title("^vp"), title("director"))  # "VP and director"
    assert disjoint(AllOf((InGroup("a"), dept("Sales"))), dept("Legal"))
    assert not disjoint(AnyOf((InGroup("a"), dept("Sales"))), dept("Legal"))


TIED = """\
rules:
  - {name: sales-leads, priority: 50, persona: leader, when: {department: Sales}}
  - {name: legal-builders, priority: 50, persona: builder, when: {department: Legal}}
  - {name: managers, priority: 40, persona: leader, when: {group: managers}}
  - {name: devs, priority: 40, persona: builder, when: {group: devs}}
  - {name: same-persona, priority: 40, persona: builder, when: {group: builders}}
  - {name: broad, priority: 30, persona: builder, when: {any: [{group: devs}, {title: dev}]}}
  - {name: narrow, priority: 20, persona: leader, when: {all: [{group: devs}, {title: lead}]}}
  - {name: reachable, priority: 10, persona: leader, when: {group: other}}
"""


def test_ties_that_can_overlap_and_unreachable_rules_are_found(
    write_mappings: WriteMappings,
) -> None:
    mappings = load_mappings(write_mappings({"rules.yaml": TIED}))
    found = [str(p) for p in rule_problems(mappings.rules)]
    text = "\n".join(found)
    ties = [p for p in found if "same priority" in p]
    # sales-leads/legal-builders are disjoint; devs/same-persona share a persona
    assert len(ties) == 2, text
    assert "'devs'" in ties[0] and "'managers'" in ties[0] and "priority 40" in ties[0]
    assert ties[0].split(": ", 1)[0].endswith("rules.yaml:4:5")  # at the one that loses
    assert "'managers'" in ties[1] and "'same-persona'" in ties[1]
    never = [p for p in found if "can never win" in p]
    assert len(never) == 1, text
    assert "rule 'narrow' can never win" in never[0] and "'devs'" in never[0]
    assert never[0].startswith(f"{mappings.rules[0].at.split(':')[0]}:8:5:")


def test_shipped_rules_have_no_ties_and_no_dead_rules() -> None:
    shipped = load_mappings(Path(__file__).resolve().parents[2] / "mappings")
    assert rule_problems(shipped.rules) == []


# -- regexes of bounded cost ---------------------------------------------------------------


def test_invalid_unsupported_and_overlong_patterns_are_refused_with_their_place(
    write_mappings: WriteMappings,
) -> None:
    rules = RULES + (
        "  - {name: ahead, priority: 5, persona: leader, when: {title: '(?=a)b'}}\n"
        "  - {name: broken, priority: 4, persona: leader, when: {title: '(unclosed'}}\n"
        f"  - {{name: long, priority: 3, persona: leader, when: {{title: '{'x' * 600}'}}}}\n"
    )
    found = problems_of(write_mappings({"rules.yaml": rules}))
    assert any(":10:" in p and "look-around is not supported" in p for p in found)
    assert any(":11:" in p and "invalid regular expression '(unclosed'" in p for p in found)
    assert any(":12:" in p and "600 characters long" in p for p in found)


def test_matching_time_is_bounded_by_the_title_limit(
    write_mappings: WriteMappings, make_person: MakePerson, make_snapshot: MakeSnapshot
) -> None:
    # a pattern that passes the static check but is quadratic: the title cap bounds its cost
    rules = "rules:\n  - {name: q, priority: 1, persona: leader, when: {title: '(a|aa)b'}}\n"
    mappings = load_mappings(write_mappings({"rules.yaml": rules}))
    long_title = "a" * (TITLE_LIMIT * 200) + "b"
    found = assign(make_snapshot([make_person("p", title=long_title)]), mappings)
    # the "b" lies beyond the limit: only the first TITLE_LIMIT characters are searched
    assert found["p"].persona.key == "consumer"
    found = assign(make_snapshot([make_person("p", title="aab")]), mappings)
    assert found["p"].persona.key == "leader"


# -- bad files -----------------------------------------------------------------------------


def test_a_file_over_the_size_limit_is_refused_unread(write_mappings: WriteMappings) -> None:
    folder = write_mappings({})
    big = folder / "huge.yaml"
    with big.open("w", encoding="utf-8") as out:
        out.write("# padding\n" * (10 * 1024 * 1024 // 10))
    assert big.stat().st_size > MAX_FILE_BYTES
    found = problems_of(folder)
    assert len(found) == 1
    assert found[0].startswith(f"{big.as_posix()}: is 10,485,760 bytes, over the limit")


def test_unicode_names_and_a_byte_order_mark_are_fine(
    write_mappings: WriteMappings, make_person: MakePerson, make_snapshot: MakeSnapshot
) -> None:
    rules = (
        "\ufeffrules:\n"
        "  - {name: équipe-données, priority: 9, persona: builder, "
        "when: {department: Données}}\n"
    )
    mappings = load_mappings(write_mappings({"rules.yaml": rules}))
    assert mappings.rules[0].name == "équipe-données"
    people = [make_person("z", department="DONNÉES"), make_person("y", department="Ventes")]
    found = assign(make_snapshot(people), mappings)
    assert found["z"].persona.key == "builder" and found["y"].persona.key == "consumer"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("rules:\n  - {name: x, priority: 1, persona: leader, when: }\n", "a condition must be"),
        ("rules:\n  - {name: x, priority: 1, persona: leader, when: {}}\n", "exactly one key"),
        ("rules:\n  - {name: x, priority: 1, persona: leader, when: {any: []}}\n", "non-empty"),
        ("rules:\n  - {name: x, priority: 1, persona: nobody, when: {group: a}}\n", "unknown"),
        ("rules:\n  - {name: x, priority: '1', persona: leader, when: {group: a}}\n", "integer"),
    ],
)
def test_rules_that_reference_nothing_are_refused(
    write_mappings: WriteMappings, text: str, fragment: str
) -> None:
    found = problems_of(write_mappings({"rules.yaml": text}))
    assert any(fragment in p and "rules.yaml:2:" in p for p in found), found


def test_cyclic_bundle_includes_are_reported(write_mappings: WriteMappings) -> None:
    bundles = """\
bundles:
  base: {title: Base, includes: [lead], courses: [{target: moodle, ref: C1, title: One, hours: 1}]}
  lead: {title: Lead, includes: [build]}
  build: {title: Build, includes: [base]}
"""
    found = problems_of(write_mappings({"bundles.yaml": bundles}))
    assert any("cycle" in p and "bundles.yaml:" in p for p in found), found


# -- online checks -------------------------------------------------------------------------


def test_online_checks_name_what_the_directory_and_targets_lack(
    write_mappings: WriteMappings, make_person: MakePerson, make_snapshot: MakeSnapshot
) -> None:
    rules = """\
rules:
  - {name: execs, priority: 100, persona: leader, when: {group: executive-team}}
  - {name: ghosts, priority: 60, persona: builder, when: {group: no-such-group}}
  - name: mixed
    priority: 50
    persona: builder
    when: {any: [{department: Atlantis}, {attribute: {grade: x}}, {manager_chain: E404}]}
"""
    leaders = """\
leaders:
  boss: {person: E1, scope: {organisation: true}}
  ghost: {person: E999, scope: {manager: E998}}
  dept: {email: a@example.org, scope: {department: Nowhere}}
"""
    pins = "overrides:\n  E77: {leave_alone: true, author: a, reason: r}\n"
    mappings = load_mappings(
        write_mappings({"rules.yaml": rules, "leaders.yaml": leaders, "overrides.yaml": pins})
    )
    snapshot = make_snapshot(
        [make_person("E1", groups=["executive-team"], department="Board")],
        nesting={"loop-a": ["loop-b"], "loop-b": ["loop-a"]},
    )
    found = directory_problems(mappings, snapshot)
    text = "\n".join(found)
    assert any("rules.yaml:3:5:" in p and "group 'no-such-group'" in p for p in found), text
    assert any("department 'Atlantis'" in p for p in found), text
    assert any("attribute 'grade'" in p for p in found), text
    assert any("manager 'E404'" in p for p in found), text
    assert any("leaders.yaml:3" in p and "person 'E999'" in p for p in found), text
    assert any("scope manager 'E998'" in p for p in found), text
    assert any("scope department 'Nowhere'" in p for p in found), text
    assert sum("nested in itself" in p for p in found) == 2
    assert any("overrides.yaml:2" in p and "override of 'E77'" in p for p in found), text
    assert not any("executive-team" in p or "'E1'" in p for p in found)

    missing, notes = course_problems(mappings, {"moodle": lambda refs: {"C1": "1"}})
    assert len(missing) == 1 and "course 'B1' does not exist on moodle" in missing[0]
    assert missing[0].split(": ", 1)[0].endswith("bundles.yaml:15:9")
    assert notes and "skillbuilder" in notes[0]


def test_offline_problems_returns_the_load_errors(write_mappings: WriteMappings) -> None:
    mappings, found = offline_problems(write_mappings({"rules.yaml": "rules: 3\n"}))
    assert mappings is None and any("'rules' must be a list" in p for p in found)


# -- the command ---------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("UPSKILL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("clean_env")
def test_validate_command_exit_codes_and_places(
    write_mappings: WriteMappings, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_mappings({})
    assert main(["mappings", "validate", "--mappings", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "Mappings OK: 3 personas, 2 rules, 3 bundles, 0 leaders, 0 overrides" in out

    write_mappings({"rules.yaml": TIED, "personas.yaml": "personas:\n\tbad: {}\n"})
    assert main(["mappings", "validate", "--mappings", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"{folder.as_posix()}/personas.yaml:2:1: tab character" in err

    write_mappings({"rules.yaml": TIED})
    assert main(["mappings", "validate", "--mappings", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "3 problem(s)" in err and "can never win" in err and "same priority" in err


@pytest.mark.usefixtures("clean_env")
def test_validate_the_shipped_mappings_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    shipped = Path(__file__).resolve().parents[2] / "mappings"
    assert main(["mappings", "validate", "--mappings", str(shipped)]) == 0
    assert "Mappings OK: 7 personas" in capsys.readouterr().out


@pytest.mark.usefixtures("clean_env")
def test_validate_online_names_courses_missing_on_moodle_and_unknown_people(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from connector.lms.moodle.control import SandboxControl
    from connector.lms.moodle.sandbox import SandboxServer

    root = Path(__file__).resolve().parents[2]
    shipped = load_mappings(root / "mappings")
    moodle = sorted(ref for target, ref in shipped.courses() if target == "moodle")
    token = "validate-token-0123456789abcdef"
    with SandboxServer(token=token) as server:
        control = SandboxControl(server.url)
        for ref in moodle[1:]:  # the first course is missing on the site
            control.create_course(ref, ref)
        (tmp_path / "token").write_text(token, encoding="utf-8")
        config = tmp_path / "upskill.toml"
        config.write_text(
            f'[directory]\ntype = "csv"\npath = "{root / "examples" / "org.csv"}"\n'
            f'[mappings]\npath = "{root / "mappings"}"\n'
            f'[targets.moodle]\nurl = "{server.url}"\ntoken_file = "token"\nretries = 0\n',
            encoding="utf-8",
        )
        writes = control.stats()["writes"]
        assert main(["--config", str(config), "mappings", "validate", "--online"]) == 2
        captured = capsys.readouterr()
        assert control.stats()["writes"] == writes  # validation only reads
    err = captured.err
    assert "1 problem(s)" in err, err
    where = shipped.course_sources[("moodle", moodle[0])]
    assert f"{where}: course '{moodle[0]}' does not exist on moodle" in err
    assert "course(s) on target 'skillbuilder' were not checked" in captured.out
