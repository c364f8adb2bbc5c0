"""The synthetic organisation: shape, vocabulary, proportions, determinism."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bench import orggen

TITLES = {d.name: {t for t, _ in d.titles} for d in orggen.DEPARTMENTS}
DIVISIONS = {d.name: d.division for d in (orggen.EXECUTIVE, *orggen.DEPARTMENTS)}
CHIEFS = {t for t, _ in orggen.C_LEVEL}


def test_same_seed_same_organisation_other_seed_other() -> None:
    assert orggen.generate(500, 42) == orggen.generate(500, 42)
    assert orggen.generate(500, 42)[0] != orggen.generate(500, 43)[0]


@pytest.mark.parametrize("n", [1, 2, 7, 11, 30, 99, 100, 301, 2500])
def test_any_size_is_one_tree(n: int) -> None:
    rows, _ = orggen.generate(n)
    assert len(rows) == n
    keys = [r["employee_id"] for r in rows]
    assert len(set(keys)) == n and keys[0] == "E10001"
    assert len({r["work_email"].lower() for r in rows}) == n
    by_key = {r["employee_id"]: r for r in rows}
    roots = [r for r in rows if not r["manager_employee_id"]]
    assert [r["title"] for r in roots] == ["Chief Executive Officer"]
    for row in rows:  # every chain reaches the CEO
        seen, key = set(), row["employee_id"]
        while by_key[key]["manager_employee_id"]:
            assert key not in seen
            seen.add(key)
            key = by_key[key]["manager_employee_id"]
        assert key == "E10001"


def test_vocabulary() -> None:
    rows, edges = orggen.generate(3000, 5)
    assert list(rows[0]) == list(orggen.COLUMNS)
    for row in rows:
        dept, title = row["department"], row["title"]
        assert row["division"] == DIVISIONS[dept]
        allowed = TITLES.get(dept, set()) | {
            f"VP of {dept}", f"Director of {dept}", f"{dept} Manager", "Engineering Manager"}
        if dept == "Executive":
            allowed = CHIEFS | {"Chief Executive Officer"}
        assert title in allowed, (dept, title)
        assert row["location"] in {"London", "New York", "Berlin", "Singapore", "Sydney",
                                   "Toronto"}
        assert row["employment_type"] in {"full-time", "part-time", "contractor"}
        assert row["status"] in {"active", "leave", "terminated"}
        local, domain = row["work_email"].split("@")
        assert domain == "example.com" and local.isascii() and "." in local
    assert Counter(r["employment_type"] for r in rows).most_common(1)[0][0] == "full-time"
    assert {(g, p) for g, p in orggen.NESTING} <= set(edges)


def test_groups_follow_the_rules() -> None:
    rows, edges = orggen.generate(5000, 9)
    managers = {r["manager_employee_id"] for r in rows}
    slugs = {d.name: d.group for d in (orggen.EXECUTIVE, *orggen.DEPARTMENTS)}
    for row in rows:
        groups = row["groups"].split(";")
        assert len(groups) == len(set(groups))
        assert groups[0] == "All Staff" and slugs[row["department"]] in groups
        assert ("people-managers" in groups) == (row["employee_id"] in managers)
        assert ("executive-team" in groups) == (row["department"] == "Executive")
        assert ("ds-practitioners" in groups) == (row["department"] == "Data Science")
        assert ("developers" in groups) == (row["title"] in {
            "Software Engineer", "Senior Software Engineer", "Staff Software Engineer",
            "QA Engineer"})
        assert ("mlops-engineers" in groups) == (row["title"] in {
            "MLOps Engineer", "Machine Learning Engineer", "Platform Engineer"})
        assert ("business-analysts" in groups) == (row["title"] == "Business Analyst")
        assert ("stats-analysts" in groups) == (row["title"] == "Statistical Analyst")
    assert len(set(edges)) == len(edges)
    parents: dict[str, set[str]] = {}
    for group, parent in edges:
        parents.setdefault(group, set()).add(parent)

    def depth(group: str) -> int:
        return max((1 + depth(p) for p in parents.get(group, ())), default=0)

    teams = [g for g in parents if g.startswith("team-")]
    assert teams and all(depth(t) >= 2 for t in teams)
    assert max(depth(t) for t in teams) >= 4
    members = Counter(g for r in rows for g in r["groups"].split(";") if g.startswith("team-"))
    assert set(members) == set(teams)


def test_manager_tree_is_deep_with_a_span_of_five_to_nine() -> None:
    rows, _ = orggen.generate(20_000, 1)
    reports = Counter(r["manager_employee_id"] for r in rows if r["manager_employee_id"])
    spans = sorted(reports.values())
    assert 5 <= sum(spans) / len(spans) <= 9
    assert sum(5 <= s <= 10 for s in spans) / len(spans) > 0.9
    by_key = {r["employee_id"]: r for r in rows}

    def depth(key: str) -> int:
        up = by_key[key]["manager_employee_id"]
        return 0 if not up else 1 + depth(up)

    assert max(depth(k) for k in by_key) >= 6
    titles = Counter(r["title"] for r in rows)
    assert titles["VP of Sales"] and titles["Director of Sales"] and titles["Sales Manager"]


@pytest.mark.parametrize("n", [300, 1000, 10_000])
@pytest.mark.parametrize("seed", [42, 7])
def test_proportions_near_but_not_on_70_20_10(n: int, seed: int) -> None:
    shares = orggen.tier_shares(orggen.generate(n, seed)[0])
    assert 0.18 <= shares["leaders"] <= 0.22
    assert 0.09 <= shares["builders"] <= 0.13
    assert (shares["leaders"], shares["builders"]) != (0.2, 0.1)


def test_leavers_and_people_on_leave() -> None:
    rows, _ = orggen.generate(10_000, 42)
    status = Counter(r["status"] for r in rows)
    assert 0.02 <= status["leave"] / len(rows) <= 0.03
    assert 0.005 <= status["terminated"] / len(rows) <= 0.02
    terminated = [r for r in rows if r["status"] == "terminated"]
    dated = [r for r in terminated if r["termination_date"]]
    assert 0 < len(dated) < len(terminated)
    assert any(r["status"] == "active" and r["termination_date"] for r in rows)
    managers = {r["manager_employee_id"] for r in rows}
    assert not any(r["employee_id"] in managers for r in rows if r["status"] != "active")


def test_bad_rows_sit_among_the_good_ones() -> None:
    rows, _ = orggen.generate(90, 42)
    bad = orggen.with_bad_rows(rows)
    assert len(bad) == 93
    added = [r for r in bad if r not in rows]
    assert added[0]["work_email"] == ""
    shouted = added[1]["work_email"]
    original = next(i for i, r in enumerate(bad) if r["work_email"] == shouted.lower())
    assert shouted != shouted.lower() and original < bad.index(added[1])
    assert "@" not in added[2]["work_email"]
    assert bad[-1] is rows[-1]
    with pytest.raises(ValueError):
        orggen.with_bad_rows(rows[:5])


def test_main_writes_both_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    orggen.main(["--people", "40", "--seed", "1", "--out", str(tmp_path / "out")])
    org = (tmp_path / "out" / "org.csv").read_text(encoding="utf-8").splitlines()
    assert org[0] == ",".join(orggen.COLUMNS) and len(org) == 41
    assert (tmp_path / "out" / "groups.csv").read_text().startswith("group,parent\n")
    assert "40 people" in capsys.readouterr().out


def test_an_empty_organisation_is_refused() -> None:
    with pytest.raises(ValueError):
        orggen.generate(0)
