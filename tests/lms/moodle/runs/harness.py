"""Helpers of the whole-run tests against the sandbox: the organisation, the configuration,
and the exactly-once check.

Originally: whole runs against the sandbox under faults.

Run-stopping faults (token, service, web services off, maintenance, a proxy page) stop before
any write; faults in the middle of the writes leave a journal from which a rerun finishes the
work; row faults fail their rows only. After the fault is fixed, a rerun applies everything
exactly once and the run after that plans nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from connector.config import Settings, load_settings
from connector.lms.moodle.control import SandboxControl
from connector.model import EnrollmentStatus
from connector.store import Store
from connector.sync.run import sync

ROOT = Path(__file__).resolve().parents[4]
TOKEN = "faults-token-0123456789abcdef"


def org(n: int = 12, status: Callable[[int], str] = lambda _i: "active") -> list[str]:
    rows = ["E0,ceo@example.com,Cora,Chief,Executive,Chief Executive Officer,,active,All Staff;executive-team"]
    for i in range(1, n):
        rows.append(f"E{i},dev{i}@example.com,Dev,N{i},Engineering,Software Engineer,E0,"
                    f"{status(i)},All Staff;developers")
    return rows


def configure(workdir: Path, url: str, **moodle: object) -> None:
    values: dict[str, object] = {"retries": 0, "timeout": 5, **moodle}
    extra = "\n".join(f"{k} = {str(v).lower() if isinstance(v, bool) else v}"
                      for k, v in values.items())
    (workdir / "upskill.toml").write_text(
        f"""
[directory]
type = "csv"
path = "org.csv"
[mappings]
path = "{ROOT / 'mappings'}"
[removal]
grace_days = 0
[guards]
max_removal_share = 100
min_people = 0
[targets.moodle]
url = "{url}"
token_file = "token"
{extra}
""",
        encoding="utf-8",
    )


def settings_for(workdir: Path) -> Settings:
    return load_settings(workdir / "upskill.toml")


def assert_exactly_once(store: Store, control: SandboxControl) -> None:
    """Moodle holds each wanted enrolment once, each account once, and the state agrees."""
    enrolments = control.enrolments()
    pairs = [(e["userid"], e["courseid"]) for e in enrolments]
    assert len(pairs) == len(set(pairs))
    usernames = [u["username"] for u in control.users()]
    assert len(usernames) == len(set(usernames))
    by_id = {str(u["id"]): u for u in control.users()}
    accounts = store.accounts("moodle")
    for key, uid in accounts.items():
        assert by_id[uid]["idnumber"] == key
    courses = {c["shortname"]: c["id"] for c in control.courses()}
    active = {(int(accounts[e.person_key]), courses[e.course_ref])
              for e in store.enrollments("moodle") if e.status is EnrollmentStatus.ACTIVE}
    on_moodle = {(e["userid"], e["courseid"]) for e in enrolments if e["status"] == "active"}
    assert active == on_moodle


def finish(settings: Settings, store: Store, control: SandboxControl) -> None:
    again = sync(settings, store)
    assert again.applied is not None and again.applied.failed_total == 0
    assert_exactly_once(store, control)
    assert sync(settings, store).prepared.plan.is_empty


