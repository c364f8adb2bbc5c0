"""The Moodle sandbox's data: users, courses, enrolments, completions and call counts in SQLite.

One connection, used under the caller's lock (the HTTP server serialises requests). Ids start
where a fresh Moodle's do: user 1 is guest, 2 admin, 3 the web-service account; course 1 is the
site course (no manual enrolment instance, like Moodle's front page).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, email TEXT NOT NULL,
    firstname TEXT NOT NULL, lastname TEXT NOT NULL, idnumber TEXT NOT NULL DEFAULT '',
    auth TEXT NOT NULL DEFAULT 'manual', suspended INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0, department TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS courses (
    id INTEGER PRIMARY KEY, shortname TEXT NOT NULL UNIQUE, fullname TEXT NOT NULL,
    idnumber TEXT NOT NULL DEFAULT '', category INTEGER NOT NULL DEFAULT 1,
    manual INTEGER NOT NULL DEFAULT 1, criteria INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS enrolments (
    userid INTEGER NOT NULL, courseid INTEGER NOT NULL, timestart INTEGER NOT NULL,
    timeend INTEGER NOT NULL, status INTEGER NOT NULL, PRIMARY KEY (userid, courseid)
);
CREATE TABLE IF NOT EXISTS role_assignments (
    userid INTEGER NOT NULL, courseid INTEGER NOT NULL, roleid INTEGER NOT NULL,
    PRIMARY KEY (userid, courseid, roleid)
);
CREATE TABLE IF NOT EXISTS completions (
    userid INTEGER NOT NULL, courseid INTEGER NOT NULL, timecompleted INTEGER NOT NULL,
    PRIMARY KEY (userid, courseid)
);
CREATE TABLE IF NOT EXISTS activities (
    id INTEGER PRIMARY KEY, courseid INTEGER NOT NULL, name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS activity_completions (
    userid INTEGER NOT NULL, activityid INTEGER NOT NULL, PRIMARY KEY (userid, activityid)
);
CREATE TABLE IF NOT EXISTS calls (function TEXT PRIMARY KEY, count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS cohorts (
    id INTEGER PRIMARY KEY, idnumber TEXT NOT NULL, name TEXT NOT NULL,
    contextid INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS cohort_members (
    cohortid INTEGER NOT NULL, userid INTEGER NOT NULL, PRIMARY KEY (cohortid, userid)
);
CREATE TABLE IF NOT EXISTS cohort_links (
    cohortid INTEGER NOT NULL, courseid INTEGER NOT NULL, PRIMARY KEY (cohortid, courseid)
);
CREATE TABLE IF NOT EXISTS cohort_enrolments (
    userid INTEGER NOT NULL, courseid INTEGER NOT NULL, cohortid INTEGER NOT NULL,
    status INTEGER NOT NULL, PRIMARY KEY (userid, courseid, cohortid)
);
CREATE INDEX IF NOT EXISTS ix_users_idnumber ON users (idnumber);
CREATE INDEX IF NOT EXISTS ix_enrolments_course ON enrolments (courseid, userid);
CREATE INDEX IF NOT EXISTS ix_users_email ON users (email);
CREATE INDEX IF NOT EXISTS ix_users_email_lower ON users (lower(email));
CREATE INDEX IF NOT EXISTS ix_cohorts_idnumber ON cohorts (idnumber);
CREATE INDEX IF NOT EXISTS ix_cohort_enrolments_course ON cohort_enrolments (courseid, userid);
CREATE INDEX IF NOT EXISTS ix_activities_course ON activities (courseid);
"""

TABLES = (
    "users", "courses", "enrolments", "role_assignments", "completions", "calls",
    "cohorts", "cohort_members", "cohort_links", "cohort_enrolments", "activities",
    "activity_completions",
)  # fmt: skip

SEED_USERS = (
    (1, "guest", "guest@sandbox.invalid", "Guest user", " ", "manual"),
    (2, "admin", "admin@sandbox.invalid", "Admin", "User", "manual"),
    (3, "ws-upskill", "ws-upskill@sandbox.invalid", "Upskill", "Connector", "manual"),
)

Record = dict[str, Any]


def merged(where: str) -> str:
    """Enrolments as Moodle counts them, one per user and course with every method together
    (active when one of them is; the earliest start; no end when one has none), of the rows
    ``where`` selects (a fixed fragment on ``userid`` and ``courseid`` with named parameters).
    The condition goes into each method's table, where an index serves it: a view grouping
    the whole union is read in full for every user's or course's question."""
    return (
        "(SELECT userid, courseid, MIN(timestart) AS timestart,"  # noqa: S608 - fixed fragments
        " CASE WHEN MIN(timeend) = 0 THEN 0 ELSE MAX(timeend) END AS timeend,"
        " MIN(status) AS status FROM ("
        f"SELECT userid, courseid, timestart, timeend, status FROM enrolments WHERE {where}"
        f" UNION ALL SELECT userid, courseid, 0, 0, status FROM cohort_enrolments WHERE {where}"
        ") GROUP BY userid, courseid)"
    )
_USER_COLUMNS = frozenset(
    {"username", "email", "firstname", "lastname", "idnumber", "auth", "suspended", "department"}
)


class SandboxStore:
    """The sandbox's tables and the few queries its functions need."""

    def __init__(self, db: str = ":memory:") -> None:
        self.db = db
        self.conn = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        if db != ":memory:":  # a test double: speed over durability
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = OFF")
        self.conn.executescript(SCHEMA)
        self._seed()
        self._bookkeeping = 0  # rows changed by the call counting, not the site's data
        self._rows_kept: tuple[tuple[Any, ...], list[Record]] | None = None
        self._done_kept: tuple[tuple[Any, ...], dict[tuple[int, int], int]] | None = None

    def close(self) -> None:
        self.conn.close()

    def _seed(self) -> None:
        self.conn.executemany(
            "INSERT OR IGNORE INTO users (id, username, email, firstname, lastname, auth)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            SEED_USERS,
        )
        self.conn.execute(
            "INSERT OR IGNORE INTO courses (id, shortname, fullname, manual, criteria)"
            " VALUES (1, 'sandbox', 'Upskill Moodle sandbox', 0, 0)"
        )

    def reset(self) -> None:
        with self.transaction():
            for table in TABLES:
                self.conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
        self._seed()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All-or-nothing: everything inside commits together or not at all."""
        self.conn.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def _all(self, sql: str, args: Sequence[Any] | dict[str, Any] = ()) -> list[Record]:
        return [dict(r) for r in self.conn.execute(sql, args).fetchall()]

    def _one(self, sql: str, args: Sequence[Any] | dict[str, Any] = ()) -> Record | None:
        row = self.conn.execute(sql, args).fetchone()
        return dict(row) if row is not None else None

    # -- users -------------------------------------------------------------------------

    def users_where(self, column: str, values: Sequence[Any]) -> list[Record]:
        if column not in ("id", "idnumber", "username", "email") or not values:
            return []
        marks = ",".join("?" * len(values))
        return self._all(
            f"SELECT * FROM users WHERE {column} IN ({marks}) ORDER BY id",  # noqa: S608
            list(values),
        )

    def user(self, user_id: int) -> Record | None:
        return self._one("SELECT * FROM users WHERE id = ?", (user_id,))

    def user_by_ref(self, ref: str | int) -> Record | None:
        """A user by id (an int or digits) or by username."""
        if isinstance(ref, int) or str(ref).isdigit():
            return self.user(int(ref))
        return self._one("SELECT * FROM users WHERE username = ?", (ref,))

    def username_taken(self, username: str) -> bool:
        return self._one("SELECT 1 FROM users WHERE username = ?", (username,)) is not None

    def email_taken(self, email: str, except_id: int = 0) -> bool:
        """Whether another account has this e-mail, compared without letter case as Moodle
        does when it creates or updates an account."""
        found = self._one(
            "SELECT 1 FROM users WHERE lower(email) = lower(?) AND id <> ?", (email, except_id)
        )
        return found is not None

    def add_user(self, user: Record) -> int:
        cursor = self.conn.execute(
            "INSERT INTO users (username, email, firstname, lastname, idnumber, auth, department)"
            " VALUES (:username, :email, :firstname, :lastname, :idnumber, :auth, :department)",
            {"idnumber": "", "auth": "manual", "department": "", **user},
        )
        return int(cursor.lastrowid or 0)

    def all_users(self) -> list[Record]:
        return self._all("SELECT * FROM users ORDER BY id")

    def update_user(self, user_id: int, changes: Record) -> None:
        columns = [c for c in changes if c in _USER_COLUMNS]
        if not columns:
            return
        assignments = ", ".join(f"{c} = :{c}" for c in columns)
        self.conn.execute(
            f"UPDATE users SET {assignments} WHERE id = :id",  # noqa: S608 - fixed names
            {**{c: changes[c] for c in columns}, "id": user_id},
        )

    def delete_user(self, user_id: int) -> None:
        """Moodle's delete_user: the record stays, flagged, with mangled identifiers."""
        user = self.user(user_id)
        if user is None:
            return
        self.conn.execute(
            "UPDATE users SET deleted = 1, idnumber = '', username = ?, email = ? WHERE id = ?",
            (f"{user['email']}.{user_id}", f"deleted{user_id}", user_id),
        )
        for table in ("enrolments", "role_assignments", "cohort_members", "cohort_enrolments"):
            self.conn.execute(f"DELETE FROM {table} WHERE userid = ?", (user_id,))  # noqa: S608

    # -- courses -----------------------------------------------------------------------

    def courses_where(self, column: str | None, values: Sequence[Any]) -> list[Record]:
        if column is None:
            return self._all("SELECT * FROM courses WHERE id <> 1 ORDER BY id")
        if column not in ("id", "shortname", "idnumber", "category") or not values:
            return []
        marks = ",".join("?" * len(values))
        return self._all(
            f"SELECT * FROM courses WHERE {column} IN ({marks}) ORDER BY id",  # noqa: S608
            list(values),
        )

    def delete_course(self, course_id: int) -> None:
        self.conn.execute("DELETE FROM courses WHERE id = ?", (course_id,))
        for table in (
            "enrolments", "role_assignments", "completions", "cohort_links", "cohort_enrolments"
        ):
            self.conn.execute(f"DELETE FROM {table} WHERE courseid = ?", (course_id,))  # noqa: S608

    def set_manual(self, course_id: int, manual: bool) -> None:
        self.conn.execute("UPDATE courses SET manual = ? WHERE id = ?", (int(manual), course_id))

    def course(self, course_id: int) -> Record | None:
        return self._one("SELECT * FROM courses WHERE id = ?", (course_id,))

    def course_by_ref(self, ref: str | int) -> Record | None:
        """A course by id (an int or digits) or by short name."""
        if isinstance(ref, int) or str(ref).isdigit():
            return self.course(int(ref))
        return self._one("SELECT * FROM courses WHERE shortname = ?", (ref,))

    def ensure_course(
        self, shortname: str, fullname: str, *, manual: bool, criteria: bool, idnumber: str = ""
    ) -> tuple[Record, bool]:
        """The course of this short name, created when missing; True when it was created."""
        existing = self.course_by_ref(shortname)
        if existing is not None:
            return existing, False
        cursor = self.conn.execute(
            "INSERT INTO courses (shortname, fullname, idnumber, manual, criteria)"
            " VALUES (?, ?, ?, ?, ?)",
            (shortname, fullname, idnumber, int(manual), int(criteria)),
        )
        created = self.course(int(cursor.lastrowid or 0))
        assert created is not None
        return created, True

    # -- enrolments --------------------------------------------------------------------

    def enrolment(self, user_id: int, course_id: int) -> Record | None:
        """The user's enrolment in the course as Moodle counts it: every method together
        (active when one of them is)."""
        return self._one(
            f"SELECT * FROM {merged('userid = :user AND courseid = :course')}",  # noqa: S608
            {"user": user_id, "course": course_id},
        )

    def manual_enrolment(self, user_id: int, course_id: int) -> Record | None:
        return self._one(
            "SELECT * FROM enrolments WHERE userid = ? AND courseid = ?", (user_id, course_id)
        )

    def put_enrolment(
        self, user_id: int, course_id: int, role_id: int, start: int, end: int, status: int
    ) -> None:
        """Enrol or re-enrol: the dates and status sent overwrite what was there."""
        self.conn.execute(
            "INSERT INTO enrolments (userid, courseid, timestart, timeend, status)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (userid, courseid) DO UPDATE SET"
            " timestart = excluded.timestart, timeend = excluded.timeend,"
            " status = excluded.status",
            (user_id, course_id, start, end, status),
        )
        self.conn.execute(
            "INSERT OR IGNORE INTO role_assignments (userid, courseid, roleid) VALUES (?, ?, ?)",
            (user_id, course_id, role_id),
        )

    def remove_enrolment(self, user_id: int, course_id: int) -> None:
        """Unenrol (the manual enrolment); with the last enrolment go the roles and the
        completion record (Moodle's grades and progress)."""
        self.conn.execute(
            "DELETE FROM enrolments WHERE userid = ? AND courseid = ?", (user_id, course_id)
        )
        self._forget_unless_enrolled(user_id, course_id)

    def _forget_unless_enrolled(self, user_id: int, course_id: int) -> None:
        if self.enrolment(user_id, course_id) is not None:
            return
        for table in ("role_assignments", "completions"):
            self.conn.execute(
                f"DELETE FROM {table} WHERE userid = ? AND courseid = ?",  # noqa: S608
                (user_id, course_id),
            )

    def put_cohort_enrolment(self, user_id: int, course_id: int, cohort_id: int, status: int,
                             role_id: int) -> None:  # fmt: skip
        """The cohort sync's own enrolment (one per linked cohort), beside any manual one."""
        self.conn.execute(
            "INSERT INTO cohort_enrolments (userid, courseid, cohortid, status) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (userid, courseid, cohortid) DO UPDATE SET status = excluded.status",
            (user_id, course_id, cohort_id, status),
        )
        self.conn.execute(
            "INSERT OR IGNORE INTO role_assignments (userid, courseid, roleid) VALUES (?, ?, ?)",
            (user_id, course_id, role_id),
        )

    def cohort_enrolment(self, user_id: int, course_id: int, cohort_id: int) -> Record | None:
        return self._one(
            "SELECT * FROM cohort_enrolments WHERE userid = ? AND courseid = ? AND cohortid = ?",
            (user_id, course_id, cohort_id),
        )

    def cohort_enrolments_of(self, cohort_id: int) -> list[Record]:
        return self._all("SELECT * FROM cohort_enrolments WHERE cohortid = ?", (cohort_id,))

    def remove_cohort_enrolment(self, user_id: int, course_id: int, cohort_id: int) -> None:
        """Unenrol through the cohort sync; with the last enrolment go the roles and the
        completion record."""
        self.conn.execute(
            "DELETE FROM cohort_enrolments WHERE userid = ? AND courseid = ? AND cohortid = ?",
            (user_id, course_id, cohort_id),
        )
        self._forget_unless_enrolled(user_id, course_id)

    def enrolments(self, course_id: int | None = None) -> list[Record]:
        """Enrolments as Moodle counts them (one per user and course, every method together)."""
        where = "1 = 1" if course_id is None else "courseid = :course"
        sql = (
            f"SELECT e.*, u.username, c.shortname FROM {merged(where)} e"  # noqa: S608
            " JOIN users u ON u.id = e.userid JOIN courses c ON c.id = e.courseid"
            " ORDER BY e.courseid, e.userid"
        )
        return self._all(sql, {"course": course_id})

    def enrolment_rows(self, course_id: int | None = None) -> list[Record]:
        """Every enrolment of each method apart (``method``: manual or cohort), as an
        administrator sees them in a course's participants page."""
        rows = (
            "SELECT userid, courseid, timestart, timeend, status, 'manual' AS method"
            " FROM enrolments UNION ALL SELECT userid, courseid, 0, 0, status, 'cohort'"
            " FROM cohort_enrolments"
        )
        sql = (
            f"SELECT e.*, u.username, c.shortname FROM ({rows}) e"  # noqa: S608 - fixed SQL
            " JOIN users u ON u.id = e.userid JOIN courses c ON c.id = e.courseid"
        )
        if course_id is None:
            return self._all(sql + " ORDER BY e.courseid, e.userid, e.method")
        return self._all(sql + " WHERE e.courseid = ? ORDER BY e.userid, e.method", (course_id,))

    def enrolled_view(
        self,
        course_id: int,
        *,
        only: str | None = None,
        now: float = 0.0,
        start: int = 0,
        limit: int = 0,
    ) -> list[Record]:
        """Enrolments of a course joined with their users, in user id order; ``only`` is
        ``active`` or ``suspended`` (Moodle's onlyactive / onlysuspended, dates included)."""
        active = (
            "(e.status = 0 AND (e.timestart = 0 OR e.timestart <= :now)"
            " AND (e.timeend = 0 OR e.timeend > :now))"
        )
        where = {"active": f" AND {active}", "suspended": f" AND NOT {active}"}.get(only or "", "")
        page = " LIMIT :limit OFFSET :start" if limit else " LIMIT -1 OFFSET :start"
        sql = (
            "SELECT e.timestart, e.timeend, e.status, u.*"  # noqa: S608
            f" FROM {merged('courseid = :course')} e"
            f" JOIN users u ON u.id = e.userid WHERE 1 = 1{where} ORDER BY u.id{page}"
        )
        return self._all(sql, {"course": course_id, "now": now, "start": start, "limit": limit})

    def course_rows(
        self, course_ids: Sequence[int], start: int, limit: int, since: int = 0, *,
        by_method: bool = False,
    ) -> list[Record]:
        """Enrolments of these courses with their users and completion, in course then user
        id order (local_upskill's reads): one row per user and course, or with ``by_method``
        one per enrolment method (``method``); with ``since`` only completions from then on;
        ``limit`` rows from row ``start``, as the plugin's LIMIT and OFFSET give them.

        A read of many pages asks the same question once a page; the whole answer is kept
        while nothing in the site's data changes (:meth:`data_version`), so a
        page costs its own rows, not the grouping of every enrolment of the courses again
        (100,000 people: 92 pages of about a second each before)."""
        key = (tuple(course_ids), since, by_method, self.data_version())
        if self._rows_kept is None or self._rows_kept[0] != key:
            self._rows_kept = (key, self._course_rows(course_ids, since, by_method=by_method))
        return self._rows_kept[1][start : start + limit]

    def _course_rows(
        self, course_ids: Sequence[int], since: int = 0, *,
        by_method: bool = False,
    ) -> list[Record]:
        """All the rows of :meth:`course_rows`, by one query (its LIMIT and OFFSET unused)."""
        marks = ",".join(f":c{i}" for i in range(len(course_ids)))
        completed = " AND k.timecompleted >= :since" if since > 0 else ""
        source = merged(f"courseid IN ({marks})")
        method = "'manual' AS method"
        if by_method:
            source = (
                "(SELECT userid, courseid, timestart, timeend, status, 'manual' AS method"  # noqa: S608
                f" FROM enrolments WHERE courseid IN ({marks}) UNION ALL SELECT userid,"
                " courseid, 0, 0, status, 'cohort' FROM cohort_enrolments"
                f" WHERE courseid IN ({marks}))"
            )
            method = "e.method"
        sql = (
            f"SELECT e.userid, e.courseid, e.status, e.timestart, e.timeend, {method},"  # noqa: S608
            " u.idnumber, u.username, u.email, k.timecompleted"
            f" FROM {source} e JOIN users u ON u.id = e.userid AND u.deleted = 0"
            " LEFT JOIN completions k ON k.userid = e.userid AND k.courseid = e.courseid"
            f" WHERE 1 = 1{completed}"
            " ORDER BY e.courseid, e.userid, method"
        )  # fixed fragments only
        args = {f"c{i}": c for i, c in enumerate(course_ids)}
        args.update(since=since)
        return self._all(sql, args)

    def roles_of_course(self, course_id: int) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for row in self.conn.execute(
            "SELECT userid, roleid FROM role_assignments WHERE courseid = ? ORDER BY roleid",
            (course_id,),
        ):
            out.setdefault(int(row[0]), []).append(int(row[1]))
        return out

    def user_enrolments(self, user_id: int) -> list[Record]:
        return self._all(
            "SELECT e.*, c.shortname, c.fullname, c.criteria, k.timecompleted"  # noqa: S608
            f" FROM {merged('userid = :user')} e"
            " JOIN courses c ON c.id = e.courseid LEFT JOIN completions k"
            " ON k.userid = e.userid AND k.courseid = e.courseid ORDER BY e.courseid",
            {"user": user_id},
        )

    def roles(self, user_id: int, course_id: int) -> list[int]:
        rows = self._all(
            "SELECT roleid FROM role_assignments WHERE userid = ? AND courseid = ? ORDER BY roleid",
            (user_id, course_id),
        )
        return [int(r["roleid"]) for r in rows]

    # -- completions -------------------------------------------------------------------

    def completion(self, user_id: int, course_id: int) -> int | None:
        row = self._one(
            "SELECT timecompleted FROM completions WHERE userid = ? AND courseid = ?",
            (user_id, course_id),
        )
        return None if row is None else int(row["timecompleted"])

    def set_completion(self, user_id: int, course_id: int, when: int | None) -> None:
        if when is None:
            self.conn.execute(
                "DELETE FROM completions WHERE userid = ? AND courseid = ?", (user_id, course_id)
            )
            return
        self.conn.execute(
            "INSERT INTO completions (userid, courseid, timecompleted) VALUES (?, ?, ?)"
            " ON CONFLICT (userid, courseid) DO UPDATE SET timecompleted = excluded.timecompleted",
            (user_id, course_id, when),
        )

    # -- activities with completion tracking (a course's progress) -----------------------

    def add_activities(self, course_id: int, count: int) -> list[int]:
        """``count`` activities with manual completion tracking; their ids."""
        made = []
        for _ in range(count):
            n = len(self.activities(course_id)) + 1
            cursor = self.conn.execute(
                "INSERT INTO activities (courseid, name) VALUES (?, ?)", (course_id, f"Part {n}")
            )
            made.append(int(cursor.lastrowid or 0))
        return made

    def activities(self, course_id: int) -> list[int]:
        rows = self.conn.execute(
            "SELECT id FROM activities WHERE courseid = ? ORDER BY id", (course_id,)
        ).fetchall()
        return [int(r["id"]) for r in rows]

    def complete_activities(self, user_id: int, course_id: int, count: int) -> int:
        """Mark the first ``count`` activities of the course complete for the user."""
        chosen = self.activities(course_id)[:count]
        self.conn.executemany(
            "INSERT OR IGNORE INTO activity_completions (userid, activityid) VALUES (?, ?)",
            [(user_id, a) for a in chosen],
        )
        return len(chosen)

    def activities_done_in(self, course_ids: Sequence[int]) -> dict[tuple[int, int], int]:
        """(user id, course id) → activities completed in these courses, for every learner
        with one completed at least (kept while nothing changes, as :meth:`course_rows`)."""
        key = (tuple(course_ids), self.data_version())
        if self._done_kept is None or self._done_kept[0] != key:
            marks = ",".join("?" * len(course_ids))
            found = {
                (int(user), int(course)): int(done)
                for user, course, done in self.conn.execute(
                    "SELECT c.userid, a.courseid, COUNT(*) FROM activity_completions c"  # noqa: S608
                    f" JOIN activities a ON a.id = c.activityid WHERE a.courseid IN ({marks})"
                    " GROUP BY c.userid, a.courseid",
                    list(course_ids),
                )
            }
            self._done_kept = (key, found)
        return self._done_kept[1]

    def activity_counts(self, course_ids: Sequence[int]) -> dict[int, int]:
        """Course id → its activities with completion tracking."""
        marks = ",".join("?" * len(course_ids))
        return {
            int(course): int(n)
            for course, n in self.conn.execute(
                f"SELECT courseid, COUNT(*) FROM activities WHERE courseid IN ({marks})"  # noqa: S608
                " GROUP BY courseid",
                list(course_ids),
            )
        }

    def activities_done(self, user_id: int, course_id: int) -> tuple[int, int]:
        """(activities completed by the user, activities) of the course."""
        row = self._one(
            "SELECT COUNT(a.id) AS total, COUNT(c.userid) AS done FROM activities a"
            " LEFT JOIN activity_completions c ON c.activityid = a.id AND c.userid = ?"
            " WHERE a.courseid = ?",
            (user_id, course_id),
        )
        return (0, 0) if row is None else (int(row["done"]), int(row["total"]))

    # -- cohorts ---------------------------------------------------------------------

    def cohort_where(self, column: str, value: Any) -> Record | None:
        if column not in ("id", "idnumber"):
            return None
        return self._one(f"SELECT * FROM cohorts WHERE {column} = ?", (value,))  # noqa: S608

    def cohorts(self) -> list[Record]:
        return self._all("SELECT * FROM cohorts ORDER BY id")

    def add_cohort(self, idnumber: str, name: str) -> int:
        cursor = self.conn.execute(
            "INSERT INTO cohorts (idnumber, name) VALUES (?, ?)", (idnumber, name)
        )
        return int(cursor.lastrowid or 0)

    def is_member(self, cohort_id: int, user_id: int) -> bool:
        found = self._one(
            "SELECT 1 FROM cohort_members WHERE cohortid = ? AND userid = ?", (cohort_id, user_id)
        )
        return found is not None

    def members(self, cohort_id: int) -> list[int]:
        rows = self.conn.execute(
            "SELECT userid FROM cohort_members WHERE cohortid = ? ORDER BY userid", (cohort_id,)
        )
        return [int(r[0]) for r in rows]

    def add_member(self, cohort_id: int, user_id: int) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO cohort_members (cohortid, userid) VALUES (?, ?)",
            (cohort_id, user_id),
        )

    def remove_member(self, cohort_id: int, user_id: int) -> None:
        self.conn.execute(
            "DELETE FROM cohort_members WHERE cohortid = ? AND userid = ?", (cohort_id, user_id)
        )

    def link_cohort(self, cohort_id: int, course_id: int) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO cohort_links (cohortid, courseid) VALUES (?, ?)",
            (cohort_id, course_id),
        )

    def delete_cohort(self, cohort_id: int) -> None:
        for table in ("cohorts", "cohort_members", "cohort_links"):
            column = "id" if table == "cohorts" else "cohortid"
            self.conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (cohort_id,))  # noqa: S608

    def linked_courses(self, cohort_id: int) -> list[int]:
        rows = self.conn.execute(
            "SELECT courseid FROM cohort_links WHERE cohortid = ? ORDER BY courseid", (cohort_id,)
        )
        return [int(r[0]) for r in rows]

    # -- call counts -------------------------------------------------------------------

    def count_call(self, function: str) -> None:
        before = self.conn.total_changes
        self.conn.execute(
            "INSERT INTO calls (function, count) VALUES (?, 1)"
            " ON CONFLICT (function) DO UPDATE SET count = count + 1",
            (function,),
        )
        self._bookkeeping += self.conn.total_changes - before

    def call_counts(self) -> dict[str, int]:
        return {r["function"]: int(r["count"]) for r in self._all("SELECT * FROM calls")}

    def reset_calls(self) -> None:
        before = self.conn.total_changes
        self.conn.execute("DELETE FROM calls")
        self._bookkeeping += self.conn.total_changes - before

    def data_version(self) -> int:
        """A number that changes whenever a row of the site's data changes (the connection's
        count of changed rows, less the call counting of every request)."""
        return self.conn.total_changes - self._bookkeeping
