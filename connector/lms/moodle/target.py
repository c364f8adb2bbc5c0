"""The Moodle LMS target: accounts, enrolments and completion through web services.

Writes that Moodle applies all-or-nothing (create users, enrol, unenrol, delete cohort members)
are sent in batches sized under ``max_input_vars``; a batch that Moodle refuses is bisected
until the refused rows are isolated, so every good row is applied and every bad one is reported
with Moodle's errorcode. Authentication, access and availability errors are not row problems:
they stop the run. The parts live beside this module: accounts (:mod:`.users`), manual
enrolments and read-back (:mod:`.enrolments`), cohort mode (:mod:`.cohorts`), completion
(:mod:`.completion`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connector.config import MoodleSettings, Settings
from connector.errors import ConfigError, ProtocolError
from connector.lms import BatchOutcome, EnrollRow, RowFailure, Shortfall, TargetInfo, row_key
from connector.lms.moodle.access import AccessProbe, first_course, rest_use_refused
from connector.lms.moodle.client import MoodleClient
from connector.lms.moodle.cohort_setup import CohortSetup, SetupProbe
from connector.lms.moodle.cohorts import CohortEnrolments, deleted_fix
from connector.lms.moodle.completion import CompletionReader
from connector.lms.moodle.enrolments import COURSE_LEVEL_CODES, ManualEnrolments
from connector.lms.moodle.plugin import FUNCTIONS as PLUGIN_FUNCTIONS
from connector.lms.moodle.plugin import MIN_VERSION as PLUGIN_MIN_VERSION
from connector.lms.moodle.plugin import SERVICE_NAME as PLUGIN_SERVICE_NAME
from connector.lms.moodle.plugin_reads import PluginReads
from connector.lms.moodle.users import MoodleAccounts
from connector.lms.permissions import Permission
from connector.model import Completion, Person

REQUIRED_FUNCTIONS: tuple[str, ...] = (
    "core_webservice_get_site_info",
    "core_user_get_users_by_field",
    "core_user_create_users",
    "core_course_get_courses_by_field",
    "enrol_manual_enrol_users",
    "enrol_manual_unenrol_users",
    "core_completion_get_course_completion_status",
)
"""What every run needs."""

FEATURE_FUNCTIONS: Mapping[str, tuple[str, ...]] = {
    "update_profiles": ("core_user_update_users",),
    "suspend_leavers": ("core_user_update_users",),
    "verify_writes": ("core_enrol_get_enrolled_users",),
    "reconcile": ("core_enrol_get_enrolled_users",),
    "completion_per_user": ("core_enrol_get_users_courses",),
    "match_by": ("core_user_get_users",),
    "cohort_courses": (
        "core_cohort_create_cohorts",
        "core_cohort_add_cohort_members",
        "core_cohort_delete_cohort_members",
        "core_cohort_search_cohorts",
        "core_cohort_get_cohort_members",
        "core_enrol_get_users_courses",
        "core_enrol_get_enrolled_users",
    ),
}
"""Functions each optional feature (a ``targets.moodle`` option, or ``--reconcile``) needs.
``match_by`` is enabled when it lists ``email``."""

OPTIONAL_FUNCTIONS: Mapping[str, str] = {
    "core_user_get_users": "without it an account whose e-mail differs from the directory's "
    "only in letter case is not adopted (its refused create only names the likely cause)",
}
"""Functions a run goes on without, doing less: what is lost. ``target check`` names them as
missing; a sync does not stop for them."""

PAIR_MARGIN = 10
"""Form pairs kept free in every request for top-level parameters (``field``, ...)."""


PLUGIN_REPLACES: Mapping[str, str] = {
    "core_completion_get_course_completion_status": "every run",
    "core_enrol_get_enrolled_users": "verify_writes",
    "core_enrol_get_users_courses": "completion_per_user",
}
"""Core functions whose reads local_upskill takes over when the token may call it."""


def needed_functions(
    settings: MoodleSettings, *, reconcile: bool = False, plugin: bool = False
) -> dict[str, str]:
    """Function → the feature that needs it, for these settings; with ``plugin`` (the token
    may call local_upskill) its functions instead of the core reads they replace."""
    needed = dict.fromkeys(REQUIRED_FUNCTIONS, "every run")
    enabled = {
        "update_profiles": settings.update_profiles,
        "suspend_leavers": settings.suspend_leavers,
        "verify_writes": settings.verify_writes,
        "reconcile": reconcile,
        "completion_per_user": settings.completion_per_user,
        "match_by": "email" in settings.match_by,
        "cohort_courses": bool(settings.cohort_courses),
    }
    for feature, functions in FEATURE_FUNCTIONS.items():
        if enabled[feature]:
            for function in functions:
                needed.setdefault(function, feature)
    if plugin:
        for function in PLUGIN_REPLACES:
            needed.pop(function, None)
        for function in PLUGIN_FUNCTIONS:
            needed[function] = "completion and enrolment reads (local_upskill)"
    return needed


def plugin_version(info: Mapping[str, Any]) -> int:
    """The version of local_upskill the token may call (0: its functions are not all in the
    token's service, or the plugin is not installed)."""
    versions = {
        str(f.get("name")): f.get("version")
        for f in info.get("functions") or []
        if isinstance(f, dict)
    }
    if not all(name in versions for name in PLUGIN_FUNCTIONS):
        return 0
    found = [str(versions[name] or "") for name in PLUGIN_FUNCTIONS]
    return min(int(v) if v.isdigit() else 0 for v in found)


class MoodleTarget:
    """:class:`connector.lms.LmsTarget` on a Moodle site (also :class:`VerifiedWrites`,
    :class:`AccountLifecycle`, :class:`EnrollmentReader` and
    :class:`~connector.lms.permissions.PermissionProbe`)."""

    name = "moodle"

    def __init__(self, client: MoodleClient, settings: MoodleSettings) -> None:
        self.client = client
        self.settings = settings
        self.stats = client.stats
        self.budget = max(settings.max_input_vars - PAIR_MARGIN, 1)
        self.preferred_batch = self.budget  # changes per executor batch: one lookup each
        self.full_check_days = settings.full_check_days  # completion collection reads all
        self.accounts = MoodleAccounts(client, settings, self.budget)
        self.manual = ManualEnrolments(client, settings, self.budget)
        self.cohorts = CohortEnrolments(client, settings, self.budget, self.manual)
        self.setup = SetupProbe(client, self.cohorts, self.manual, self._own_id)
        self.cohorts.setup = self._probe
        self.reader = CompletionReader(client, settings, self.name)
        self._own: str | None = None
        self.plugin: PluginReads | None = None  # set by the first site info: the read path
        self.plugin_seen = 0  # the plugin version the token may call (0: none)
        self._path_known = False

    @classmethod
    def connect(cls, settings: MoodleSettings, token: str | None) -> MoodleTarget:
        """A target for these settings and token (ConfigError when the token is missing)."""
        return cls(MoodleClient.from_settings(settings, token), settings)

    @classmethod
    def from_settings(cls, settings: Settings) -> MoodleTarget:
        """The entry point of ``upskill.targets``: the target configured in ``targets.moodle``."""
        moodle = settings.targets.moodle
        token = settings.moodle_token()
        if not token:
            raise ConfigError(
                "targets.moodle: no token; set UPSKILL_TARGETS__MOODLE__TOKEN or "
                "targets.moodle.token_file (a file holding the web service token)"
            )
        if moodle.verify_tls and moodle.ca_file is not None:
            moodle = moodle.model_copy(update={"ca_file": settings.path(moodle.ca_file)})
        return cls.connect(moodle, token)

    def __repr__(self) -> str:
        return f"MoodleTarget(url={self.client.url!r})"

    def close(self) -> None:
        self.client.close()

    # -- check and lookups -------------------------------------------------------------

    def check(self, *, reconcile: bool = False) -> TargetInfo:
        info = self._site_info()
        granted = {str(f.get("name")) for f in info.get("functions") or [] if isinstance(f, dict)}
        needed = needed_functions(self.settings, reconcile=reconcile, plugin=bool(self.plugin))
        lacking = [f for f in needed if f not in granted]
        missing = tuple(f for f in lacking if f not in OPTIONAL_FUNCTIONS)
        optional = tuple(f for f in lacking if f in OPTIONAL_FUNCTIONS)
        release = str(info.get("release", "?"))
        description = (
            f"Moodle {release} at {info.get('siteurl', self.client.url)}"
            f" as {info.get('username', '?')}"
        )
        return TargetInfo(
            name=self.name,
            description=description,
            missing_functions=missing,
            release=release,
            needed_by={
                **{f: needed[f] for f in missing},
                **{f: f"{needed[f]}; {OPTIONAL_FUNCTIONS[f]}" for f in optional},
            },
            missing_optional=optional,
            notes=(self.read_path(),),
        )

    def read_path(self) -> str:
        """Which functions read completion and enrolments, in words for ``target check``."""
        if self.plugin is not None:
            return (
                f"Completion and enrolment reads: the local_upskill plugin (version "
                f"{self.plugin.version}): a page of up to 5,000 rows a request, suspended "
                "enrolments included"
            )
        if self.plugin_seen:
            return (
                f"Completion and enrolment reads: Moodle's core functions, because the site's "
                f"local_upskill (version {self.plugin_seen}) is older than version "
                f"{PLUGIN_MIN_VERSION} this connector reads; upgrade it with the zip of "
                "`upskill moodle plugin --out DIR`"
            )
        return (
            "Completion and enrolment reads: Moodle's core functions (one request per learner; "
            "the completion of a suspended enrolment cannot be read); for bulk reads install the "
            "local_upskill plugin (`upskill moodle plugin --out DIR`) and use a token of its "
            f"service '{PLUGIN_SERVICE_NAME}'"
        )

    def permissions(
        self, course_refs: Sequence[str], *, reconcile: bool = False
    ) -> list[Permission]:
        """What the token's user may do and see, by read-only probes (:mod:`.access`)."""
        course_id = first_course(course_refs, self.course_ids)
        found = AccessProbe(self.client, self.settings).run(
            self._site_info(), course_id, reconcile=reconcile
        )
        return found + self._cohort_permissions(course_refs)

    def _cohort_permissions(self, course_refs: Sequence[str]) -> list[Permission]:
        """Each cohort course (of the bundles, or configured): its cohort exists, a Cohort
        sync method links it, leaving it keeps grades (:mod:`.cohort_setup`)."""
        refs = [r for r in dict.fromkeys([*course_refs, *self.settings.cohort_courses])]
        found = []
        for setup in self.cohort_setup(refs):
            problem = setup.problem()
            found.append(
                Permission(
                    f"course {setup.course_ref} in cohort mode: cohort {setup.cohort} exists, "
                    "a Cohort sync method links it, leaving it keeps grades",
                    problem is None,
                    problem or "",
                    "probed with the token's own account: added to the cohort and taken out "
                    "again (it stays a suspended participant of the course)",
                )
            )
        return found

    def _own_id(self) -> str:
        """The id of the token's own account (from the site info, once)."""
        if self._own is None:
            self._own = str(self._site_info().get("userid", ""))
        return self._own

    def _probe(self, ref: str, course_id: str) -> CohortSetup:
        return self.setup.probe(ref, course_id)

    def cohort_setup(self, refs: Sequence[str]) -> list[CohortSetup]:
        """The probe of each cohort course of ``refs`` that exists (:mod:`.cohort_setup`)."""
        wanted = [r for r in dict.fromkeys(refs) if self.cohorts.covers(r)]
        ids = self.course_ids(wanted) if wanted else {}
        return [self._probe(ref, ids[ref]) for ref in wanted if ref in ids]

    def course_problems(self, applied: Mapping[str, int]) -> list[str]:
        """What stops a run before it writes, for the courses the state holds enrollments
        in (course ref → how many are active): a cohort course whose cohort is gone."""
        used = [r for r, n in sorted(applied.items()) if n and self.cohorts.covers(r)]
        if not used:
            return []
        existing = self.cohorts.existing()
        return [
            f"the cohort {self.cohorts.idnumber(ref)} of course {ref} is gone from Moodle "
            f"(deleted by an administrator?): the {applied[ref]} learner(s) the connector "
            "enrolled through it are no longer active there (Moodle disabled its Cohort sync "
            "method, or deleted it with their enrolments and grades if its unenrol action is "
            f"'Unenrol user from course'). Nothing was changed. To repair: "
            f"{deleted_fix(self.cohorts.idnumber(ref), ref)}"
            for ref in used
            if ref not in existing
        ]

    def _site_info(self) -> dict[str, Any]:
        """The site info; an ``accessexception`` is told apart (missing webservice/rest:use, or
        a service that does not let the token's user call the function)."""
        info, code = self.client.probe("core_webservice_get_site_info")
        if code == "accessexception":
            raise rest_use_refused(self.client)
        if code:
            raise self.client.error("core_webservice_get_site_info", info)
        if not isinstance(info, dict) or "functions" not in info:
            raise ProtocolError(
                f"Moodle at {self.client.url}: core_webservice_get_site_info gave no site info"
            )
        self._choose_path(info)
        return info

    def _choose_path(self, info: Mapping[str, Any]) -> None:
        """The plugin's reads when the token may call local_upskill at MIN_VERSION or later;
        else Moodle's core functions (and the read-back through them)."""
        self.plugin_seen = plugin_version(info)
        if self.plugin_seen >= PLUGIN_MIN_VERSION:
            if self.plugin is None or self.plugin.version != self.plugin_seen:
                self.plugin = PluginReads(self.client, self.name, self.plugin_seen, self.budget)
        else:
            self.plugin = None
        self.manual.statuses = self.plugin.statuses if self.plugin is not None else None
        self._path_known = True

    def reads(self) -> PluginReads | None:
        """The plugin's reads, or None for the core functions (one site info the first time,
        when no check came before)."""
        if not self._path_known:
            self._site_info()
        return self.plugin

    def course_ids(self, refs: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for ref in dict.fromkeys(refs):
            answer = self.client.call(
                "core_course_get_courses_by_field", {"field": "shortname", "value": ref}
            )
            courses = answer.get("courses") if isinstance(answer, dict) else None
            if not isinstance(courses, list):
                raise ProtocolError(
                    "Moodle answered core_course_get_courses_by_field without courses"
                )
            for course in courses:
                if isinstance(course, dict) and course.get("shortname") == ref:
                    found[ref] = str(course["id"])
        return found

    # -- accounts ----------------------------------------------------------------------

    def username_for(self, person: Person) -> str:
        return self.accounts.username_for(person)

    def ensure_users(self, people: Sequence[Person]) -> BatchOutcome:
        return self.accounts.ensure(people)

    def update_profiles(
        self, people: Mapping[str, Person], accounts: Mapping[str, str]
    ) -> BatchOutcome:
        if not self.settings.update_profiles:
            return BatchOutcome()
        return self.accounts.refresh(people, accounts)

    def suspend_accounts(self, accounts: Mapping[str, str]) -> BatchOutcome:
        if not self.settings.suspend_leavers:
            return BatchOutcome()
        return self.accounts.suspend(accounts)

    def reactivate_accounts(self, accounts: Mapping[str, str]) -> BatchOutcome:
        if not self.settings.suspend_leavers:
            return BatchOutcome()
        return self.accounts.suspend(accounts, suspended=False)

    # -- enrolments --------------------------------------------------------------------

    def _split(self, rows: Sequence[EnrollRow]) -> tuple[list[EnrollRow], list[EnrollRow]]:
        cohort = [r for r in rows if self.cohorts.covers(r.course_ref)]
        manual = [r for r in rows if not self.cohorts.covers(r.course_ref)]
        return manual, cohort

    def enroll(self, rows: Sequence[EnrollRow]) -> BatchOutcome:
        manual, cohort = self._split(rows)
        outcome = self.manual.write("enrol_manual_enrol_users", manual, lambda r: r.active)
        if cohort:
            _merge(outcome, self.cohorts.add([r for r in cohort if r.active]))
            _merge(outcome, self.cohorts.remove([r for r in cohort if not r.active], "suspended"))
        return outcome

    def suspend(self, rows: Sequence[EnrollRow]) -> BatchOutcome:
        manual, cohort = self._split(rows)
        outcome = self.manual.write("enrol_manual_enrol_users", manual, lambda _r: False)
        if cohort:
            _merge(outcome, self.cohorts.remove(cohort, "suspended"))
        return outcome

    def unenroll(self, rows: Sequence[EnrollRow]) -> BatchOutcome:
        manual, cohort = self._split(rows)
        outcome = self.manual.write("enrol_manual_unenrol_users", manual, None)
        if cohort:
            _merge(outcome, self.cohorts.remove(cohort, "removed"))
        return outcome

    def move(self, rows: Sequence[EnrollRow]) -> BatchOutcome:
        """Move active enrollments into cohort mode (their course is in ``cohort_courses``)
        or out of it, never leaving a learner without an active enrolment for longer than
        two requests, and never unenrolling (see :meth:`_into_cohorts`)."""
        manual, cohort = self._split(rows)
        outcome = BatchOutcome()
        if cohort:
            _merge(outcome, self._into_cohorts(cohort))
        if manual:
            _merge(outcome, self._out_of_cohorts(manual))
        return outcome

    def _into_cohorts(self, rows: Sequence[EnrollRow]) -> BatchOutcome:
        """Into the course's cohort (its Cohort sync method enrols them), then the manual
        enrolment suspended (grades stay: the user is still enrolled), then read back: a
        learner not active now gets the manual enrolment back and the move fails. A course
        whose cohort is not linked is not touched."""
        outcome = BatchOutcome()
        self.cohorts.cohort_ids([r.course_ref for r in rows])
        ready = []
        for row in rows:
            found = self._probe(row.course_ref, row.course_id)
            if found.linked:
                ready.append(row)
                continue
            outcome.failed[row_key(row.person_key, row.course_ref)] = RowFailure(
                "cohortnotlinked",
                f"not moved into cohort mode (the manual enrolment is kept, nothing was "
                f"changed): {found.problem()}",
            )
        added = self.cohorts.add(ready)
        outcome.failed.update(added.failed)
        moved = [r for r in ready if row_key(r.person_key, r.course_ref) in added.done]
        off = self.manual.write("enrol_manual_enrol_users", moved, lambda _r: False)
        for key, failure in off.failed.items():
            if failure.errorcode not in COURSE_LEVEL_CODES:  # no manual method: nothing to do
                outcome.failed[key] = failure
        lost: list[EnrollRow] = []
        for course_id in sorted({r.course_id for r in moved}):
            active = self.manual.enrolled_ids(course_id, "onlyactive")
            lost += [r for r in moved if r.course_id == course_id and r.user_id not in active]
        if lost:
            self.manual.write("enrol_manual_enrol_users", lost, lambda _r: True)
            for row in lost:
                outcome.failed[row_key(row.person_key, row.course_ref)] = RowFailure(
                    "notapplied",
                    f"not moved into cohort mode: after joining cohort "
                    f"{self.cohorts.idnumber(row.course_ref)} the enrolment in "
                    f"{row.course_ref} was not active; the manual enrolment is active again",
                )
        for row in moved:
            key = row_key(row.person_key, row.course_ref)
            if key not in outcome.failed:
                self.manual.done(row, "active", outcome)
        return outcome

    def _out_of_cohorts(self, rows: Sequence[EnrollRow]) -> BatchOutcome:
        """An active manual enrolment first, then out of the cohort (whatever the unenrol
        action: the manual enrolment holds the grades)."""
        outcome = self.manual.write("enrol_manual_enrol_users", rows, lambda _r: True)
        done = [r for r in rows if row_key(r.person_key, r.course_ref) in outcome.done]
        left = self.cohorts.remove(done, "suspended", check=False, create=False)
        outcome.failed.update(left.failed)
        for row in done:
            if row_key(row.person_key, row.course_ref) not in left.failed:
                self.manual.done(row, "active", outcome)
            else:
                outcome.done.pop(row_key(row.person_key, row.course_ref), None)
        return outcome

    def verify_writes(self) -> list[Shortfall]:
        if not self.settings.verify_writes:
            return []
        self.reads()  # the read-back goes through the plugin when the token may call it
        return self.manual.verify()

    def enrolled(self, course_ids: Mapping[str, str]) -> dict[str, dict[str, str]]:
        """Every enrolment of these courses (one paged read of them all through local_upskill
        when the token may call it); in a cohort course a learner not in the cohort
        and not active there is ``outside`` (taken out by hand, or the cohort deleted and
        made again: the connector adds them back), unless suspended by the connector."""
        plugin = self.reads()
        if plugin is not None:
            read = plugin.statuses(list(course_ids.values()))
            found = {ref: read.get(cid, {}) for ref, cid in sorted(course_ids.items())}
        else:
            found = {ref: self.manual.actual(cid) for ref, cid in sorted(course_ids.items())}
        cohort = [ref for ref in found if self.cohorts.covers(ref)]
        members = self.cohorts.members(cohort) if cohort else {}
        for ref, users in members.items():
            for uid, status in found[ref].items():
                if status == "suspended" and uid not in users:
                    found[ref][uid] = "outside"
        return found

    # -- completion --------------------------------------------------------------------

    def completions(self, rows: Sequence[EnrollRow]) -> list[Completion]:
        plugin = self.reads()
        return plugin.completions(rows) if plugin is not None else self.reader.read(rows)


def _merge(into: BatchOutcome, other: BatchOutcome) -> None:
    into.done.update(other.done)
    into.failed.update(other.failed)
    into.warnings.update(other.warnings)
