"""The mappings loader: merging, flattening, and every validation problem with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.errors import MappingsError
from connector.model import Course, Tier
from connector.personas.conditions import AllOf, AnyOf, HasAttribute, InGroup, Not, TitleMatches
from connector.personas.loader import load_mappings

from .conftest import BUNDLES, PERSONAS, RULES, TIERS, WriteMappings


def problems_of(folder: Path) -> tuple[str, ...]:
    with pytest.raises(MappingsError) as caught:
        load_mappings(folder)
    return caught.value.problems


def test_base_mappings_load_merged_and_flattened(write_mappings: WriteMappings) -> None:
    mappings = load_mappings(write_mappings({}))
    assert list(mappings.tiers) == [Tier.CONSUMERS, Tier.LEADERS, Tier.BUILDERS]
    assert mappings.tiers[Tier.LEADERS].share == 20
    assert mappings.tolerance == 5
    assert mappings.default_persona == "consumer"
    assert mappings.personas["leader"].tier is Tier.LEADERS
    assert mappings.personas["leader"].role == "leader"
    assert mappings.personas["consumer"].role is None
    lead = mappings.bundle_for("leader")
    # includes come first, then the bundle's own courses; numeric refs become text
    assert [(c.target, c.ref) for c in lead.courses] == [
        ("moodle", "C1"),
        ("skillbuilder", "20467"),
    ]
    assert mappings.bundle_for("builder").courses[-1] == Course("moodle", "B1", "Build one", 4, 30)
    assert set(mappings.courses()) == {
        ("moodle", "C1"),
        ("skillbuilder", "20467"),
        ("moodle", "B1"),
    }
    assert [rule.name for rule in mappings.rules] == ["execs", "engineers"]
    assert mappings.rules[0].source.endswith("mappings/rules.yaml:2")
    assert mappings.rules[1].source.endswith("mappings/rules.yaml:6")
    with pytest.raises(KeyError):
        mappings.bundle_for("nobody")


def test_sections_may_live_in_any_file_and_rules_are_sorted(write_mappings: WriteMappings) -> None:
    extra = """\
rules:
  - name: b-tie
    priority: 60
    persona: consumer
    when: {department: Sales}
  - name: a-tie
    priority: 60
    persona: consumer
    when: {department: [Sales, Marketing]}
"""
    mappings = load_mappings(write_mappings({"more-rules.yml": extra}))
    assert [rule.name for rule in mappings.rules] == ["execs", "a-tie", "b-tie", "engineers"]


def test_includes_deduplicate_courses_and_flatten_transitively(
    write_mappings: WriteMappings,
) -> None:
    bundles = (
        BUNDLES
        + """\
  top:
    title: Top
    includes: [lead, build]
    courses:
      - {target: moodle, ref: T1, title: Top, hours: 1.5}
"""
    )
    personas = PERSONAS + "  topper: {tier: leaders, title: Top, bundle: top}\n"
    mappings = load_mappings(write_mappings({"bundles.yaml": bundles, "personas.yaml": personas}))
    refs = [c.ref for c in mappings.bundle_for("topper").courses]
    assert refs == ["C1", "20467", "B1", "T1"]  # C1 from both includes, taken once


def test_conditions_are_compiled(write_mappings: WriteMappings) -> None:
    rules = """\
rules:
  - name: mixed
    priority: 1
    persona: consumer
    when:
      all:
        - any: [{group: a}, {title: '^vp\\b'}]
        - not: {attribute: {employment_type: [contractor, intern]}}
"""
    mappings = load_mappings(write_mappings({"rules.yaml": rules}))
    condition = mappings.rules[0].condition
    assert isinstance(condition, AllOf)
    first, second = condition.conditions
    assert isinstance(first, AnyOf)
    assert first.conditions[0] == InGroup("a")
    title = first.conditions[1]
    assert isinstance(title, TitleMatches)
    assert title.pattern.search("VP of Sales") and not title.pattern.search("Vpn admin")
    assert isinstance(second, Not)
    assert isinstance(second.condition, HasAttribute)
    assert second.condition.folded == {"contractor", "intern"}


def test_content_hash_follows_file_names_and_bytes(write_mappings: WriteMappings) -> None:
    folder = write_mappings({})
    first = load_mappings(folder).content_hash
    assert load_mappings(folder).content_hash == first
    (folder / "rules.yaml").write_text(RULES + "\n# a comment\n", encoding="utf-8")
    changed = load_mappings(folder).content_hash
    assert changed != first
    (folder / "rules.yaml").rename(folder / "zz-rules.yaml")
    assert load_mappings(folder).content_hash != changed
    assert len(first) == 64


# (file, text, line, column or None, fragment of the message)
BAD_CASES = {
    "yaml syntax": (
        "rules.yaml",
        "rules:\n  - name: x\n    priority: [1\n    persona: consumer\n",
        4,
        None,
        "YAML syntax error",
    ),
    "tab indentation": (
        "personas.yaml",
        "personas:\n  consumer:\n\ttier: consumers\n",
        3,
        1,
        "tab character",
    ),
    "duplicate key": (
        "personas.yaml",
        PERSONAS + "  consumer: {tier: consumers, title: Again, bundle: base}\n",
        5,
        3,
        "duplicate key 'consumer' (first given at line 2)",
    ),
    "wrong type": (
        "rules.yaml",
        RULES.replace("priority: 60", 'priority: "high"'),
        7,
        5,
        "priority: Input should be a valid integer",
    ),
    "unknown key": (
        "bundles.yaml",
        BUNDLES.replace("hours: 4, due_days", "hourz: 4, due_days"),
        15,
        53,
        "unknown key 'hourz'",
    ),
    "missing key": (
        "personas.yaml",
        PERSONAS.replace("title: Leader, ", ""),
        3,
        3,
        "'title' is required here",
    ),
    "unknown section": (
        "tiers.yaml",
        TIERS + "leaderz: {}\n",
        7,
        1,
        "unknown section 'leaderz'",
    ),
    "unknown persona in rule": (
        "rules.yaml",
        RULES.replace("persona: builder", "persona: buildr"),
        8,
        5,
        "rule 'engineers' names unknown persona 'buildr'",
    ),
    "unknown bundle of persona": (
        "personas.yaml",
        PERSONAS.replace("bundle: build}", "bundle: bild}"),
        4,
        None,
        "persona 'builder' names unknown bundle 'bild'",
    ),
    "unknown bundle in includes": (
        "bundles.yaml",
        BUNDLES.replace(
            "includes: [base]\n    courses:\n      - {target: moodle, ref: B1",
            "includes: [bass]\n    courses:\n      - {target: moodle, ref: B1",
        ),
        13,
        None,
        "bundle 'build' includes unknown bundle 'bass'",
    ),
    "include cycle": (
        "bundles.yaml",
        BUNDLES.replace(
            "includes: [base]\n    courses:\n      - {target: skillbuilder",
            "includes: [base, build]\n    courses:\n      - {target: skillbuilder",
        ).replace(
            "includes: [base]\n    courses:\n      - {target: moodle, ref: B1",
            "includes: [lead]\n    courses:\n      - {target: moodle, ref: B1",
        ),
        8,
        22,
        "cycle: build → lead → build",
    ),
    "invalid regex": (
        "rules.yaml",
        RULES.replace("{title: engineer}", "{title: 'engineer('}"),
        9,
        None,
        "invalid regular expression 'engineer('",
    ),
    "unknown condition": (
        "rules.yaml",
        RULES.replace("{group: executive-team}", "{groups: executive-team}"),
        5,
        None,
        "unknown condition 'groups'",
    ),
    "default persona unknown": (
        "tiers.yaml",
        "tiers:\n  consumers: {title: C, target_share: 70}\n"
        "  leaders: {title: L, target_share: 20}\n  builders: {title: B, target_share: 10}\n"
        "default_persona: nobody\n",
        5,
        1,
        "default_persona 'nobody' is not a defined persona",
    ),
    "shares not 100": (
        "tiers.yaml",
        "tiers:\n  consumers: {title: C, target_share: 70}\n"
        "  leaders: {title: L, target_share: 25}\n  builders: {title: B, target_share: 10}\n"
        "default_persona: consumer\n",
        1,
        1,
        "sum to 105, not 100",
    ),
    "missing tier": (
        "tiers.yaml",
        "tiers:\n  consumers: {title: C, target_share: 80}\n"
        "  leaders: {title: L, target_share: 20}\ndefault_persona: consumer\n",
        1,
        1,
        "missing tier(s) builders",
    ),
    "unknown tier key": (
        "tiers.yaml",
        TIERS.replace("tolerance", "  makers: {title: M, target_share: 0}\ntolerance"),
        5,
        3,
        "unknown tier 'makers'",
    ),
    "persona with unknown tier": (
        "personas.yaml",
        PERSONAS.replace("tier: leaders", "tier: bosses"),
        3,
        None,
        "persona 'leader' has unknown tier 'bosses'",
    ),
    "duplicate rule name": (
        "rules.yaml",
        RULES + "  - name: execs\n    priority: 1\n    persona: consumer\n    when: {group: x}\n",
        10,
        5,
        "rule 'execs' is already defined at",
    ),
    "non-positive hours": (
        "bundles.yaml",
        BUNDLES.replace("title: One, hours: 1}", "title: One, hours: 0}"),
        5,
        None,
        "hours must be positive, got 0",
    ),
    "empty bundle": (
        "bundles.yaml",
        BUNDLES + "  hollow:\n    title: Hollow\n",
        16,
        3,
        "bundle 'hollow' has no courses",
    ),
    "unknown course target": (
        "bundles.yaml",
        BUNDLES.replace("target: moodle, ref: C1", "target: canvas, ref: C1"),
        5,
        None,
        "Input should be 'moodle' or 'skillbuilder'",
    ),
    "unsafe tag": (
        "rules.yaml",
        "rules: !!python/object/apply:os.system ['true']\n",
        1,
        None,
        "YAML value not allowed",
    ),
    "empty condition text": (
        "rules.yaml",
        RULES.replace("{group: executive-team}", "{group: ''}"),
        5,
        12,
        "group must be a non-empty text",
    ),
    "two keys in one condition": (
        "rules.yaml",
        RULES.replace("{group: executive-team}", "{group: a, title: b}"),
        5,
        5,
        "exactly one key",
    ),
    "empty department list": (
        "rules.yaml",
        RULES.replace("{title: engineer}", "{department: []}"),
        9,
        None,
        "department list is empty",
    ),
    "attribute without a column": (
        "rules.yaml",
        RULES.replace("{title: engineer}", "{attribute: contractor}"),
        9,
        None,
        "attribute must map a column name",
    ),
    "all without a list": (
        "rules.yaml",
        RULES.replace("{title: engineer}", "{all: {group: a}}"),
        9,
        None,
        "all must be a non-empty list",
    ),
    "course defined differently twice": (
        "bundles.yaml",
        BUNDLES
        + "  other:\n    title: Other\n    courses:\n"
        + "      - {target: moodle, ref: C1, title: Different, hours: 1}\n",
        19,
        9,
        "course moodle C1 is defined differently at",
    ),
    "bad tolerance": (
        "tiers.yaml",
        TIERS.replace("tolerance: 5", "tolerance: lots"),
        5,
        1,
        "tolerance must be a number",
    ),
    "rules not a list": ("rules.yaml", "rules: {name: x}\n", 1, 1, "'rules' must be a list"),
    "personas not a mapping": (
        "personas.yaml",
        "personas: [consumer]\n",
        1,
        1,
        "'personas' must be a mapping",
    ),
    "setting given twice": (
        "zz.yaml",
        "tolerance: 3\n",
        1,
        1,
        "setting 'tolerance' is already defined at",
    ),
    "entry not a mapping": (
        "personas.yaml",
        PERSONAS + "  odd: 5\n",
        5,
        3,
        "this: a persona must be a mapping of keys",
    ),
    "top level not a mapping": (
        "rules.yaml",
        "- name: x\n",
        1,
        1,
        "must be a mapping of sections",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_each_problem_names_file_line_and_column(write_mappings: WriteMappings, case: str) -> None:
    name, text, line, column, fragment = BAD_CASES[case]
    folder = write_mappings({name: text})
    found = problems_of(folder)
    place = f"{folder.as_posix()}/{name}:{line}:" + (f"{column}:" if column else "")
    hits = [problem for problem in found if problem.startswith(place) and fragment in problem]
    assert hits, f"no problem at {place} with {fragment!r} in {found}"
    assert all(";" in problem for problem in found), "every message says what to do"


def test_duplicate_persona_across_files_points_at_both(write_mappings: WriteMappings) -> None:
    folder = write_mappings(
        {"zz-more.yaml": "personas:\n  leader: {tier: leaders, title: L2, bundle: lead}\n"}
    )
    (problem,) = problems_of(folder)
    assert problem.startswith(f"{folder.as_posix()}/zz-more.yaml:2:3: personas 'leader'")
    assert f"already defined at {folder.as_posix()}/personas.yaml:3:3" in problem


def test_every_problem_is_reported_at_once(write_mappings: WriteMappings) -> None:
    folder = write_mappings(
        {
            "rules.yaml": RULES.replace("persona: builder", "persona: buildr").replace(
                "{title: engineer}", "{title: '('}"
            ),
            "personas.yaml": PERSONAS.replace("bundle: build}", "bundle: bild}"),
            "bundles.yaml": BUNDLES.replace("hours: 1}", "hours: -1}"),
        }
    )
    found = problems_of(folder)
    assert len(found) == 4, found
    assert [p.split(":")[0].rsplit("/", 1)[1] for p in found] == [
        "bundles.yaml",
        "personas.yaml",
        "rules.yaml",
        "rules.yaml",
    ]
    with pytest.raises(MappingsError, match="4 problem"):
        load_mappings(folder)


def test_a_broken_entry_does_not_cascade_into_unknown_references(
    write_mappings: WriteMappings,
) -> None:
    # bundle 'build' is invalid; the persona naming it must not also get "unknown bundle"
    folder = write_mappings({"bundles.yaml": BUNDLES.replace("    title: Build\n", "")})
    found = problems_of(folder)
    assert len(found) == 1 and "'title' is required" in found[0]


def test_missing_folder_and_empty_folder_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(MappingsError, match="does not exist"):
        load_mappings(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not yaml")
    with pytest.raises(MappingsError, match=r"holds no \.yaml files"):
        load_mappings(tmp_path / "empty")


def test_missing_essentials_are_reported_for_the_folder(write_mappings: WriteMappings) -> None:
    folder = write_mappings({"tiers.yaml": None})
    found = problems_of(folder)
    assert any("no tiers are defined" in p for p in found)
    assert any("default_persona is not set" in p for p in found)
