"""HTML, CSV, JSON and terminal rendering of the report of the organisation in sample_org.py:
the same figures, rounded the same way, in every format."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from connector.errors import UserError
from connector.model import Person, Persona, Tier
from connector.report.allocation import ReportInput, population, report_of
from connector.report.definitions import FIGURES
from connector.report.export import dumps, report_json
from connector.report.render import (
    CSV_HEADER,
    FIGURE_COLUMNS,
    headline,
    hours,
    percent,
    points,
    render_csv,
    render_figures_csv,
    render_html,
    write_report,
)
from connector.report.text import render_text
from tests.report.browser import content_width, screenshot
from tests.report.sample_org import build_input

HEADLINE = (
    "16 people (15 active, 1 on leave): consumers 75.0 % (target 70.0 %), leaders 12.5 % "
    "(target 20.0 %), builders 6.3 % (target 10.0 %), 1 without a persona; 25.0 % of their "
    "28 courses completed."
)


def test_formats_round_half_up_with_one_decimal() -> None:
    assert percent(6.25) == "6.3 %"  # a value that was not rounded yet is rounded half-up
    assert percent(12.5) == "12.5 %"
    assert percent(7.0) == "7.0 %"
    assert percent(None) == "–"
    assert points(-3.75) == "−3.8 pt"
    assert points(0.04) == "±0.0 pt"
    assert points(5.0) == "+5.0 pt"
    assert hours(12.25) == "12.3"
    assert hours(1234.5) == "1,234.5"


def test_headline(report_input: ReportInput) -> None:
    assert headline(report_of(report_input)) == HEADLINE
    assert headline(report_of(build_input(people={}, unusable={}))) == "No people in scope."


def test_html_is_self_contained(report_input: ReportInput) -> None:
    html = render_html(report_of(report_input))
    assert html.startswith("<!DOCTYPE html>")
    lowered = html.lower()
    for banned in ("<script", "<link", "<style", "<img", "src=", "url(", "http:", "https:"):
        assert banned not in lowered, banned
    assert re.search(r"\son\w+=", lowered) is None  # no event handlers
    assert "Generated 2024-05-20 02:00 UTC" in html
    assert HEADLINE in html


def test_html_shows_the_figures_the_json_holds(report_input: ReportInput) -> None:
    report = report_of(report_input)
    html = render_html(report)
    doc = report_json(report)
    consumers = doc["tiers"]["consumers"]
    for value in (consumers["share_pct"], consumers["hours_share_pct"],
                  consumers["completion_rate_pct"], consumers["target_pct"]):
        assert percent(value) in html
    assert (consumers["completion_rate_pct"], consumers["hours_share_pct"]) == (17.4, 73.1)
    # the organisation report bands both targets
    assert "&#10003; within band" in html and "&#10007; outside band" in html
    assert "−7.5 pt" in html and "+5.0 pt" in html and "−5.9 pt" in html


def test_html_has_no_whole_number_percentages(report_input: ReportInput) -> None:
    html = render_html(report_of(report_input))
    assert re.findall(r">\s*\d+ %", html) == []


def test_html_progress_per_course_state(report_input: ReportInput) -> None:
    html = render_html(report_of(report_input))
    assert "In<br>progress" in html and "Not<br>started" in html
    assert "+2 not enrollable" in html
    assert "Courses not enrollable, by reason: no e-mail address 2." in html
    # the stacked bar of the consumers: 4 completed, 2 in progress, 15 not started, 2 not
    # enrollable of 23
    assert 'width="17.39%" bgcolor="#15803d" title="completed"' in html
    assert 'width="8.7%" bgcolor="#f59e0b" title="in progress"' in html


def test_html_unusable_rows_by_class_only(report_input: ReportInput) -> None:
    html = render_html(report_of(report_input))
    text = render_text(report_of(report_input))
    for shown in (html, text):
        assert "ada@example.org" not in shown and "E023" not in shown and "Mailless" not in shown
    assert "1 e-mail address of another person; 1 no e-mail address." in html
    assert ("2 directory row(s) could not be used in the last run: e-mail address of another "
            "person 1, no e-mail address 1") in " ".join(text.split())


def test_html_escapes_and_keeps_non_ascii() -> None:
    inp = build_input(title="Q2 <b>report</b> für Zoë")
    personas = dict(inp.personas)
    personas["p06"] = Persona("x", Tier.CONSUMERS, "<b>Zoë</b> & Łukasz's analysts", "analyst")
    html = render_html(report_of(replace(inp, personas=personas)))
    assert "<b>" not in html
    assert "Q2 &lt;b&gt;report&lt;/b&gt; für Zoë" in html
    assert "&lt;b&gt;Zoë&lt;/b&gt; &amp; Łukasz&#39;s analysts" in html


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
    for inp in (report_input, build_input(people={}, unusable={}), build_input(completions=[])):
        parser = _Nesting()
        parser.feed(render_html(report_of(inp)))
        assert parser.errors == [] and parser.stack == []


def test_html_and_text_print_every_definition(report_input: ReportInput) -> None:
    from connector.report.render import render_plain

    report = report_of(report_input)
    html, plain = render_html(report), render_plain(report)
    assert max(len(line) for line in plain.splitlines()) <= 78  # a plain-text mail reader
    words = " ".join(plain.split())
    for d in FIGURES:
        assert d.sentence.replace("'", "&#39;") in html, d.name
        assert f"{d.label} ({d.name}): {d.sentence}" in words, d.name


def test_people_csv(report_input: ReportInput) -> None:
    text = render_csv(report_of(report_input))
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert tuple(rows[0]) == CSV_HEADER
    by_key = {r[0]: r for r in rows[1:]}
    assert "p13" not in by_key  # counted, but names of unusable rows are for admins only
    assert len(by_key) == 15
    assert by_key["p01"] == [
        "p01", "Ada Lovelace", "p01@example.org", "Finance", "Clerk", "active", "consumers",
        "Consumer", "AI-101; PROMPT-1", "2", "0", "0", "0", "completed", "2024-03-05",
    ]
    assert by_key["p02"][9:14] == ["1", "1", "0", "0", "in progress"]
    assert by_key["p04"][5] == "on leave"
    assert by_key["p10"][6:] == ["unassigned", "", "", "0", "0", "0", "0", "no courses", ""]
    assert by_key["p15"][1] == "Kate Johnson"  # the preferred first name


def test_figures_csv_uses_the_definition_names(report_input: ReportInput) -> None:
    report = report_of(report_input)
    rows = list(csv.DictReader(io.StringIO(render_figures_csv(report), newline="")))
    assert set(FIGURE_COLUMNS) <= {d.name for d in FIGURES}
    total = next(r for r in rows if r["group"] == "total")
    assert (total["headcount"], total["on_leave"], total["completion_rate_pct"]) == (
        "16", "1", "25.0")
    builders = next(r for r in rows if r["group"] == "builders")
    assert (builders["share_pct"], builders["target_pct"], builders["share_delta_pt"]) == (
        "6.3", "10.0", "-3.7")
    assert [r["group"] for r in rows] == [
        "consumers", "consumer", "statistical-analyst", "leaders", "leader", "builders",
        "developer", "unassigned", "total"]


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_csv_neutralises_formulas(start: str) -> None:
    inp = build_input()
    evil = Person(
        "p01", f"{start}mail@example.org", f"{start}SUM(A1:A9)", "Lovelace",
        department=f'{start}HYPERLINK("x","y")', title="Clerk, \"senior\"\nline two",
    )
    people = {**inp.people, "p01": evil}
    rows = list(csv.reader(io.StringIO(render_csv(report_of(replace(inp, people=people))),
                                       newline="")))
    row = next(r for r in rows if r[0] == "p01")
    assert row[1] == f"'{start}SUM(A1:A9) Lovelace"
    assert row[2] == f"'{start}mail@example.org"
    assert row[3] == f"'{start}HYPERLINK(\"x\",\"y\")"
    assert row[4] == "Clerk, \"senior\"\nline two"
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for cell in r)


def test_json_holds_every_figure_under_its_name(report_input: ReportInput) -> None:
    doc = json.loads(dumps(report_of(report_input)))
    org = doc["organisation"]
    assert doc["schema"] == "upskill.report/1"
    assert org["bands"] is True and org["tolerance_pt"] == 5.0
    total = org["total"]
    assert {n: total[n] for n in ("headcount", "active", "on_leave", "enrollments",
                                  "completed", "in_progress", "not_started",
                                  "not_enrollable")} == {
        "headcount": 16, "active": 15, "on_leave": 1, "enrollments": 28, "completed": 7,
        "in_progress": 3, "not_started": 16, "not_enrollable": 2}
    assert total["not_enrollable_reasons"] == {"no e-mail address": 2}
    leaders = org["tiers"]["leaders"]
    assert (leaders["share_pct"], leaders["people_within_band"], leaders["assigned_hours"]) == (
        12.5, False, 11.0)
    assert org["tiers"]["consumers"]["personas"]["statistical-analyst"]["headcount"] == 1
    assert org["trend"][-1] == {"week": "2024-W18", "completions": 0, "cumulative": 6,
                                "cumulative_rate_pct": 21.4}
    assert org["skipped_rows"] == {"e-mail address of another person": 1,
                                   "no e-mail address": 1}


def _tables(text: str) -> dict[str, list[str]]:
    lines = text.splitlines()
    out = {}
    for title in ("People against target", "Learning hours against target", "Courses",
                  "People's progress"):
        start = lines.index(title) + 1
        out[title] = lines[start:lines.index("", start)]
    return out


def test_text_tables_show_the_same_figures(report_input: ReportInput) -> None:
    text = render_text(report_of(report_input))
    assert text.splitlines()[1] == "Period 2024-W18; people: the whole organisation."
    assert " ".join(text.split("\n\n")[0].splitlines()[2:-1]) == HEADLINE
    tables = _tables(text)
    for title, table in tables.items():
        assert len(table) == 8, (title, table)  # header, rule, 3 tiers, unassigned, rule, total
    assert tables["People against target"][2].split() == [
        "consumers", "12", "11", "1", "75.0", "%", "70.0", "%", "+5.0", "pt", "within"]
    assert tables["People against target"][4].split()[4:6] == ["6.3", "%"]
    assert tables["Learning hours against target"][3].split() == [
        "leaders", "11.0", "5.5", "14.1", "%", "20.0", "%", "−5.9", "pt", "OUTSIDE", "22.4", "%"]
    assert tables["Courses"][0].split() == [
        "tier", "courses", "done", "in", "progress", "not", "started", "not", "enrollable", "rate"]
    assert tables["Courses"][7].split() == [
        "total", "28", "7", "3", "16", "2", "25.0", "%"]
    assert tables["People's progress"][7].split() == ["total", "4", "2", "13.3", "%", "n/c"]
    assert "Courses not enrollable, by reason: no e-mail address 2." in text
    assert max(len(line) for line in text.splitlines()) <= 78


def test_write_report(tmp_path: Path, report_input: ReportInput) -> None:
    out = tmp_path / "reports" / "nightly"
    report = report_of(report_input)
    paths = write_report(report, out)
    assert [p.name for p in paths] == [
        "report-2024-05-20.html", "report-2024-05-20.csv", "report-2024-05-20-figures.csv",
        "latest.html", "latest.csv", "latest-figures.csv",
    ]
    assert paths[0].read_text(encoding="utf-8") == render_html(report)
    assert paths[1].read_bytes() == render_csv(report).encode("utf-8")
    later = replace(report, generated_at=datetime(2024, 5, 21, 2, 0, tzinfo=UTC), title="Next")
    write_report(later, out)
    assert "Next" in (out / "latest.html").read_text(encoding="utf-8")
    assert "Next" not in (out / "report-2024-05-20.html").read_text(encoding="utf-8")


def test_write_report_names_the_folder_it_cannot_write(
    tmp_path: Path, report_input: ReportInput
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(UserError, match=r"cannot write the report to .*file"):
        write_report(report_of(report_input), blocker / "reports")


@pytest.mark.parametrize("width", [1200, 400])
def test_html_fits_the_width_in_headless_chromium(
    tmp_path: Path, report_input: ReportInput, width: int
) -> None:
    from connector.model import Leader, ScopeKind
    from connector.report.leaders import leader_reports

    pop = population(report_input)
    scoped = leader_reports(pop, [Leader("cfo", "p07", None, ScopeKind.MANAGER)],
                            dict(report_input.people))[0].report
    for name, report in (("org", report_of(report_input)), ("cfo", scoped)):
        page = write_report(report, tmp_path / name)[0]
        used, view = content_width(page, width)
        assert width - 20 <= view <= width  # less the vertical scroll bar
        assert used <= view, f"{name} report is {used} px wide in a {view} px frame"
        shot = screenshot(page, width, 1600, tmp_path / f"{name}-{width}.png")
        assert shot.stat().st_size > 10_000
