"""HTML, CSV and terminal rendering of the report of the organisation in sample_org.py."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from connector.errors import UserError
from connector.model import Person, Persona, RecordProblem, Tier
from connector.report.allocation import ReportInput, compute
from connector.report.render import (
    CSV_HEADER,
    headline,
    render_csv,
    render_html,
    render_text,
    write_report,
)
from tests.report.sample_org import build_input


def _tier_row(html: str, label: str, next_label: str) -> str:
    """The main table's row of one tier (from its label to the next row's label)."""
    start = html.index(f"<strong>{label}</strong>")
    return html[start : html.index(f"<strong>{next_label}</strong>", start)]


def test_headline(report_input: ReportInput) -> None:
    assert headline(compute(report_input)) == (
        "10 people: 60 % consumers (target 70 %), 20 % leaders (target 20 %), "
        "10 % builders (target 10 %); 1 without a persona."
    )
    assert headline(compute(build_input(people={}))) == "No people in scope."


def test_html_is_self_contained(report_input: ReportInput) -> None:
    html = render_html(compute(report_input))
    assert html.startswith("<!DOCTYPE html>")
    lowered = html.lower()
    for banned in ("<script", "<link", "<style", "<img", "src=", "url(", "http:", "https:"):
        assert banned not in lowered, banned
    assert re.search(r"\son\w+=", lowered) is None  # no event handlers
    assert "Generative AI upskilling progress" in html
    assert "Generated 2024-05-01 02:00 UTC" in html
    assert headline(compute(report_input)) in html


def test_html_shows_every_tier_even_empty() -> None:
    inp = build_input()
    people = {k: p for k, p in inp.people.items() if k != "p09"}
    html = render_html(compute(replace(inp, people=people)))
    for label in ("Consumers", "Leaders", "Builders"):
        assert f"<strong>{label}</strong>" in html
    assert "No one in this tier yet." in html


def test_html_band_labels(report_input: ReportInput) -> None:
    html = render_html(compute(report_input))
    consumers = _tier_row(html, "Consumers", "Leaders")
    leaders = _tier_row(html, "Leaders", "Builders")
    # consumers: people 60 % vs 70 % and hours 39 % vs 70 %: both outside
    assert consumers.count("outside band") == 2 and "within band" not in consumers
    # leaders: people 20 % vs 20 % within, hours 26.8 % vs 20 % outside
    assert leaders.count("within band") == 1 and leaders.count("outside band") == 1
    assert "−10.0 pt" in consumers and "±0.0 pt" in leaders
    # the badge carries a symbol and a text as well as a colour
    assert "&#10003; within band" in html and "&#10007; outside band" in html
    relaxed = render_html(compute(build_input(tolerance=40.0)))
    assert "outside band" not in relaxed


def test_html_bars_use_percent_widths(report_input: ReportInput) -> None:
    html = render_html(compute(report_input))
    assert 'width="60.0%"' in html and "width:60.0%" in html  # consumers' people
    assert 'width="39.4%"' in html  # consumers' hours, 14 of 35.5
    assert 'width="70.0%"' in html  # the consumers' target


def test_html_escapes_and_keeps_non_ascii() -> None:
    inp = build_input(title="Q2 <b>report</b> für Zoë")
    personas = dict(inp.personas)
    personas["p06"] = Persona("x", Tier.CONSUMERS, "<b>Zoë</b> & Łukasz's analysts", "b")
    html = render_html(compute(replace(inp, personas=personas)))
    assert "<b>" not in html
    assert "Q2 &lt;b&gt;report&lt;/b&gt; für Zoë" in html
    assert "&lt;b&gt;Zoë&lt;/b&gt; &amp; Łukasz&#39;s analysts" in html
    assert "department &lt;b&gt;Ops&lt;/b&gt; unknown" in html  # a skipped row's reason


def test_html_nobody_enrolled_shows_dashes() -> None:
    html = render_html(compute(build_input(enrollments=[], completions=[])))
    row = _tier_row(html, "Consumers", "Leaders")
    assert "–" in row and "no data" in row


def test_html_skipped_rows_count_and_first_reasons() -> None:
    skipped = tuple(RecordProblem(f"org.csv:{n}", f"reason {n}") for n in range(1, 8))
    html = render_html(compute(build_input(skipped=skipped)))
    assert "7 rows were skipped in the last run; the first 5:" in html
    assert "org.csv:5: reason 5" in html and "org.csv:6" not in html
    assert "… and 2 more." in html
    assert "No rows were skipped" in render_html(compute(build_input(skipped=())))
    assert "moodle:GHOST-9" in html  # the note about the course missing from the catalogue


class _Nesting(HTMLParser):
    VOID = frozenset({"br", "meta", "hr", "img", "input", "link"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def test_html_tags_are_balanced(report_input: ReportInput) -> None:
    for inp in (report_input, build_input(people={}), build_input(enrollments=[])):
        parser = _Nesting()
        parser.feed(render_html(compute(inp)))
        assert parser.errors == [] and parser.stack == []


def test_html_definitions_section(report_input: ReportInput) -> None:
    html = render_html(compute(report_input))
    assert "Definitions" in html
    assert "Completed as a percentage of enrolled" in html


def test_csv_round_trip(report_input: ReportInput) -> None:
    text = render_csv(compute(report_input))
    assert text.endswith("\r\n") and "\r\n" in text.rstrip("\r\n")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert tuple(rows[0]) == CSV_HEADER
    by_key = {r[0]: r for r in rows[1:]}
    assert len(by_key) == 10
    assert by_key["p01"] == [
        "p01", "Ada Lovelace", "p01@example.org", "Finance", "Clerk", "consumers", "Consumer",
        "AI-101; PROMPT-1", "2", "completed", "2024-03-05",
    ]
    assert by_key["p02"][1] == "Zoë Brontë"
    assert by_key["p02"][9] == "in progress"
    assert by_key["p10"][5:] == ["unassigned", "", "AI-101", "0", "enrolled", ""]
    assert by_key["p09"][10] == "2024-04-01"


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_neutralises_formulas(start: str) -> None:
    inp = build_input()
    evil = Person(
        "p01", f"{start}mail@example.org", f"{start}SUM(A1:A9)", "Lovelace",
        department=f'{start}HYPERLINK("x","y")', title="Clerk, \"senior\"\nline two",
    )
    people = {**inp.people, "p01": evil}
    rows = list(csv.reader(io.StringIO(render_csv(compute(replace(inp, people=people))),
                                       newline="")))
    row = next(r for r in rows if r[0] == "p01")
    # display_name strips surrounding whitespace, so a leading tab or CR is gone already
    bare = start in "\t\r"
    assert row[1] == ("SUM(A1:A9) Lovelace" if bare else f"'{start}SUM(A1:A9) Lovelace")
    assert row[2] == f"'{start}mail@example.org"
    assert row[3] == f"'{start}HYPERLINK(\"x\",\"y\")"
    assert row[4] == "Clerk, \"senior\"\nline two"  # quoted, not neutralised, intact
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for cell in r)


def _text_tables(text: str) -> dict[str, list[str]]:
    """Each table of the text output by its title: header, rule, rows, rule, total."""
    lines = text.splitlines()
    tables = {}
    for title in ("People against target", "Learning hours against target", "Progress"):
        start = lines.index(title) + 1
        end = lines.index("", start)
        tables[title] = lines[start:end]
    return tables


def test_text_tables_are_aligned(report_input: ReportInput) -> None:
    text = render_text(compute(report_input))
    assert text.splitlines()[1] == (
        "Period 2024-W18; people: the whole organisation."
    )
    assert text.splitlines()[2] == headline(compute(report_input))
    tables = _text_tables(text)
    numeric = {
        "People against target": ("people", "share", "target", "delta"),
        "Learning hours against target": ("hours", "done", "share", "target", "delta"),
        "Progress": ("enrolled", "in progress", "completed", "rate", "enrollments",
                     "courses done", "overdue", "stuck"),
    }
    for title, table in tables.items():
        assert len(table) == 8, table  # header, rule, 3 tiers, unassigned, rule, total
        assert len({len(line) for line in table}) == 1, table
        header = table[0]
        rows = [line for line in table[2:] if not line.startswith("-")]
        assert [r.split()[0] for r in rows] == [
            "consumers", "leaders", "builders", "unassigned", "total"
        ]
        # right-aligned columns: every cell ends exactly where its header ends
        for name in numeric[title]:
            end = header.index(name) + len(name)
            for r in rows:
                assert r[end - 1] != " " and (end == len(r) or r[end] == " "), (name, r)
    people = tables["People against target"]
    assert people[2].split() == ["consumers", "6", "60.0", "%", "70.0", "%", "−10.0", "pt",
                                 "OUTSIDE"]
    assert people[3].split()[-1] == "within"
    assert tables["Learning hours against target"][4].split()[:3] == ["builders", "10.0", "10.0"]
    # total: 8 enrolled, 1 in progress (p02), 4 completed, 2 overdue (p03, p10), stuck n/c
    assert tables["Progress"][7].split() == ["total", "8", "1", "4", "50.0", "%", "12", "7",
                                             "2", "n/c"]
    assert "2 rows skipped in the last run:" in text
    assert "moodle:GHOST-9" in text


def test_text_nobody_enrolled() -> None:
    text = render_text(compute(build_input(enrollments=[], completions=[])))
    assert "–" in text


def test_write_report(tmp_path: Path, report_input: ReportInput) -> None:
    out = tmp_path / "reports" / "nightly"
    report = compute(report_input)
    paths = write_report(report, out, charts=False)
    assert [p.name for p in paths] == [
        "report-2024-05-01.html", "report-2024-05-01.csv", "latest.html", "latest.csv",
    ]
    assert paths[0].read_text(encoding="utf-8") == render_html(report)
    assert paths[1].read_bytes() == render_csv(report).encode("utf-8")  # CRLF kept as is
    later = replace(report, generated_at=datetime(2024, 5, 2, 2, 0, tzinfo=UTC), title="Next")
    write_report(later, out)
    assert "Next" in (out / "latest.html").read_text(encoding="utf-8")
    assert "Next" not in (out / "report-2024-05-01.html").read_text(encoding="utf-8")
    assert sorted(p.name for p in out.iterdir()) == [
        "latest.csv", "latest.html", "report-2024-05-01.csv", "report-2024-05-01.html",
        "report-2024-05-02.csv", "report-2024-05-02.html",
    ]


def test_write_report_names_the_folder_it_cannot_write(
    tmp_path: Path, report_input: ReportInput
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(UserError, match=r"cannot write the report to .*file"):
        write_report(compute(report_input), blocker / "reports")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_html_renders_in_headless_chromium(tmp_path: Path, report_input: ReportInput) -> None:
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("headless Chromium is missing in CI: .ci/run installs the chromium package")
        pytest.skip("headless Chromium is not installed (Debian package chromium)")
    page = write_report(compute(report_input), tmp_path)[0]
    shot = tmp_path / "report.png"
    subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
         f"--screenshot={shot}", "--window-size=900,1400", page.as_uri()],
        check=True, timeout=60, capture_output=True,
    )
    assert shot.stat().st_size > 10_000
