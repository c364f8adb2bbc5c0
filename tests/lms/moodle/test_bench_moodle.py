"""The Moodle benchmark's own figures hold at a small size: the first sync packs its requests
within 5 % of the minimum the budget allows, and the nightly no-op sends nothing."""

from __future__ import annotations

from pathlib import Path

from bench.moodle import completions, first_sync, minimum


def test_minimum_counts_every_needed_request() -> None:
    least = minimum(7980, 3, 3990)
    assert least["core_user_create_users"] == 14  # 7980 × 7 pairs / 3990
    assert least["enrol_manual_enrol_users"] == 36  # 23940 × 6 / 3990
    assert least["core_user_get_users_by_field"] == 6


def test_first_sync_is_within_five_percent_and_the_nightly_run_is_free(tmp_path: Path) -> None:
    figures = first_sync(2000, tmp_path)
    assert figures["requests"] <= 1.05 * figures["minimum"]  # type: ignore[operator]
    assert figures["nightly_changes"] == 0 and figures["nightly_requests"] == 0
    assert figures["reconcile_reads"] == 6  # 3 courses: one page each, active and suspended
    paths = figures["paths"]
    assert isinstance(paths, dict)
    assert paths["core"]["path"] == "core" and paths["plugin"]["path"] == "plugin"
    assert paths["plugin"]["completion_requests"] == 2  # 6,000 enrollments, 5,000 a page
    assert paths["plugin"]["reconcile_reads"] == 2
    assert paths["core"]["completion_requests"] >= 2000  # one per learner of 3 courses
    assert paths["plugin"]["completed"] == paths["core"]["completed"] > 0


def test_completion_figures(tmp_path: Path) -> None:
    done = completions(300, tmp_path)
    assert done["enrollments"] == 300 and done["completed"] == 3
    assert done["by_function"] == {"core_enrol_get_users_courses": 100,
                                   "core_completion_get_course_completion_status": 3}
    assert done["plugin_by_function"] == {"local_upskill_get_completions": 1}
    assert done["plugin_reconcile_reads"] == 1
