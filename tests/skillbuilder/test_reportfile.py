"""Reading Skill Builder progress reports: every kind of bad input gives a clear error or a
reported skip, never a silent loss and never a traceback."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connector.config import SkillBuilderReportFormat
from connector.errors import InputError
from connector.skillbuilder.reportfile import ParsedReport, Status, parse_report

FMT = SkillBuilderReportFormat()
HEADER = "Email,Item ID,Item name,Status,Progress (%),Completion date"


def parse(text: str, *, encoding: str = "utf-8", name: str = "r.csv") -> ParsedReport:
    return parse_report(text.encode(encoding), name, FMT)


def test_plain_report() -> None:
    report = parse(f"{HEADER}\nA@Example.com,20467,Exec,Completed,100,2026-11-20\n"
                   "b@example.com,2205,Plan,In progress,40,\n")
    a = report.rows[("a@example.com", "20467")]
    assert (a.status, a.percent, a.completed_at) == (
        Status.COMPLETED, 100.0, datetime(2026, 11, 20, tzinfo=UTC))
    b = report.rows[("b@example.com", "2205")]
    assert (b.status, b.percent, b.completed_at, b.line) == (Status.IN_PROGRESS, 40.0, None, 3)
    assert report.problems == [] and report.lines == 2


def test_bom_semicolons_and_cp1252() -> None:
    data = ("\ufeff" + HEADER.replace(",", ";") + "\nzoë@example.com;16666;Exec;Not started;0;\n")
    report = parse_report(data.encode("utf-8"), "bom.csv", FMT)
    assert ("zoë@example.com", "16666") in report.rows
    assert "read as UTF-8 with BOM" in report.notes
    latin = parse(HEADER + "\nzoë@example.com,16666,Exec für alle,Started,5%,\n",
                  encoding="cp1252")
    row = latin.rows[("zoë@example.com", "16666")]
    assert row.title == "Exec für alle" and row.percent == 5.0
    assert "read as cp1252" in latin.notes


def test_tab_separated_any_case_and_column_order() -> None:
    text = "STATUS\t email \tITEM ID\nCOMPLETED\tx@example.com\t2205\n"
    report = parse(text)
    row = report.rows[("x@example.com", "2205")]
    assert row.status is Status.COMPLETED and row.percent == 100.0
    assert "no 'Progress (%)' column: left empty" in report.notes


def test_extra_columns_are_named_in_a_note() -> None:
    report = parse(f"{HEADER},Team,Cost centre\nx@example.com,2205,P,Completed,100,,T,C\n")
    assert "columns not used: Team, Cost centre" in report.notes


def test_missing_columns_are_named() -> None:
    with pytest.raises(InputError) as err:
        parse("Email,Item ID,Progress (%)\nx@example.com,2205,10\n", name="cut.csv")
    assert "cut.csv" in err.value.message and "'Status'" in err.value.message
    assert "found: 'Email', 'Item ID', 'Progress (%)'" in err.value.message


def test_wrong_report_type() -> None:
    with pytest.raises(InputError) as err:
        parse("Email,First name,Last name\nx@example.com,X,Y\n", name="learners.csv")
    assert "not a progress report" in err.value.message and "learners.csv" in err.value.message


@pytest.mark.parametrize("data", [b"", b"   \r\n", b"\xef\xbb\xbf"])
def test_empty_file(data: bytes) -> None:
    with pytest.raises(InputError, match="empty"):
        parse_report(data, "empty.csv", FMT)


def test_header_only_is_a_note_not_an_error() -> None:
    report = parse(HEADER + "\n")
    assert report.rows == {} and "no progress rows (header only): nothing to import" in report.notes


def test_unknown_status_word_skips_the_row_with_its_line() -> None:
    report = parse(f"{HEADER}\nx@example.com,2205,P,Done-ish,,\ny@example.com,2205,P,Passed,,\n")
    assert list(report.rows) == [("y@example.com", "2205")]
    (problem,) = report.problems
    assert problem.where == "r.csv:2" and "unknown status 'Done-ish'" in problem.message
    assert "[targets.skillbuilder.report]" in problem.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-20", datetime(2026, 11, 20, tzinfo=UTC)),
        ("2026-11-20T08:30:00Z", datetime(2026, 11, 20, 8, 30, tzinfo=UTC)),
        ("2026-11-20T10:30:00+02:00", datetime(2026, 11, 20, 8, 30, tzinfo=UTC)),
        ("2026-11-20 08:30:00", datetime(2026, 11, 20, 8, 30, tzinfo=UTC)),
        ("11/20/2026", datetime(2026, 11, 20, tzinfo=UTC)),
        ("20 Nov 2026", datetime(2026, 11, 20, tzinfo=UTC)),
        ("Nov 20, 2026", datetime(2026, 11, 20, tzinfo=UTC)),
    ],
)
def test_date_formats(text: str, expected: datetime) -> None:
    report = parse(f'{HEADER}\nx@example.com,2205,P,Completed,100,"{text}"\n')
    assert report.rows[("x@example.com", "2205")].completed_at == expected


def test_bad_date_and_percentage_skip_the_row() -> None:
    report = parse(f"{HEADER}\nx@example.com,2205,P,Completed,100,yesterday\n"
                   "y@example.com,2205,P,In progress,140,\nz@example.com,2205,P,In progress,"
                   "\"45,5 %\",\n")
    assert list(report.rows) == [("z@example.com", "2205")]
    assert report.rows[("z@example.com", "2205")].percent == 45.5
    assert [p.field for p in report.problems] == ["Completion date", "Progress (%)"]
    assert "'yesterday'" in report.problems[0].message


def test_the_same_learner_twice_keeps_the_furthest_and_says_so() -> None:
    report = parse(f"{HEADER}\nx@example.com,2205,P,In progress,60,\n"
                   "X@EXAMPLE.COM,2205,P,In progress,20,\n"
                   "x@example.com,2205,P,In progress,60,\n")
    assert report.rows[("x@example.com", "2205")].percent == 60.0
    (problem,) = report.problems  # the identical third row is no conflict
    assert problem.where == "r.csv:3" and "first on line 2" in problem.message
    assert "in_progress, 60 %" in problem.message


def test_rows_without_email_or_item_are_reported() -> None:
    report = parse(f"{HEADER}\n,2205,P,Completed,,\nx@example.com,,P,Completed,,\n")
    assert report.rows == {} and len(report.problems) == 2


def test_short_rows_are_padded() -> None:
    report = parse(f"{HEADER}\nx@example.com,2205,P,Not started\n")
    assert report.rows[("x@example.com", "2205")].status is Status.NOT_STARTED
