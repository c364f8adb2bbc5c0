"""Runs, their lock and their problems."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from connector.errors import StateError
from connector.model import RecordProblem
from connector.store import Store
from connector.store.tables import run_lock


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def set_lock(store: Store, **values: object) -> None:
    with store.engine.begin() as conn:
        conn.execute(update(run_lock).values(**values))


def test_run_lifecycle(store: Store) -> None:
    run_id = store.start_run("sync", dry_run=False, mappings_hash="abc123")
    running = store.run(run_id)
    assert running is not None
    assert (running.kind, running.status, running.dry_run) == ("sync", "running", False)
    assert running.mappings_hash == "abc123"
    assert running.finished_at is None
    assert running.started_at.tzinfo == UTC
    assert abs(datetime.now(UTC) - running.started_at) < timedelta(minutes=1)

    store.finish_run(
        run_id,
        "succeeded",
        counts={"enroll": 3, "create_user": 2},
        writes_sent=5,
        people_read=40,
        message="all good",
    )
    done = store.run(run_id)
    assert done is not None
    assert done.status == "succeeded"
    assert done.counts == {"enroll": 3, "create_user": 2}
    assert (done.writes_sent, done.people_read, done.message) == (5, 40, "all good")
    assert done.finished_at is not None and done.finished_at >= done.started_at
    assert done.finished_at.tzinfo == UTC
    assert store.run(run_id + 100) is None


def test_runs_newest_first_and_last_run(store: Store) -> None:
    first = store.start_run("sync", dry_run=False, mappings_hash=None)
    store.finish_run(first, "succeeded")
    second = store.start_run("sync", dry_run=False, mappings_hash=None)
    store.finish_run(second, "failed", message="moodle down")
    third = store.start_run("plan", dry_run=True, mappings_hash=None, lock=False)
    store.finish_run(third, "succeeded")

    assert [r.id for r in store.runs()] == [third, second, first]
    assert [r.id for r in store.runs(limit=2)] == [third, second]
    last_ok = store.last_run("sync")
    assert last_ok is not None and last_ok.id == first
    last_any = store.last_run("sync", status=None)
    assert last_any is not None and last_any.id == second
    last_plan = store.last_run("plan")
    assert last_plan is not None and last_plan.id == third
    assert store.last_run("sync", status=None, dry_run=True) is None
    assert store.last_run("collect") is None


def test_second_run_is_refused_while_the_first_holds_the_lock(store_url: str) -> None:
    with Store.open(store_url) as one, Store.open(store_url) as other:
        first = one.start_run("sync", dry_run=False, mappings_hash=None)
        with pytest.raises(StateError) as caught:
            other.start_run("sync", dry_run=False, mappings_hash=None)
        message = str(caught.value)
        assert message.startswith(f"another run (id {first}, pid ")
        assert "is still in progress" in message
        holder = one.run(first)
        assert holder is not None and holder.status == "running"
        assert [r.id for r in other.runs()] == [first]  # the refused run left no row

        one.finish_run(first, "succeeded")
        second = other.start_run("sync", dry_run=False, mappings_hash=None)
        assert second > first


def test_a_run_without_the_lock_does_not_wait_for_it(store: Store) -> None:
    sync = store.start_run("sync", dry_run=False, mappings_hash=None)
    report = store.start_run("report", dry_run=False, mappings_hash=None, lock=False)
    store.finish_run(report, "succeeded")  # does not release the sync lock
    with pytest.raises(StateError):
        store.start_run("sync", dry_run=False, mappings_hash=None)
    store.finish_run(sync, "succeeded")


def test_report_sends_take_their_own_lock(store: Store) -> None:
    sync = store.start_run("sync", dry_run=False, mappings_hash=None)
    send = store.start_run("report", dry_run=False, mappings_hash=None, lock="report")
    with pytest.raises(StateError, match=f"another run \\(id {send},"):
        store.start_run("report", dry_run=False, mappings_hash=None, lock="report")
    store.finish_run(send, "succeeded")  # releases the report lock, not the sync lock
    again = store.start_run("report", dry_run=False, mappings_hash=None, lock="report")
    with pytest.raises(StateError, match=f"another run \\(id {sync},"):
        store.start_run("sync", dry_run=False, mappings_hash=None)
    set_lock(store, pid=dead_pid())  # both holders die: the next of each kind takes over
    later = store.start_run("report", dry_run=False, mappings_hash=None, lock="report")
    crashed = store.run(again)
    assert crashed is not None and crashed.status == "crashed"
    assert crashed.message is not None and f"taken over by run {later}" in crashed.message
    store.finish_run(later, "succeeded")
    store.finish_run(store.start_run("sync", dry_run=False, mappings_hash=None), "succeeded")


def test_lock_of_a_dead_process_on_this_host_is_taken_over(store: Store) -> None:
    old = store.start_run("sync", dry_run=False, mappings_hash=None)
    set_lock(store, pid=dead_pid())
    new = store.start_run("sync", dry_run=False, mappings_hash=None)
    crashed = store.run(old)
    assert crashed is not None
    assert crashed.status == "crashed"
    assert crashed.finished_at is not None
    assert crashed.message is not None and f"taken over by run {new}" in crashed.message
    running = store.run(new)
    assert running is not None and running.status == "running"
    with pytest.raises(StateError, match=f"another run \\(id {new},"):
        store.start_run("sync", dry_run=False, mappings_hash=None)

    store.finish_run(old, "succeeded", writes_sent=3)  # the old process was not gone after all
    late = store.run(old)
    assert late is not None and late.status == "crashed" and late.message == crashed.message
    assert late.writes_sent == 3
    with pytest.raises(StateError):  # and the new run keeps its lock
        store.start_run("sync", dry_run=False, mappings_hash=None)


def test_lock_on_another_host_is_kept_until_it_is_stale(store: Store) -> None:
    old = store.start_run("sync", dry_run=False, mappings_hash=None)
    set_lock(store, pid=dead_pid(), host="some-other-host")  # its pid means nothing here
    with pytest.raises(StateError, match="on host some-other-host"):
        store.start_run("sync", dry_run=False, mappings_hash=None)

    stale = datetime.now(UTC) - timedelta(hours=7)
    set_lock(store, acquired_at=stale, renewed_at=stale)
    new = store.start_run("sync", dry_run=False, mappings_hash=None)
    crashed = store.run(old)
    assert crashed is not None and crashed.status == "crashed"
    assert new != old


def test_staleness_is_configurable(store_url: str) -> None:
    with Store.open(store_url, lock_staleness=timedelta(minutes=5)) as store:
        old = store.start_run("sync", dry_run=False, mappings_hash=None)
        four = datetime.now(UTC) - timedelta(minutes=4)
        set_lock(store, host="elsewhere", acquired_at=four, renewed_at=four)
        with pytest.raises(StateError, match=r"has not renewed its lease for 5 min"):
            store.start_run("sync", dry_run=False, mappings_hash=None)
        six = datetime.now(UTC) - timedelta(minutes=6)
        set_lock(store, acquired_at=six, renewed_at=six)
        store.start_run("sync", dry_run=False, mappings_hash=None)
        crashed = store.run(old)
        assert crashed is not None and crashed.status == "crashed"


def test_finish_of_an_unknown_run_and_bad_values(store: Store) -> None:
    with pytest.raises(StateError, match="run 999 is not recorded"):
        store.finish_run(999, "succeeded")
    with pytest.raises(ValueError, match="run kind"):
        store.start_run("dance", dry_run=False, mappings_hash=None)
    run_id = store.start_run("sync", dry_run=False, mappings_hash=None)
    with pytest.raises(ValueError, match="cannot finish as 'running'"):
        store.finish_run(run_id, "running")


def test_problems_of_a_run_are_kept_in_order(store: Store) -> None:
    run_id = store.start_run("sync", dry_run=False, mappings_hash=None)
    other = store.start_run("collect", dry_run=False, mappings_hash=None, lock=False)
    problems = [
        RecordProblem("examples/org.csv:17", "no e-mail address", "E017", "work_email"),
        RecordProblem("examples/org.csv:3", "duplicate key"),
    ]
    store.record_problems(run_id, problems)
    store.record_problems(other, [RecordProblem("lrs", "unknown actor", "x@y")])
    assert store.problems(run_id) == problems
    assert store.problems(other) == [RecordProblem("lrs", "unknown actor", "x@y")]
    assert store.problems(other + 1) == []
