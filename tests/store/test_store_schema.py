"""Migrations: an empty database is brought to the newest schema, idempotently."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from connector.store import Store
from connector.store.database import MIGRATIONS, head_revision
from connector.store.tables import metadata

TABLES = {
    "runs",
    "run_lock",
    "accounts",
    "enrollments",
    "journal",
    "completions",
    "run_problems",
}


def table_names(store: Store) -> set[str]:
    return set(inspect(store.engine).get_table_names())


def test_upgrade_from_empty_creates_every_table_and_is_idempotent(store_url: str) -> None:
    store = Store.open(store_url, upgrade=False)
    try:
        assert store.revision() is None
        assert not TABLES & table_names(store)
        head = store.upgrade()
        assert head == head_revision()
        assert store.revision() == head
        assert table_names(store) >= TABLES
        assert store.upgrade() == head  # a second upgrade changes nothing and does not fail
        assert store.revision() == head
    finally:
        store.close()


def test_open_upgrades_by_itself(store_url: str) -> None:
    with Store.open(store_url) as store:
        assert store.revision() == head_revision()
        assert table_names(store) >= TABLES
        run_id = store.start_run("plan", dry_run=True, mappings_hash=None, lock=False)
    with Store.open(store_url) as again:  # reopening an upgraded database keeps its data
        record = again.run(run_id)
        assert record is not None and record.kind == "plan"


def test_migrations_create_exactly_the_tables_module(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
    assert diff == []


def test_migrations_ship_inside_the_package() -> None:
    assert Path(__file__).parents[2] / "connector" / "store" / "migrations" == MIGRATIONS
    assert (MIGRATIONS / "env.py").is_file()
    assert (MIGRATIONS / "script.py.mako").is_file()
    assert list((MIGRATIONS / "versions").glob("0001_*.py"))


def test_sqlite_default_creates_the_folder_and_runs_with_wal_and_foreign_keys(
    tmp_path: Path,
) -> None:
    path = tmp_path / "nested" / "var" / "upskill.db"
    with Store.open(f"sqlite:///{path}") as store:
        assert path.is_file()
        with store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA busy_timeout")).scalar_one() > 0


def test_foreign_keys_are_enforced(store: Store) -> None:
    from connector.errors import StateError
    from connector.model import Change, ChangeKind

    change = Change(ChangeKind.ENROLL, "moodle", "p1", "new", "C1")
    with pytest.raises(StateError):
        store.journal_plan(4242, [change])  # no such run
