"""Opening a database already at the shipped schema skips Alembic; any other is migrated."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory

from connector.store import Store, database
from connector.store.database import alembic_config, head_revision, shipped_heads


def test_shipped_heads_agree_with_alembic() -> None:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert shipped_heads() == frozenset(heads)


def test_a_database_behind_the_shipped_heads_is_migrated_on_open(store_url: str) -> None:
    with Store.open(store_url, upgrade=False) as store:
        config = alembic_config()
        with store.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0001")
        assert store.revision() == "0001"
    with Store.open(store_url) as store:
        assert store.revision() == head_revision()


def test_an_unusual_migration_file_leaves_the_decision_to_alembic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "0001_a.py").write_text('revision = "a"\ndown_revision = None\n')
    (versions / "0002_b.py").write_text('revision = "b"\ndown_revision = ("a",)\n')
    monkeypatch.setattr(database, "MIGRATIONS", tmp_path)
    assert shipped_heads() == frozenset({"b"})
    (versions / "0003_c.py").write_text('revision = "c"\ndown_revision = compute()\n')
    assert shipped_heads() is None


def test_opening_a_migrated_database_does_not_import_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    Store.open(url).close()
    code = (
        "import sys\nfrom connector.store import Store\n"
        f"Store.open({url!r}).close()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
