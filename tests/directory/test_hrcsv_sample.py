"""The reader over generated organisations: the shipped sample, round trips, and speed."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import orggen
from connector.config import CsvSource
from connector.directory.hrcsv import CsvDirectory
from connector.model import PersonStatus

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
AFTER_SAMPLE = date(2025, 7, 1)  # the generator's dates are relative to orggen.AS_OF
SHARED_TMP = [HealthCheck.function_scoped_fixture]  # each example writes its files afresh


def read(org: Path, groups: Path | None = None, **settings: object) -> CsvDirectory:
    return CsvDirectory(CsvSource.model_validate(settings), org, groups,
                        today=lambda: AFTER_SAMPLE)


def test_shipped_sample_is_the_generator_output(tmp_path: Path) -> None:
    orggen.main(["--people", "300", "--seed", "42", "--out", str(tmp_path), "--with-bad-rows"])
    assert (tmp_path / "org.csv").read_bytes() == (EXAMPLES / "org.csv").read_bytes()
    assert (tmp_path / "groups.csv").read_bytes() == (EXAMPLES / "groups.csv").read_bytes()


def test_shipped_sample_reads_with_exactly_its_bad_rows() -> None:
    snapshot = read(EXAMPLES / "org.csv", EXAMPLES / "groups.csv").read()
    assert len(snapshot.people) == 300
    kinds = sorted(
        ("no e-mail" if "has no work_email" in p.message else
         "invalid" if "is not an e-mail address" in p.message else
         "case duplicate kept" if "this row is kept" in p.message else
         "case duplicate skipped" if "already used by" in p.message else p.message)
        for p in snapshot.problems
    )
    assert kinds == ["case duplicate kept", "case duplicate skipped", "invalid", "no e-mail"]
    assert all(p.field == "work_email" for p in snapshot.problems)
    statuses = Counter(p.status for p in snapshot.people.values())
    assert statuses[PersonStatus.DISABLED] >= 5 and statuses[PersonStatus.LEFT] >= 3
    ancestors = snapshot.group_ancestors()
    assert ancestors["developers"] == {"technology"}
    assert max(len(a) for a in ancestors.values()) >= 2
    assert snapshot.group_cycles() == []


@settings(max_examples=25, deadline=None, suppress_health_check=SHARED_TMP)
@given(n=st.integers(min_value=1, max_value=400), seed=st.integers(0, 2**32))
def test_generated_rows_read_back_equal(tmp_path: Path, n: int, seed: int) -> None:
    rows, edges = orggen.generate(n, seed)
    org, groups = tmp_path / f"org-{n}-{seed}.csv", tmp_path / f"groups-{n}-{seed}.csv"
    orggen.write_rows(org, groups, rows, edges)
    snapshot = read(org, groups).read()
    assert snapshot.problems == ()
    assert len(snapshot.people) == n
    for row in rows:
        person = snapshot.people[row["employee_id"]]
        assert person.email == row["work_email"]
        assert (person.first_name, person.last_name) == (row["first_name"], row["last_name"])
        assert (person.department, person.title) == (row["department"], row["title"])
        assert person.manager_key == (row["manager_employee_id"] or None)
        assert person.groups == set(row["groups"].split(";"))
        assert person.attributes["location"] == row["location"]
        expected = {"active": PersonStatus.ACTIVE, "leave": PersonStatus.DISABLED,
                    "terminated": PersonStatus.LEFT}[row["status"]]
        if row["termination_date"]:
            expected = PersonStatus.LEFT
        assert person.status is expected
    for group, parent in edges:
        assert parent in snapshot.groups[group].parents


text_cell = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)


@settings(max_examples=50, deadline=None, suppress_health_check=SHARED_TMP)
@given(people=st.lists(st.tuples(text_cell, text_cell, text_cell), max_size=20),
       delimiter=st.sampled_from([",", ";", "\t", "|"]), bom=st.booleans())
def test_any_names_round_trip(
    tmp_path: Path, people: list[tuple[str, str, str]], delimiter: str, bom: bool
) -> None:
    rows = [[f"K{i}", f"p{i}@example.com", first, last, title]
            for i, (first, last, title) in enumerate(people)]
    path = tmp_path / "names.csv"
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=delimiter)
        writer.writerow(["employee_id", "work_email", "first_name", "last_name", "title"])
        writer.writerows(rows)
    snapshot = read(path).read()
    assert snapshot.problems == ()
    assert {k: (p.first_name, p.last_name, p.title) for k, p in snapshot.people.items()} == {
        row[0]: (row[2].strip(), row[3].strip(), row[4].strip()) for row in rows
    }
