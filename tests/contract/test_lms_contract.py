"""The behaviour every LMS target must have, run against each implementation.

A harness per implementation sets up courses on the remote and observes it (independently of
the target under test): the Moodle target with manual enrolments and in cohort mode, each
against the Moodle sandbox and against every real Moodle of tests/servers/moodle_site.py (the
authority: where the two disagree, the sandbox is wrong). A new LMS adds a harness.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from connector.lms import EnrollRow, LmsTarget, row_key
from connector.model import Person
from tests.servers.moodle_site import READ_PATHS, MoodleUnderTest


@dataclass
class Harness:
    target: LmsTarget
    make_course: Callable[[str], str]  # course ref -> remote course id
    status: Callable[[str, str], str | None]  # (user id, course ref) -> active/suspended/None
    complete: Callable[[str, str], None]  # (user id, course ref)
    accounts: Callable[[], int]  # how many accounts the remote holds
    use_path: Callable[[str], None]  # the read path: core or plugin (a fresh target)


@contextmanager
def _moodle(under_test: MoodleUnderTest, cohort: bool) -> Iterator[Harness]:
    refs = ("contract-a", "contract-b")
    target = under_test.target(cohort_courses=refs if cohort else ())
    control = under_test.control

    def make_course(ref: str) -> str:
        course = control.create_course(ref, manual=not cohort)
        if cohort:  # the administrator links the connector's cohort once
            target.cohorts.cohort_ids([ref])
            control.link_cohort(f"upskill-{ref}", ref)
        return str(course["id"])

    def status(user_id: str, ref: str) -> str | None:
        found = [e["status"] for e in control.enrolments(ref) if str(e["userid"]) == user_id]
        return "active" if "active" in found else (found[0] if found else None)

    def use_path(path: str) -> None:
        under_test.use_path(path)
        harness.target.close()  # type: ignore[attr-defined]
        harness.target = under_test.target(cohort_courses=refs if cohort else ())

    harness = Harness(
        target,
        make_course,
        status,
        lambda uid, ref: control.mark_completed(int(uid), ref, time=1_700_000_000) and None,
        lambda: len(control.users()),
        use_path,
    )
    yield harness
    harness.target.close()  # type: ignore[attr-defined]


@pytest.fixture(params=["manual", "cohort"])
def lms(request: pytest.FixtureRequest, moodle: MoodleUnderTest) -> Iterator[Harness]:
    """Every Moodle under test (the sandbox and each real one), in manual and cohort mode."""
    with _moodle(moodle, cohort=request.param == "cohort") as harness:
        yield harness


def people(n: int) -> list[Person]:
    return [Person(f"K{i}", f"k{i}@example.org", f"First{i}", f"Last{i}") for i in range(n)]


def rows(lms: Harness, who: list[Person], ref: str, course_id: str) -> list[EnrollRow]:
    ids = lms.target.ensure_users(who).done
    return [EnrollRow(p.key, ids[p.key], ref, course_id) for p in who]


def test_is_an_lms_target(lms: Harness) -> None:
    assert isinstance(lms.target, LmsTarget)
    info = lms.target.check()
    assert info.name == lms.target.name and info.missing_functions == ()


def test_course_ids_find_existing_courses_only(lms: Harness) -> None:
    course_id = lms.make_course("contract-a")
    assert lms.target.course_ids(["contract-a", "nowhere"]) == {"contract-a": course_id}


def test_ensure_users_is_idempotent_and_never_duplicates(lms: Harness) -> None:
    before = lms.accounts()
    first = lms.target.ensure_users(people(4))
    assert set(first.done) == {"K0", "K1", "K2", "K3"} and not first.failed
    again = lms.target.ensure_users(people(4))
    assert again.done == first.done
    assert lms.accounts() == before + 4


def test_enroll_suspend_revive_unenroll(lms: Harness) -> None:
    course_id = lms.make_course("contract-a")
    [a, b] = rows(lms, people(2), "contract-a", course_id)
    out = lms.target.enroll([a, b])
    assert out.done == {row_key("K0", "contract-a"): "active", row_key("K1", "contract-a"): "active"}
    assert lms.status(a.user_id, "contract-a") == "active"
    assert lms.target.suspend([a]).done == {row_key("K0", "contract-a"): "suspended"}
    assert lms.status(a.user_id, "contract-a") == "suspended"
    assert lms.status(b.user_id, "contract-a") == "active"
    # enrolling with the intended status suspended keeps a suspended learner suspended
    lms.target.enroll([EnrollRow(a.person_key, a.user_id, a.course_ref, a.course_id, False)])
    assert lms.status(a.user_id, "contract-a") == "suspended"
    assert lms.target.enroll([a]).done == {row_key("K0", "contract-a"): "active"}  # revival
    assert lms.status(a.user_id, "contract-a") == "active"
    gone = lms.target.unenroll([b])
    # the outcome says what the target holds now: removed, or suspended where it cannot
    # unenrol (Moodle's cohort sync with an unenrol action that keeps grades)
    now = lms.status(b.user_id, "contract-a")
    assert gone.done == {row_key("K1", "contract-a"): now or "removed"} and not gone.failed


def test_enroll_twice_is_idempotent(lms: Harness) -> None:
    course_id = lms.make_course("contract-a")
    batch = rows(lms, people(3), "contract-a", course_id)
    first = lms.target.enroll(batch)
    second = lms.target.enroll(batch)
    assert first.done == second.done and len(second.done) == 3 and not second.failed


def test_a_bad_row_fails_alone(lms: Harness) -> None:
    course_id = lms.make_course("contract-a")
    batch = rows(lms, people(5), "contract-a", course_id)
    batch[2] = EnrollRow("GHOST", "987654", "contract-a", course_id)
    out = lms.target.enroll(batch)
    assert set(out.failed) == {row_key("GHOST", "contract-a")}
    assert out.failed[row_key("GHOST", "contract-a")].errorcode
    assert len(out.done) == 4


@pytest.mark.parametrize("read_path", READ_PATHS)
def test_completions_report_each_enrollment(lms: Harness, read_path: str) -> None:
    lms.use_path(read_path)
    course_a = lms.make_course("contract-a")
    course_b = lms.make_course("contract-b")
    who = people(2)
    batch = rows(lms, who, "contract-a", course_a) + rows(lms, who, "contract-b", course_b)
    lms.target.enroll(batch)
    lms.complete(batch[0].user_id, "contract-a")
    found = {(c.person_key, c.course_ref): c for c in lms.target.completions(batch)}
    assert set(found) == {(r.person_key, r.course_ref) for r in batch}
    assert found[("K0", "contract-a")].completed
    assert found[("K0", "contract-a")].completed_at is not None
    assert not found[("K1", "contract-a")].completed
    assert not found[("K0", "contract-b")].completed
    assert all(c.target == lms.target.name for c in found.values())


@pytest.mark.parametrize("read_path", READ_PATHS)
def test_a_completion_is_never_read_as_lost_after_suspension(lms: Harness, read_path: str) -> None:
    """A completion earned before the enrolment was suspended is reported completed, or not
    reported at all where the LMS cannot read it (Moodle's core functions); never as not
    completed. Through local_upskill it is read."""
    lms.use_path(read_path)
    course_id = lms.make_course("contract-a")
    [done, other] = rows(lms, people(2), "contract-a", course_id)
    lms.target.enroll([done, other])
    lms.complete(done.user_id, "contract-a")
    lms.target.suspend([done, other])
    found = {c.person_key: c for c in lms.target.completions([done, other])}
    if read_path == "plugin":
        assert found["K0"].completed and found["K0"].completed_at is not None
        assert int(found["K0"].completed_at.timestamp()) == 1_700_000_000
        assert not found["K1"].completed
    else:
        assert found == {}


@pytest.mark.parametrize("read_path", READ_PATHS)
def test_enrolled_reads_each_enrolment_with_its_status(lms: Harness, read_path: str) -> None:
    """What reconcile reads: every enrolment of the courses, active or suspended."""
    lms.use_path(read_path)
    course_a = lms.make_course("contract-a")
    course_b = lms.make_course("contract-b")
    who = people(3)
    batch_a = rows(lms, who, "contract-a", course_a)
    batch_b = rows(lms, who[:1], "contract-b", course_b)
    lms.target.enroll(batch_a + batch_b)
    lms.target.suspend([batch_a[1]])
    found = lms.target.enrolled({"contract-a": course_a, "contract-b": course_b})
    ours = {r.user_id for r in batch_a}
    # in cohort mode a learner out of the cohort and not active is "outside" (the target
    # cannot tell the connector's suspension from a hand edit; the state can)
    out = "outside" if lms.target.cohorts.covers("contract-a") else "suspended"  # type: ignore[attr-defined]
    assert {uid: s for uid, s in found["contract-a"].items() if uid in ours} == {
        batch_a[0].user_id: "active", batch_a[1].user_id: out, batch_a[2].user_id: "active",
    }  # fmt: skip
    assert {uid: s for uid, s in found["contract-b"].items() if uid in ours} == {
        batch_b[0].user_id: "active"
    }
