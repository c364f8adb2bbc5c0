"""The README's Moodle set-up says what the code needs: the functions of the default settings,
the functions per feature, every capability with its use, and the site settings (issue 10,
defect 7 and the capability list of defect 3)."""

from __future__ import annotations

import re
from pathlib import Path

from connector.config import MoodleSettings
from connector.lms.moodle.setup import (
    CAPABILITIES,
    SERVICE_FUNCTIONS,
    SHOW_USER_IDENTITY,
    SITE_SETTINGS,
)
from connector.lms.moodle.target import FEATURE_FUNCTIONS, REQUIRED_FUNCTIONS, needed_functions

README = Path(__file__).resolve().parents[3] / "README.md"
TICKED = re.compile(r"`([^`]+)`")


def section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Pointing the connector at a real Moodle")
    return text[start : text.index("\n## ", start + 1)]


def step(number: int) -> str:
    found = re.search(rf"^{number}\. (.*?)(?=^\d\. |^###)", section(), re.M | re.S)
    assert found, f"step {number}"
    return found.group(1)


def table(heading: str) -> list[list[str]]:
    """The rows (cells) of the first table after ``heading``."""
    text = section()
    rows = []
    for line in text[text.index(heading) :].splitlines()[1:]:
        if line.startswith("|---"):
            continue
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif rows:
            break
    return rows[1:]  # without the header


def test_step_2_lists_the_functions_of_the_default_settings() -> None:
    listed = TICKED.findall(step(2))
    needed = needed_functions(MoodleSettings(url="https://moodle.example.org"))
    assert sorted(listed) == sorted(needed) and len(listed) == 11


def test_the_functions_per_feature_table_is_the_code() -> None:
    by_row = {}
    for feature, functions in table("**Service functions per feature.**"):
        names = TICKED.findall(feature) or [feature]
        names = ["reconcile" if n == "sync --reconcile" else n for n in names]
        by_row[tuple(names)] = TICKED.findall(functions)
    expected: dict[tuple[str, ...], list[str]] = {("every run",): list(REQUIRED_FUNCTIONS)}
    for feature, functions in FEATURE_FUNCTIONS.items():
        key = next((k for k, v in expected.items() if v == list(functions)), None)
        if key is None:
            expected[(feature,)] = list(functions)
        else:
            expected[(*key, feature)] = expected.pop(key)
    assert by_row == expected
    every = [f for functions in by_row.values() for f in functions]
    assert sorted(set(every)) == sorted(SERVICE_FUNCTIONS)


def test_the_capabilities_table_is_setup_capabilities() -> None:
    rows = {TICKED.findall(cap)[0]: what for cap, what in table("**Capabilities**")}
    assert list(rows) == list(CAPABILITIES)
    assert rows == dict(CAPABILITIES)


def test_the_site_settings_are_named() -> None:
    first = step(1)
    assert "showuseridentity" in first
    assert all(f"`{field}`" in first for field in SHOW_USER_IDENTITY)
    for words in ("web services", "completion tracking", "REST protocol",
                  "manual enrolment plugin"):
        assert words in first
    assert set(SITE_SETTINGS) == {"enablewebservices", "webserviceprotocols", "enablecompletion",
                                  "enrol_plugins_enabled", "showuseridentity"}
    assert "Allow role assignments" in step(3) and "*student* role" in step(3)
