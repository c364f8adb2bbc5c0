"""Administrator-written patterns and mappings files cannot stall or exhaust a night: each case
runs `upskill plan` under a CPU and memory ceiling (tests/bounded.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bounded import ROOT, run_bounded

from .conftest import write_tree

HEADER = (
    "employee_id,work_email,first_name,last_name,department,title,manager_employee_id,"
    "status,groups\n"
)


def _setup(tmp_path: Path, replaced: dict[str, str | None], title: str) -> Path:
    mappings = write_tree(tmp_path, replaced)
    people = tmp_path / "people.csv"
    people.write_text(
        HEADER
        + f"E1,ann@example.org,Ann,Archer,Sales,{title},,active,staff\n"
        + "E2,bob@example.org,Bob,Baker,Sales,Engineer,E1,active,staff\n",
        encoding="utf-8",
    )
    config = tmp_path / "upskill.toml"
    config.write_text(
        f'[directory]\npath = "{people}"\n[mappings]\npath = "{mappings}"\n'
        f'[state]\nurl = "sqlite:///{tmp_path / "state.db"}"\n',
        encoding="utf-8",
    )
    return config


@pytest.mark.parametrize("pattern", ["(a|a)*$", "(?:a|a)*$", "(.*a){20}$", "^(a+)+$"])
def test_a_backtracking_title_pattern_plans_within_the_ceiling(
    tmp_path: Path, pattern: str
) -> None:
    rules = (
        "rules:\n"
        f"  - {{name: trap, priority: 90, persona: leader, when: {{title: '{pattern}'}}}}\n"
        "  - {name: engineers, priority: 60, persona: builder, when: {title: engineer}}\n"
    )
    title = "a" * 32 + "!"  # 33 characters: minutes of backtracking for Python's re
    config = _setup(tmp_path, {"rules.yaml": rules}, title)
    done = run_bounded(["--config", str(config), "plan"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Read 2 people" in done.stdout


def test_a_yaml_alias_bomb_is_refused_by_name_within_the_ceiling(tmp_path: Path) -> None:
    levels = ['  a: &a ["x","x","x","x","x","x","x","x","x"]']
    for prev, name in zip("abcdefg", "bcdefgh", strict=True):
        levels.append(f"  {name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    bomb = "tiers:\n  consumers: {title: Consumers, target_share: 70}\n" \
        "  leaders: {title: Leaders, target_share: 20}\n" \
        "  builders: {title: Builders, target_share: 10}\n" \
        "tolerance: 5\ndefault_persona: consumer\nbomb:\n" + "\n".join(levels) + "\n"
    assert len("\n".join(levels)) < 500
    config = _setup(tmp_path, {"tiers.yaml": bomb}, "Engineer")
    done = run_bounded(["--config", str(config), "plan"], cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "tiers.yaml" in done.stderr and "aliases expanded" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_alias_bomb_inside_a_known_section_is_refused(tmp_path: Path) -> None:
    levels = ["x0: &x0 [1,1,1,1,1,1,1,1,1,1]"]
    levels += [f"x{i}: &x{i} [" + ",".join([f"*x{i - 1}"] * 10) + "]" for i in range(1, 7)]
    personas = (
        "personas:\n"
        "  consumer: {tier: consumers, title: Consumer, bundle: base, "
        "notes: {" + ", ".join(levels) + "}}\n"
        "  leader: {tier: leaders, title: Leader, role: leader, bundle: lead}\n"
        "  builder: {tier: builders, title: Builder, role: builder, bundle: build}\n"
    )
    config = _setup(tmp_path, {"personas.yaml": personas}, "Engineer")
    done = run_bounded(["--config", str(config), "plan"], cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "personas.yaml:2:" in done.stderr and "aliases expanded" in done.stderr


def test_the_shipped_mappings_are_far_below_the_alias_limit() -> None:
    from connector.personas.marked_yaml import MAX_EXPANDED_NODES, read_marked_yaml

    for path in (ROOT / "mappings").glob("*.yaml"):
        document, problems = read_marked_yaml(path.read_text(encoding="utf-8"))
        assert document is not None and not problems, path
    assert MAX_EXPANDED_NODES >= 50 * 2_000
