"""Fixtures of the persona tests: a small valid mappings folder and a snapshot builder."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector.model import Group, Person, PersonStatus, Snapshot
from connector.personas.loader import Mappings, load_mappings

TIERS = """\
tiers:
  consumers: {title: Consumers, target_share: 70}
  leaders: {title: Leaders, target_share: 20}
  builders: {title: Builders, target_share: 10}
tolerance: 5
default_persona: consumer
"""

PERSONAS = """\
personas:
  consumer: {tier: consumers, title: Consumer, bundle: base}
  leader: {tier: leaders, title: Leader, role: leader, bundle: lead}
  builder: {tier: builders, title: Builder, role: builder, bundle: build}
"""

BUNDLES = """\
bundles:
  base:
    title: Base
    courses:
      - {target: moodle, ref: C1, title: One, hours: 1}
  lead:
    title: Lead
    includes: [base]
    courses:
      - {target: skillbuilder, ref: 20467, title: Exec, hours: 2}
  build:
    title: Build
    includes: [base]
    courses:
      - {target: moodle, ref: B1, title: Build one, hours: 4, due_days: 30}
"""

RULES = """\
rules:
  - name: execs
    priority: 100
    persona: leader
    when: {group: executive-team}
  - name: engineers
    priority: 60
    persona: builder
    when: {title: engineer}
"""

BASE_FILES = {
    "tiers.yaml": TIERS,
    "personas.yaml": PERSONAS,
    "bundles.yaml": BUNDLES,
    "rules.yaml": RULES,
}

WriteMappings = Callable[[Mapping[str, str | None]], Path]


def write_tree(parent: Path, replaced: Mapping[str, str | None]) -> Path:
    """``parent/mappings``: the base mappings with some files replaced (text) or left out
    (None)."""
    folder = parent / "mappings"
    folder.mkdir(exist_ok=True)
    for name, text in {**BASE_FILES, **replaced}.items():
        if text is not None:
            (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def write_mappings(tmp_path: Path) -> WriteMappings:
    """Write the base mappings with some files replaced (text) or left out (None)."""
    return lambda replaced: write_tree(tmp_path, replaced)


def _person(
    key: str,
    *,
    title: str = "",
    department: str = "",
    groups: Iterable[str] = (),
    status: PersonStatus = PersonStatus.ACTIVE,
    manager: str | None = None,
    **attributes: str,
) -> Person:
    return Person(
        key=key,
        email=f"{key}@example.org",
        first_name=key.capitalize(),
        last_name="Tester",
        department=department,
        title=title,
        manager_key=manager,
        status=status,
        groups=frozenset(groups),
        attributes=attributes,
    )


def _snapshot(
    people: Iterable[Person], nesting: Mapping[str, Iterable[str]] | None = None
) -> Snapshot:
    everyone = list(people)
    nested = {name: frozenset(parents) for name, parents in (nesting or {}).items()}
    names = set(nested) | {g for parents in nested.values() for g in parents}
    names |= {g for one in everyone for g in one.groups}
    return Snapshot(
        source="test",
        taken_at=datetime(2025, 1, 1, tzinfo=UTC),
        people={one.key: one for one in everyone},
        groups={name: Group(name, nested.get(name, frozenset())) for name in sorted(names)},
    )


MakePerson = Callable[..., Person]
MakeSnapshot = Callable[..., Snapshot]


@pytest.fixture(scope="session")
def make_person() -> MakePerson:
    """Build a person: ``make_person("ada", title=..., groups=[...], employment_type=...)``."""
    return _person


@pytest.fixture(scope="session")
def make_snapshot() -> MakeSnapshot:
    """Build a snapshot of people; ``nesting`` maps a group to its parent groups."""
    return _snapshot


@pytest.fixture(scope="session")
def base_mappings(tmp_path_factory: pytest.TempPathFactory) -> Mappings:
    """The small base mappings of this file, loaded."""
    folder = tmp_path_factory.mktemp("base") / "mappings"
    folder.mkdir()
    for name, text in BASE_FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return load_mappings(folder)
