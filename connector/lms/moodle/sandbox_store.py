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
CREATE TABLE IF NOT EXISTS calls (function TEXT PRIMARY KEY, count INTEGER NOT NULL);
"""

TABLES = ("users", "courses", "enrolments", "role_assignments", "completions", "calls")

SEED_USERS = (
    (1, "guest", "guest@sandbox.invalid", "Guest user", " ", "manual"),
    (2, "admin", "admin@sandbox.invalid", "Admin", "User", "manual"),
    (3, "ws-upskill", "ws-upskill@sandbox.invalid", "Upskill", "Connector", "manual"),
)

Record = dict[str, Any]


class SandboxStore:
    """The sandbox's tables and the few queries its functions need."""

    def __init__(self, db: str = ":memory:") -> None:
        self.db = db
        self.conn = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.executescript(SCHEMA)
        self._seed()

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

    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[Record]:
        return [dict(r) for r in self.conn.execute(sql, args).fetchall()]

    def _one(self, sql: str, args: Sequence[Any] = ()) -> Record | None:
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

    def email_taken(self, email: str) -> bool:
        found = self._one("SELECT 1 FROM users WHERE lower(email) = lower(?)", (email,))
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
        """Unenrol; with the last enrolment go the roles and the completion record."""
        for table in ("enrolments", "role_assignments", "completions"):
            self.conn.execute(
                f"DELETE FROM {table} WHERE userid = ? AND courseid = ?",  # noqa: S608
                (user_id, course_id),
            )

    def enrolments(self, course_id: int | None = None) -> list[Record]:
        sql = (
            "SELECT e.*, u.username, c.shortname FROM enrolments e"
            " JOIN users u ON u.id = e.userid JOIN courses c ON c.id = e.courseid"
        )
        if course_id is None:
            return self._all(sql + " ORDER BY e.courseid, e.userid")
        return self._all(sql + " WHERE e.courseid = ? ORDER BY e.userid", (course_id,))

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

    # -- call counts -------------------------------------------------------------------

    def count_call(self, function: str) -> None:
        self.conn.execute(
            "INSERT INTO calls (function, count) VALUES (?, 1)"
            " ON CONFLICT (function) DO UPDATE SET count = count + 1",
            (function,),
        )

    def call_counts(self) -> dict[str, int]:
        return {r["function"]: int(r["count"]) for r in self._all("SELECT * FROM calls")}

    def reset_calls(self) -> None:
        self.conn.execute("DELETE FROM calls")
