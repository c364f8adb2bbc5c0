"""The default mappings shipped in mappings/: valid, complete, and sensible on a sample org."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.model import PersonStatus, Tier
from connector.personas.engine import assign, explain
from connector.personas.loader import Mappings, load_mappings

from .conftest import MakePerson, MakeSnapshot

SHIPPED = Path(__file__).resolve().parents[2] / "mappings"

ROLE_PERSONAS = {
    "business-decision-maker": Tier.LEADERS,
    "business-analyst": Tier.LEADERS,
    "developer": Tier.BUILDERS,
    "data-scientist": Tier.BUILDERS,
    "mlops-engineer": Tier.BUILDERS,
    "statistical-analyst": Tier.BUILDERS,
}

# the sample organisation's nesting (examples/org.csv uses the same vocabulary)
NESTING = {
    "executive-team": ["people-managers"],
    "ds-practitioners": ["technology"],
    "mlops-engineers": ["technology"],
    "developers": ["technology"],
    "dept-it-operations": ["technology"],
    "business-analysts": ["analytics"],
    "stats-analysts": ["analytics"],
}


@pytest.fixture(scope="module")
def shipped() -> Mappings:
    return load_mappings(SHIPPED)


def test_tiers_follow_the_70_20_10_model(shipped: Mappings) -> None:
    shares = {tier: target.share for tier, target in shipped.tiers.items()}
    assert shares == {Tier.CONSUMERS: 70, Tier.LEADERS: 20, Tier.BUILDERS: 10}
    assert shipped.tolerance == 5
    assert shipped.default_persona == "consumer"


def test_one_consumer_persona_and_six_role_personas(shipped: Mappings) -> None:
    assert len(shipped.personas) == 7
    assert shipped.personas["consumer"].tier is Tier.CONSUMERS
    assert shipped.personas["consumer"].role is None
    for key, tier in ROLE_PERSONAS.items():
        assert shipped.personas[key].tier is tier
        assert shipped.personas[key].role == key


def refs(shipped: Mappings, persona: str) -> set[tuple[str, str]]:
    return {(c.target, c.ref) for c in shipped.bundle_for(persona).courses}


def test_bundles_carry_the_seed_skill_builder_items(shipped: Mappings) -> None:
    executive_items = {
        ("skillbuilder", "20467"),
        ("skillbuilder", "17541"),
        ("skillbuilder", "16666"),
    }
    for key, tier in ROLE_PERSONAS.items():
        if tier is Tier.LEADERS:
            assert executive_items <= refs(shipped, key), key
        else:
            assert ("skillbuilder", "2205") in refs(shipped, key), key
    assert not any(target == "skillbuilder" for target, _ in refs(shipped, "consumer"))


def test_role_bundles_extend_their_tier_bundle_and_everyone_takes_responsible_ai(
    shipped: Mappings,
) -> None:
    base = {Tier.LEADERS: "leaders", Tier.BUILDERS: "builders"}
    for key, tier in ROLE_PERSONAS.items():
        tier_refs = {(c.target, c.ref) for c in shipped.bundles[base[tier]].courses}
        own = refs(shipped, key)
        assert tier_refs < own, f"{key} adds role courses to {base[tier]}"
        assert 1 <= len(own - tier_refs) <= 2
    for key in shipped.personas:
        assert ("moodle", "GENAI-C101") in refs(shipped, key)


@pytest.mark.parametrize(
    ("tier", "low", "high", "total"),
    [(Tier.CONSUMERS, 1, 2, 10), (Tier.LEADERS, 1, 3, 25), (Tier.BUILDERS, 1.5, 8, 55)],
)
def test_expected_hours_are_sensible(
    shipped: Mappings, tier: Tier, low: float, high: float, total: float
) -> None:
    for key, persona in shipped.personas.items():
        if persona.tier is not tier:
            continue
        courses = shipped.bundle_for(key).courses
        assert all(low <= c.hours <= high for c in courses), key
        assert sum(c.hours for c in courses) <= total, key


def test_sample_organisation_gets_the_expected_personas(
    shipped: Mappings, make_person: MakePerson, make_snapshot: MakeSnapshot
) -> None:
    staff = ["All Staff"]
    cases = {
        "ceo": ("Chief Executive Officer", "Executive", ["executive-team"], "executive-team"),
        "vps": ("VP of Sales", "Sales", ["people-managers", "dept-sales"], "people-managers"),
        "em": (
            "Engineering Manager",
            "Engineering",
            ["people-managers", "developers"],
            "people-managers",
        ),
        "mle": ("MLOps Engineer", "Platform", ["mlops-engineers"], "mlops-engineers"),
        "mle2": ("Machine Learning Engineer", "Data Science", [], "mlops-engineers"),
        "pe": ("Platform Engineer", "Platform", ["dept-platform"], "mlops-engineers"),
        "ds": ("Data Scientist", "Data Science", ["ds-practitioners"], "data-scientists"),
        "sds": ("Senior Data Scientist", "Data Science", [], "data-scientists"),
        "sa": ("Statistical Analyst", "Data Science", ["stats-analysts"], "statistical-analysts"),
        "its": ("IT Support Specialist", "IT Operations", ["dept-it-operations"], "developers"),
        "swe": ("Staff Software Engineer", "Engineering", ["dept-engineering"], "developers"),
        "qa": ("QA Engineer", "Engineering", [], "developers"),
        "ba": ("Business Analyst", "Product", ["business-analysts"], "business-analysts"),
        "acc": ("Accountant", "Finance", ["dept-finance"], None),
        "sup": ("Support Specialist", "Customer Support", [], None),
        "ae": ("Account Executive", "Sales", ["dept-sales"], None),
    }
    people = [
        make_person(key, title=title, department=dept, groups=[*groups, *staff])
        for key, (title, dept, groups, _) in cases.items()
    ]
    people.append(make_person("left", title="Software Engineer", status=PersonStatus.LEFT))
    snapshot = make_snapshot(people, NESTING)
    result = assign(snapshot, shipped)
    assert "left" not in result
    for key, (*_, rule) in cases.items():
        assert result[key].rule == rule, (key, result[key])
    assert result["ceo"].persona.key == "business-decision-maker"
    assert [m.rule for m in result["ceo"].lost] == ["people-managers"]
    assert [m.rule for m in result["em"].lost] == ["developers"]
    assert result["acc"].persona.key == "consumer"
    text = explain(snapshot, shipped, "ceo", result["ceo"])
    assert "group people-managers via executive-team → people-managers" in text
    assert "skillbuilder 20467" in text
