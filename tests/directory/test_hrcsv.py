"""The HR CSV reader: encodings, delimiters, columns, bad rows, statuses, groups, managers."""

from __future__ import annotations

import codecs
import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from connector.config import CsvColumns, CsvSource, CsvStatuses
from connector.directory import DirectorySource
from connector.directory.hrcsv import CsvDirectory, date_readings, detect_delimiter
from connector.errors import InputError
from connector.model import PersonStatus, RecordProblem
from connector.report.reasons import reason_class, skipped_rows

TODAY = date(2025, 1, 15)
HEADER = "employee_id,work_email,first_name,last_name,department,title,manager_employee_id,status"


def export(tmp_path: Path, text: str, name: str = "org.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def reader(path: Path, groups: Path | None = None, **settings: object) -> CsvDirectory:
    return CsvDirectory(CsvSource.model_validate(settings), path, groups, today=lambda: TODAY)


def problems_at(problems: tuple[RecordProblem, ...]) -> list[tuple[int, str | None]]:
    return [(int(p.where.rpartition(":")[2]), p.field) for p in problems]


# -- encodings and delimiters -----------------------------------------------------------------

GOOD = f"""{HEADER}
E1,ana@example.com,Ana,Núñez,Engineering,Software Engineer,,active
E2,zoe@example.com,Zoë,Ødegaard,Engineering,QA Engineer,E1,active
"""


@pytest.mark.parametrize("bom", [b"", codecs.BOM_UTF8], ids=["no-bom", "bom"])
def test_utf8_with_and_without_bom(tmp_path: Path, bom: bytes) -> None:
    path = tmp_path / "org.csv"
    path.write_bytes(bom + GOOD.encode("utf-8"))
    snapshot = reader(path).read()
    assert sorted(snapshot.people) == ["E1", "E2"]
    assert snapshot.people["E2"].first_name == "Zoë"
    assert snapshot.people["E1"].last_name == "Núñez"
    assert snapshot.problems == ()


def test_cp1252_is_the_fallback_and_keeps_accents(tmp_path: Path) -> None:
    text = f"{HEADER}\nE1,jose@example.com,José,Müller,Finance,Accountant,,active\n"
    path = export(tmp_path, text, encoding="cp1252")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    person = reader(path).read().people["E1"]
    assert (person.first_name, person.last_name) == ("José", "Müller")
    assert reader(path, encoding="cp1252").read().people["E1"].first_name == "José"


def test_explicit_encoding_that_does_not_fit_names_the_file(tmp_path: Path) -> None:
    path = export(tmp_path, f"{HEADER}\nE1,j@example.com,José,M,,,,\n", encoding="cp1252")
    with pytest.raises(InputError) as err:
        reader(path, encoding="utf-8").read()
    assert str(path) in err.value.message and "directory.encoding" in err.value.message
    with pytest.raises(InputError, match="unknown encoding"):
        reader(path, encoding="klingon").read()


def test_utf16_with_bom_from_spreadsheet_unicode_text(tmp_path: Path) -> None:
    path = tmp_path / "org.csv"
    path.write_bytes(GOOD.replace(",", "\t").encode("utf-16"))
    snapshot = reader(path).read()
    assert snapshot.people["E2"].last_name == "Ødegaard"


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_delimiter_is_detected(tmp_path: Path, delimiter: str) -> None:
    text = GOOD.replace(",", delimiter)
    snapshot = reader(export(tmp_path, text)).read()
    assert snapshot.people["E2"].manager_key == "E1"
    assert snapshot.problems == ()


def test_explicit_delimiter_is_honoured(tmp_path: Path) -> None:
    path = export(tmp_path, GOOD.replace(",", ";"))
    assert len(reader(path, delimiter=";").read().people) == 2
    with pytest.raises(InputError, match="required column"):
        reader(path, delimiter=",").read()


def test_detect_delimiter_ignores_quoted_text() -> None:
    assert detect_delimiter('"a,b,c,d";"e";"f"') == ";"
    assert detect_delimiter("a;b,c;d") == ";"
    assert detect_delimiter("a,b;c") == ","  # ties go to the comma
    assert detect_delimiter("lonely") == ","


# -- columns ----------------------------------------------------------------------------------


def test_column_names_are_configurable_and_matched_loosely(tmp_path: Path) -> None:
    text = (" Personnel No ;E-MAIL;Given;Family;Org Unit;Job;Reports To;State;Cost Center\n"
            "  P1 ; a@example.com ; Ana ;Ng;Sales;Account Executive;;Aktiv;CC-9\n"
            "P2;b@example.com;Bo;Li;Sales;Account Executive;P1;Ruhend;CC-9\n")
    columns = CsvColumns(key="personnel no", email="e-mail", first_name="given",
                         last_name="family", department="org unit", title="job",
                         manager_key="reports to", status="state", groups="",
                         extra=("cost center",))
    statuses = CsvStatuses(active=("aktiv",), disabled=("ruhend",), left=("ausgetreten",))
    snapshot = reader(export(tmp_path, text), columns=columns, statuses=statuses).read()
    ana, bo = snapshot.people["P1"], snapshot.people["P2"]
    assert (ana.email, ana.first_name, ana.department) == ("a@example.com", "Ana", "Sales")
    assert bo.manager_key == "P1" and bo.status is PersonStatus.DISABLED
    assert ana.attributes == {"cost center": "CC-9"}
    assert ana.groups == frozenset()


def test_missing_required_column_names_file_column_and_fix(tmp_path: Path) -> None:
    path = export(tmp_path, "employee_id,email,first_name\nE1,a@example.com,Ana\n")
    with pytest.raises(InputError) as err:
        reader(path).read()
    message = err.value.message
    assert str(path) in message
    assert "'work_email'" in message and "employee_id, email, first_name" in message
    assert "directory.columns" in message


def test_optional_columns_may_be_absent(tmp_path: Path) -> None:
    path = export(tmp_path, "work_email,employee_id\nA@Example.com,E1\n")
    person = reader(path).read().people["E1"]
    assert person.email == "A@Example.com"
    assert (person.first_name, person.title, person.manager_key) == ("", "", None)
    assert person.status is PersonStatus.ACTIVE
    assert person.attributes == {}


def test_extra_and_known_attributes_are_kept(tmp_path: Path) -> None:
    text = ("employee_id,work_email,division,location,employment_type,preferred_name,cost_center,"
            "shoe_size\nE1,a@example.com,Technology,Berlin,contractor,Al,CC1,44\n")
    person = reader(export(tmp_path, text)).read().people["E1"]
    assert person.attributes == {
        "division": "Technology", "location": "Berlin", "employment_type": "contractor",
        "preferred_name": "Al", "cost_center": "CC1",
    }


# -- bad rows ---------------------------------------------------------------------------------

BAD = f"""{HEADER}
E1,boss@example.com,Bea,Boss,Exec,CEO,,active
,nokey@example.com,No,Key,Sales,Rep,E1,active
E3,,No,Mail,Sales,Rep,E1,active
E4,not-an-address,Bad,Mail,Sales,Rep,E1,active
E5,dup@example.com,First,Dup,Sales,Rep,E1,active
E5,other@example.com,Second,Dup,Sales,Rep,E1,active
E7,Case@Example.com,Case,One,Sales,Rep,E1,active
E8,case@EXAMPLE.com,Case,Two,Sales,Rep,E1,active
E9,short@example.com,Too,Short
E10,long@example.com,Too,Long,Sales,Rep,E1,active,surplus
E11,odd@example.com,Odd,Status,Sales,Rep,E1,retired

E12,fine@example.com,Fine,"Multi
Line",Sales,Rep,E1,active
E13,last@example.com,Last,Good,Sales,Rep,E1,active,,
E14,,After,Multi,Sales,Rep,E1,active
"""


def test_each_bad_row_is_skipped_and_reported_with_its_line(tmp_path: Path) -> None:
    snapshot = reader(export(tmp_path, BAD)).read()
    assert sorted(snapshot.people) == ["E1", "E12", "E13", "E5", "E7"]
    assert snapshot.people["E5"].first_name == "First"
    assert snapshot.people["E12"].last_name == "Multi\nLine"
    assert problems_at(snapshot.problems) == [
        (3, "employee_id"), (4, "work_email"), (5, "work_email"),
        (6, "employee_id"), (7, "employee_id"), (8, "work_email"), (9, "work_email"),
        (10, None), (11, None), (12, "status"), (17, "work_email"),
    ]
    by_line = {int(p.where.rpartition(":")[2]): p for p in snapshot.problems}
    assert all(p.where.startswith(f"{tmp_path / 'org.csv'}:") for p in snapshot.problems)
    assert by_line[4].record_key == "E3" and "no work_email" in by_line[4].message
    assert "'not-an-address'" in by_line[5].message
    assert "duplicate employee_id E5, also on line 7" in by_line[6].message
    assert "duplicate employee_id E5, also on line 6" in by_line[7].message
    assert "skipped" in by_line[7].message and "skipped" not in by_line[6].message
    assert "E8 on line 9" in by_line[8].message and "kept" in by_line[8].message
    assert by_line[9].record_key == "E8" and "skipped" in by_line[9].message
    assert "the row has 4 cells but the header has 8" in by_line[10].message
    assert "9 cells but the header has 8" in by_line[11].message
    assert "'retired'" in by_line[12].message and "directory.statuses" in by_line[12].message


def test_emails_and_cells_are_trimmed_but_kept_as_given(tmp_path: Path) -> None:
    text = f"{HEADER}\n E1 ,  Ana.Núñez@Example.COM ,  Ana  , Núñez ,Sales,Rep,,ACTIVE\n"
    person = reader(export(tmp_path, text)).read().people["E1"]
    assert (person.key, person.email, person.first_name) == ("E1", "Ana.Núñez@Example.COM", "Ana")


def test_rehire_reusing_an_id_keeps_the_current_row(tmp_path: Path) -> None:
    text = (f"{HEADER}\nE1,old@example.com,Re,Hire,Sales,Rep,,terminated\n"
            "E1,new@example.com,Re,Hire,Sales,Senior Rep,,active\n")
    snapshot = reader(export(tmp_path, text)).read()
    assert snapshot.people["E1"].email == "new@example.com"
    assert snapshot.people["E1"].status is PersonStatus.ACTIVE
    assert problems_at(snapshot.problems) == [(2, "employee_id"), (3, "employee_id")]
    assert "skipped (line 3 is kept)" in snapshot.problems[0].message


def test_a_report_counts_the_skipped_row_of_each_pair_once(tmp_path: Path) -> None:
    """Of a rehire pair and of a same-e-mail pair, the row skipped is counted in the report's
    skipped rows, the row kept (a warning) is not: its partner's message says "is kept" too."""
    text = (f"{HEADER}\nE1,old@example.com,Re,Hire,Sales,Rep,,terminated\n"
            "E1,new@example.com,Re,Hire,Sales,Senior Rep,,active\n"
            "E2,same@example.com,Sam,E,Sales,Rep,,active\n"
            "E3,Same@Example.com,Sam,F,Sales,Rep,,active\n")
    snapshot = reader(export(tmp_path, text)).read()
    assert len(snapshot.problems) == 4
    assert dict(skipped_rows(snapshot.problems)) == {
        "key of another row": 1, "e-mail address of another person": 1}


# -- statuses and termination dates -----------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    ("active", PersonStatus.ACTIVE), ("", PersonStatus.ACTIVE), ("Leave", PersonStatus.DISABLED),
    ("SUSPENDED", PersonStatus.DISABLED), ("terminated", PersonStatus.LEFT),
    (" Left ", PersonStatus.LEFT),
])
def test_statuses_map_ignoring_case(tmp_path: Path, value: str, expected: PersonStatus) -> None:
    text = f"{HEADER}\nE1,a@example.com,A,B,Sales,Rep,,{value}\n"
    assert reader(export(tmp_path, text)).read().people["E1"].status is expected


STATUS_DATES = "employee_id,work_email,status,hire_date,termination_date\n"


@pytest.mark.parametrize("ended", [
    "2024-12-31", "2024/12/31", "2024-12-31T17:00:00", "31/12/2024", "12/31/2024",
    "31.12.2024", "31 Dec 2024", "31-Dec-2024", "31 December 2024", "Dec 31, 2024",
    "03/04/2024",  # day/month or month/day: both readings are past, so it is decided
])
def test_past_termination_date_means_left(tmp_path: Path, ended: str) -> None:
    path = export(tmp_path, f"{STATUS_DATES}E1,a@example.com,active,2020-01-01,\"{ended}\"\n")
    snapshot = reader(path).read()
    assert snapshot.people["E1"].status is PersonStatus.LEFT
    assert snapshot.problems == ()


@pytest.mark.parametrize("ended", ["2025-01-15", "2025-03-01", "1 Feb 2025"])
def test_today_or_future_termination_date_changes_nothing(tmp_path: Path, ended: str) -> None:
    path = export(tmp_path, f"{STATUS_DATES}E1,a@example.com,leave,,{ended}\n")
    assert reader(path).read().people["E1"].status is PersonStatus.DISABLED


def test_unreadable_and_ambiguous_dates_are_reported_and_ignored(tmp_path: Path) -> None:
    text = (f"{STATUS_DATES}E1,a@example.com,active,,soon\n"
            "E2,b@example.com,active,,01/02/2025\n"  # 1 Feb (future) or 2 Jan (past)
            "E3,c@example.com,active,,31/02/2024\n")
    snapshot = reader(export(tmp_path, text)).read()
    assert all(p.status is PersonStatus.ACTIVE for p in snapshot.people.values())
    assert problems_at(snapshot.problems) == [(2, "termination_date"), (3, "termination_date"),
                                              (4, "termination_date")]
    assert "YYYY-MM-DD" in snapshot.problems[1].message
    assert "day/month" in snapshot.problems[1].message


def test_hire_after_termination_is_a_rehire(tmp_path: Path) -> None:
    text = (f"{STATUS_DATES}E1,a@example.com,active,2024-06-01,2023-02-28\n"
            "E2,b@example.com,active,2020-06-01,2023-02-28\n")
    people = reader(export(tmp_path, text)).read().people
    assert people["E1"].status is PersonStatus.ACTIVE
    assert people["E2"].status is PersonStatus.LEFT
    # the hire date in ISO, for a report of a past period (who was there yet)
    assert people["E1"].attributes == {"hire_date": "2024-06-01"}
    assert people["E2"].attributes == {"hire_date": "2020-06-01",
                                       "termination_date": "2023-02-28"}


def test_rows_that_name_a_person_but_cannot_be_used_are_set_aside(tmp_path: Path) -> None:
    text = (f"{STATUS_DATES}E1,a@example.com,active,,\n"
            "E2,,active,,\n"
            "E3,not-an-address,leave,,\n"
            "E4,A@Example.com,active,,\n"
            "E5,,active,,2020-01-01\n"
            "E1,,active,,\n")
    snapshot = reader(export(tmp_path, text)).read()
    assert sorted(snapshot.people) == ["E1"]
    aside = {k: (p.email, p.status, why) for k, (p, why) in snapshot.unusable.items()}
    # reports count them with the reason class; their e-mail (missing, broken or someone
    # else's) is dropped; a leaver is not set aside, nor a key another row already gives
    assert aside == {
        "E2": ("", PersonStatus.ACTIVE, "no e-mail address"),
        "E3": ("", PersonStatus.DISABLED, "not an e-mail address"),
        "E4": ("", PersonStatus.ACTIVE, "e-mail address of another person"),
    }


def test_rows_without_key_or_with_an_unknown_status_are_set_aside(tmp_path: Path) -> None:
    text = ("employee_id,work_email,first_name,status,termination_date\n"
            "E1,a@example.com,Ann,active,\n"
            ",b@example.com,Bea,active,\n"
            ",,,,\n"
            "E4,d@example.com,Dee,contractor,\n"
            "E5,e@example.com,Eve,contractor,2020-01-01\n")
    path = export(tmp_path, text)
    snapshot = reader(path).read()
    assert sorted(snapshot.people) == ["E1"]
    aside = {k: (p.first_name, p.email, p.status, why)
             for k, (p, why) in snapshot.unusable.items()}
    # no key: kept under its place; an unknown status: counted as active; a row naming
    # nobody and a leaver are not set aside
    assert aside == {
        f"{path}:3": ("Bea", "", PersonStatus.ACTIVE, "no usable id"),
        "E4": ("Dee", "", PersonStatus.ACTIVE, "status not readable"),
    }
    classes = {p.where.rsplit(":", 1)[1]: reason_class(p) for p in snapshot.problems}
    assert classes == {"3": "no usable id", "5": "status not readable",
                       "6": "status not readable"}
    assert "counted in reports" in snapshot.problems[1].message
    assert "counted" not in snapshot.problems[2].message  # a leaver


def test_date_readings() -> None:
    assert date_readings("2024-03-12") == (date(2024, 3, 12),)
    assert date_readings("12 Mar 2024") == (date(2024, 3, 12),)
    assert date_readings("March 12th, 2024") == (date(2024, 3, 12),)
    assert date_readings("13/03/2024") == (date(2024, 3, 13),)
    assert date_readings("03/13/2024") == (date(2024, 3, 13),)
    assert set(date_readings("03/04/2024")) == {date(2024, 4, 3), date(2024, 3, 4)}
    assert date_readings("04/04/2024") == (date(2024, 4, 4),)
    assert date_readings("12 Foo 2024") == ()
    assert date_readings("2024-13-01") == ()
    assert date_readings("") == ()


# -- groups -----------------------------------------------------------------------------------


def test_groups_are_split_trimmed_and_nested(tmp_path: Path) -> None:
    org = export(tmp_path, "employee_id,work_email,groups\n"
                 'E1,a@example.com," developers ;;All Staff; "\n'
                 "E2,b@example.com,\n")
    nesting = export(tmp_path, "group,parent\ndevelopers,technology\ntechnology,All Staff\n"
                     "developers,engineering\nlonely,\n", name="groups.csv")
    snapshot = reader(org, nesting).read()
    assert snapshot.people["E1"].groups == {"developers", "All Staff"}
    assert snapshot.people["E2"].groups == frozenset()
    assert set(snapshot.groups) == {"developers", "All Staff", "technology", "engineering",
                                    "lonely"}
    assert snapshot.groups["developers"].parents == {"technology", "engineering"}
    assert snapshot.group_ancestors()["developers"] == {"technology", "engineering", "All Staff"}
    assert snapshot.problems == ()


def test_the_groups_are_those_of_the_rows_used(tmp_path: Path) -> None:
    # a rehire's older row, a row with another person's e-mail and a row without one name
    # groups nobody read is in; a group a skipped row shares with a used one stays
    org = export(tmp_path, "employee_id,work_email,status,hire_date,groups\n"
                 "E1,a@example.com,terminated,2019-01-01,old-team;shared\n"
                 "E1,a@example.com,active,2024-01-01,new-team\n"
                 "E2,b@example.com,active,,shared\n"
                 "E3,B@example.com,active,,copycats\n"
                 "E4,,active,,nobody\n"
                 "E5,e@example.com,active,,\n")
    snapshot = reader(org).read()
    assert set(snapshot.people) == {"E1", "E2", "E5"}
    assert set(snapshot.groups) == {"new-team", "shared"}
    assert snapshot.membership.value == "direct only"


def test_group_separator_is_configurable(tmp_path: Path) -> None:
    org = export(tmp_path, "employee_id;work_email;groups\nE1;a@example.com;x|y\n")
    assert reader(org, group_separator="|").read().people["E1"].groups == {"x", "y"}


def test_bad_nesting_rows_and_cycles_are_reported(tmp_path: Path) -> None:
    org = export(tmp_path, "employee_id,work_email,groups\nE1,a@example.com,a\n")
    nesting = export(tmp_path, "group,parent\n,x\nb,b\na,b\nb,a\n", name="groups.csv")
    snapshot = reader(org, nesting).read()
    wheres = [p.where for p in snapshot.problems]
    assert wheres == [f"{nesting}:2", f"{nesting}:3", str(nesting)]
    assert "a, b" in snapshot.problems[2].message
    assert snapshot.groups["a"].parents == {"b"}


def test_nesting_file_needs_its_columns(tmp_path: Path) -> None:
    org = export(tmp_path, "employee_id,work_email\nE1,a@example.com\n")
    nesting = export(tmp_path, "child,parent\nx,y\n", name="groups.csv")
    with pytest.raises(InputError, match="group and parent"):
        reader(org, nesting).read()
    with pytest.raises(InputError, match="not found"):
        reader(org, tmp_path / "nope.csv").read()


# -- managers ---------------------------------------------------------------------------------


def test_manager_outside_the_file_is_kept_and_reported(tmp_path: Path) -> None:
    text = (f"{HEADER}\nE1,a@example.com,A,A,,,E99,active\n"
            "E2,,B,B,,,,active\n"
            "E3,c@example.com,C,C,,,E2,active\n")
    snapshot = reader(export(tmp_path, text)).read()
    assert snapshot.people["E1"].manager_key == "E99"
    assert snapshot.people["E3"].manager_key == "E2"
    messages = {p.where.rpartition(":")[2]: p for p in snapshot.problems}
    assert messages["2"].message == "manager E99 is not in the export"
    assert messages["2"].record_key == "E1" and messages["2"].field == "manager_employee_id"
    assert messages["4"].message == "manager E2 is not in the export"
    assert set(snapshot.people) == {"E1", "E3"}


def test_manager_cycles_are_reported_once_each(tmp_path: Path) -> None:
    text = (f"{HEADER}\nE1,a@example.com,A,A,,,E3,active\n"
            "E2,b@example.com,B,B,,,E1,active\n"
            "E3,c@example.com,C,C,,,E2,active\n"
            "E4,d@example.com,D,D,,,E1,active\n"
            "E5,e@example.com,E,E,,,E5,active\n"
            "E6,f@example.com,F,F,,,,active\n")
    snapshot = reader(export(tmp_path, text)).read()
    assert len(snapshot.people) == 6
    cycles = [p for p in snapshot.problems if "cycle" in p.message]
    assert len(cycles) == 2 and len(snapshot.problems) == 2
    first, second = cycles
    assert first.where.endswith(":2") and first.record_key == "E1"
    assert "E1" in first.message and "E2" in first.message and "E3" in first.message
    assert "E4" not in first.message and "lines 2, 4, 3" in first.message
    assert second.record_key == "E5" and "E5 → E5" in second.message



def test_a_cycle_above_people_who_manage_nobody_is_reported_once(tmp_path: Path) -> None:
    # E9 and E8 manage each other; the rows of their reports come first, and a long chain
    # that ends (E1 to E4) is no cycle
    text = (f"{HEADER}\nE5,e@example.com,E,E,,,E9,active\n"
            "E6,f@example.com,F,F,,,E4,active\n"
            "E4,d@example.com,D,D,,,E3,active\nE3,c@example.com,C,C,,,E2,active\n"
            "E2,b@example.com,B,B,,,E1,active\nE1,a@example.com,A,A,,,,active\n"
            "E8,h@example.com,H,H,,,E9,active\nE9,i@example.com,I,I,,,E8,active\n")
    snapshot = reader(export(tmp_path, text)).read()
    assert [p.message for p in snapshot.problems] == [
        "manager cycle: E9 → E8 → E9; fix manager_employee_id on one of these rows "
        "(lines 9, 8)"
    ]
    assert snapshot.problems[0].where.endswith(":8") and snapshot.problems[0].record_key == "E8"
    acyclic = reader(export(tmp_path, text.replace(",E8,active", ",,active"))).read()
    assert acyclic.problems == ()


@pytest.mark.parametrize("shuffled", [False, True], ids=["in-key-order", "any-order"])
def test_people_come_in_key_order_whatever_the_rows_order(tmp_path: Path, shuffled: bool) -> None:
    rows = [f"E{n:02},p{n}@example.com,P,{n},,,,active" for n in range(1, 13)]
    rows.insert(5, "E03,again@example.com,Again,3,,,,left")  # a leaver's row of a rehire
    rows.append("E20,P7@EXAMPLE.com,Copy,7,,,,active")  # another person's e-mail
    if shuffled:
        rows = rows[::-1]
    snapshot = reader(export(tmp_path, "\n".join([HEADER, *rows]) + "\n")).read()
    assert list(snapshot.people) == [f"E{n:02}" for n in range(1, 13)]
    assert snapshot.people["E03"].email == "p3@example.com"
    assert "E20" not in snapshot.people and "E20" in snapshot.unusable
    assert len(snapshot.problems) == 4  # the two rows of E03, the two of the e-mail


# -- the file as a whole ----------------------------------------------------------------------


def test_snapshot_source_time_and_check(tmp_path: Path) -> None:
    path = export(tmp_path, BAD)
    os.utime(path, (1_700_000_000, 1_700_000_000))
    directory = reader(path)
    assert isinstance(directory, DirectorySource) and directory.name == "csv"
    snapshot = directory.read()
    assert snapshot.source == f"csv:{path}"
    assert snapshot.taken_at == datetime.fromtimestamp(1_700_000_000, UTC)
    assert directory.check() == f"HR export {path} (14 rows, 11 problem(s))"
    assert reader(export(tmp_path, GOOD)).check() == f"HR export {tmp_path / 'org.csv'} (2 rows)"


def test_header_only_reads_empty(tmp_path: Path) -> None:
    snapshot = reader(export(tmp_path, HEADER + "\n")).read()
    assert len(snapshot) == 0 and snapshot.problems == ()


@pytest.mark.parametrize(("content", "expected"), [
    (b"", "is empty"),
    (b"\n  \n\r\n", "is empty"),
    (b"PK\x03\x04\x14\x00\x06\x00", "Excel"),
    (bytes(range(256)) * 4, "binary"),
    (b"employee_id,work_email\n\x00\x01\x02", "binary"),
    (b"employee_id,work_email\nE1,\x01\x02\x03", "binary"),
    (b"employee_id,work_email\n\x81\x8d\x8f\x90\x9d", "neither UTF-8 nor cp1252"),
    (b" , ,,\n", "no header"),
    (b"employee_id,work_email\nE1," + b"x" * 200_000, "cannot parse the CSV"),
])
def test_unusable_files_raise_input_error(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "org.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=expected) as err:
        reader(path).read()
    assert str(path) in err.value.message


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"not found.*directory.path"):
        reader(tmp_path / "missing.csv").read()
    with pytest.raises(InputError, match="folder"):
        reader(tmp_path).check()


def test_repeated_values_are_one_object_and_each_person_keeps_their_own(tmp_path: Path) -> None:
    text = (
        f"{HEADER},groups,cost_center\n"
        "E1,a@example.com,A,One,Sales,Account Executive,,active,All Staff;sales,C1\n"
        "E2,b@example.com,B,Two,Sales,Account Executive,E1,active,All Staff;sales,C1\n"
        "E3,c@example.com,C,Three,Sales,Sales Manager,E1,active,sales;All Staff,C2\n"
        "E4,d@example.com,D,Four,Finance,Accountant,E1,active,All Staff;finance,C2\n"
    )
    people = reader(export(tmp_path, text), columns={"extra": ["cost_center"]}).read().people
    one, two, three, four = (people[k] for k in ("E1", "E2", "E3", "E4"))
    assert one.department is two.department is three.department
    assert one.title is two.title and three.title == "Sales Manager"
    assert one.groups is two.groups and three.groups == one.groups == {"All Staff", "sales"}
    assert four.groups == {"All Staff", "finance"}
    assert one.attributes is two.attributes and dict(one.attributes)["cost_center"] == "C1"
    assert dict(three.attributes)["cost_center"] == dict(four.attributes)["cost_center"] == "C2"
