"""Errors of the database surface as StateError, never showing a password."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.errors import StateError
from connector.store import Store
from tests.postgres import PostgresServer, free_port

SECRET = "s3cr3t-Pa55"


def test_unreachable_postgres_names_the_url_without_its_password() -> None:
    url = f"postgresql+psycopg://upskill:{SECRET}@127.0.0.1:{free_port()}/upskill"
    with pytest.raises(StateError) as caught:
        Store.open(url)
    error = caught.value
    assert "postgresql+psycopg://upskill:***@127.0.0.1" in error.message
    assert "cannot connect" in error.message
    assert SECRET not in error.message
    assert SECRET not in (error.detail or "")
    assert SECRET not in str(error)


@pytest.mark.postgres
def test_wrong_database_on_a_live_server(postgres_server: PostgresServer) -> None:
    url = f"postgresql+psycopg://postgres:{SECRET}@127.0.0.1:{postgres_server.port}/missing_db"
    with pytest.raises(StateError, match='database "missing_db" does not exist') as caught:
        Store.open(url)
    assert SECRET not in str(caught.value) and SECRET not in (caught.value.detail or "")


def test_a_bare_postgresql_url_uses_psycopg() -> None:
    with pytest.raises(StateError) as caught:
        Store.open(f"postgresql://u:{SECRET}@127.0.0.1:{free_port()}/db")
    assert caught.value.message.startswith("state database postgresql+psycopg://u:***@")


def test_unusable_sqlite_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StateError, match="cannot create the folder"):
        Store.open(f"sqlite:///{blocker}/sub/upskill.db")


def test_a_file_that_is_no_database(tmp_path: Path) -> None:
    path = tmp_path / "upskill.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateError, match="file is not a database"):
        Store.open(f"sqlite:///{path}")


def test_invalid_and_unsupported_urls() -> None:
    with pytest.raises(StateError, match="URL is not valid"):
        Store.open("not a url")
    with pytest.raises(StateError, match=r"oracle\+nothing is not supported") as caught:
        Store.open(f"oracle+nothing://u:{SECRET}@h/db")
    assert SECRET not in str(caught.value) and SECRET not in (caught.value.detail or "")


@pytest.mark.parametrize(
    ("url", "said"),
    [
        (f"mysql://u:{SECRET}@h/db", "mysql is not supported"),
        (f"oracle://u:{SECRET}@h/db", "oracle is not supported"),
        (f"postgresql+psycopg2://u:{SECRET}@h/db", r"postgresql\+psycopg2 is not supported"),
        (f"postgresql://u:{SECRET}@h:abc/db", "check its form and port"),
        (f"postgresql://u:{SECRET}@h:99999/db", "port 99999 is not from 1 to 65535"),
    ],
)
def test_every_state_url_error_is_named_without_the_password(url: str, said: str) -> None:
    with pytest.raises(StateError, match=said) as caught:
        Store.open(url)
    assert SECRET not in str(caught.value) and SECRET not in (caught.value.detail or "")
    assert caught.value.__cause__ is None  # the library's text, which quotes the URL, is dropped
