"""The export file read as it is decoded: what only shows past the first part of a long file."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.directory.csvfile import ExportFile, csv_rows
from connector.errors import InputError
from tests.directory.test_hrcsv import HEADER, reader

FILLER = "".join(f"F{i},f{i}@example.com,Fay,Doe,Ops,Clerk,,active\n" for i in range(8000))


def test_a_file_that_stops_being_utf8_after_its_start_is_read_as_cp1252(tmp_path: Path) -> None:
    path = tmp_path / "org.csv"
    text = f"{HEADER}\n{FILLER}E1,jose@example.com,José,Müller,Finance,Accountant,,active\n"
    path.write_bytes(text.encode("cp1252"))
    assert len(FILLER) > 300_000  # past the part decoded up front
    snapshot = reader(path).read()
    assert snapshot.people["E1"].first_name == "José" and len(snapshot) == 8001
    assert snapshot.problems == ()


def test_a_configured_encoding_that_fails_late_names_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "org.csv"
    data = f"{HEADER}\n{FILLER}E1,jose@example.com,José,M,,,,\n".encode("cp1252")
    path.write_bytes(data)
    with pytest.raises(InputError) as err:
        reader(path, encoding="utf-8").read()
    assert f"(byte {data.index('é'.encode('cp1252'))})" in err.value.message
    assert str(path) in err.value.message


def test_a_long_file_of_blanks_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "org.csv"
    path.write_bytes(b" \n" * 200_000)
    with pytest.raises(InputError, match="is empty"):
        ExportFile.load(path, "auto", "directory.path")


def test_a_bom_is_dropped_under_a_configured_encoding_too(tmp_path: Path) -> None:
    path = tmp_path / "org.csv"
    path.write_bytes(b"\xef\xbb\xbf" + f"{HEADER}\nE1,a@example.com,A,B,,,,active\n".encode())
    export = ExportFile.load(path, "utf-8", "directory.path")
    assert next(export.lines("utf-8")).startswith("employee_id")
    assert len(reader(path, encoding="utf-8").read()) == 1


def _csv_reader_rows(text: str, delimiter: str) -> list[tuple[int, list[str]]] | str:
    """The records as :func:`csv.reader` gives them, with their first line and blank lines
    left out (what :func:`csv_rows` promises), or the error."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    out, line = [], 1
    try:
        for row in reader:
            if row and "".join(row).strip():
                out.append((line, row))
            line = reader.line_num + 1
    except csv.Error as exc:
        return f"x:{reader.line_num}: cannot parse the CSV ({exc})"
    return out


@settings(max_examples=400, deadline=None)
@given(
    text=st.text(st.sampled_from(["a", "b", " ", ",", ";", "\t", '"', "\n", "\r", "\0", "é"])),
    delimiter=st.sampled_from([",", ";", "\t", "|", " "]),
)
def test_records_are_the_csv_readers_lines_with_and_without_quotes(
    text: str, delimiter: str
) -> None:
    try:
        got: list[tuple[int, list[str]]] | str = list(
            csv_rows(io.StringIO(text, newline=""), delimiter, "x"))
    except InputError as exc:
        got = exc.message
    assert got == _csv_reader_rows(text, delimiter)


def test_a_field_over_the_csv_limit_is_the_readers_error_with_or_without_quotes() -> None:
    limit = csv.field_size_limit()
    for cell in ("a" * (limit + 1), '"' + "a" * (limit + 1) + '"'):
        text = f"h1,h2\nok,fine\n{cell},x\n"
        with pytest.raises(InputError, match=r"^x:3: cannot parse the CSV \(field larger"):
            list(csv_rows(io.StringIO(text, newline=""), ",", "x"))
    fits = "a" * (limit - 1)
    assert list(csv_rows(io.StringIO(f"{fits},x\n", newline=""), ",", "x")) == [(1, [fits, "x"])]
