"""Two rows for one person: rehires by hire date and same-e-mail pairs by a documented order,
never by the export's row order."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.model import PersonStatus
from tests.directory.test_hrcsv import export, reader

HEADER = ("employee_id,work_email,first_name,last_name,department,title,manager_employee_id,"
          "status,hire_date")
STALE = "E7,kim@example.com,Kim,Lee,Executive,Director,,active,2017-03-01"
CURRENT = "E7,kim@example.com,Kim,Lee,Sales,Account Executive,,active,2022-09-12"
UNDATED = "E7,kim@example.com,Kim,Lee,Support,Agent,,active,"


@pytest.mark.parametrize("rows", [[STALE, CURRENT], [CURRENT, STALE]],
                         ids=["stale-first", "current-first"])
def test_two_active_rows_the_latest_hire_date_wins(tmp_path: Path, rows: list[str]) -> None:
    snapshot = reader(export(tmp_path, "\n".join([HEADER, *rows]) + "\n")).read()
    assert snapshot.people["E7"].title == "Account Executive"
    kept = [p for p in snapshot.problems if "this row is kept" in p.message]
    assert len(kept) == 1 and "hired 2022-09-12, the latest" in kept[0].message
    assert sum("row skipped" in p.message for p in snapshot.problems) == 1


def test_a_dated_row_wins_over_an_undated_one_and_a_full_tie_asks_for_a_date(
    tmp_path: Path,
) -> None:
    for rows in ([UNDATED, STALE], [STALE, UNDATED]):
        snapshot = reader(export(tmp_path, "\n".join([HEADER, *rows]) + "\n")).read()
        assert snapshot.people["E7"].title == "Director"
    tie = [UNDATED, UNDATED.replace("Agent", "Lead")]
    titles = {
        reader(export(tmp_path, "\n".join([HEADER, *order]) + "\n")).read().people["E7"].title
        for order in (tie, tie[::-1])
    }
    assert len(titles) == 1  # the same row whatever the order
    snapshot = reader(export(tmp_path, "\n".join([HEADER, *tie]) + "\n")).read()
    assert any("add hire_date to say which row is current" in p.message
               for p in snapshot.problems)


def test_an_employed_row_wins_over_a_later_terminated_one(tmp_path: Path) -> None:
    left = "E7,kim@example.com,Kim,Lee,Sales,Account Executive,,terminated,2023-01-01"
    for rows in ([STALE, left], [left, STALE]):
        snapshot = reader(export(tmp_path, "\n".join([HEADER, *rows]) + "\n")).read()
        assert snapshot.people["E7"].status is PersonStatus.ACTIVE
        assert snapshot.people["E7"].title == "Director"


@pytest.mark.parametrize("order", [0, 1], ids=["upper-first", "lower-first"])
def test_same_email_pair_is_resolved_the_same_in_either_order(tmp_path: Path, order: int) -> None:
    rows = [
        "E20,Pat.Doe@example.com,Pat,Doe,Sales,Rep,,active,2019-05-01",
        "E10,pat.doe@example.com,Patricia,Doe,Finance,Analyst,,active,2024-02-01",
    ]
    if order:
        rows.reverse()
    snapshot = reader(export(tmp_path, "\n".join([HEADER, *rows]) + "\n")).read()
    assert set(snapshot.people) == {"E10"}  # the latest hire date
    named = {p.record_key for p in snapshot.problems if p.field == "work_email"}
    assert named == {"E10", "E20"}  # both reported
    skipped = next(p for p in snapshot.problems if p.record_key == "E20")
    assert "row skipped" in skipped.message and "still employed first" in skipped.message


def test_same_email_pair_without_dates_keeps_the_smaller_key(tmp_path: Path) -> None:
    rows = ["E20,pat@example.com,Pat,Doe,Sales,Rep,,active,",
            "E10,PAT@example.com,Pat,Doe,Sales,Rep,,active,"]
    for order in (rows, rows[::-1]):
        snapshot = reader(export(tmp_path, "\n".join([HEADER, *order]) + "\n")).read()
        assert set(snapshot.people) == {"E10"}
