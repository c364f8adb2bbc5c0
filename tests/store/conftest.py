"""Every store test runs on SQLite (a file in tmp_path) and on a private PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.store import Store
from tests.postgres import PostgresServer

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh, empty state database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/var/upskill.db"
    url: str = request.getfixturevalue("postgres_database")
    return url


@pytest.fixture(scope="session")
def migrated_template(request: pytest.FixtureRequest) -> str:
    """A PostgreSQL database already at the newest schema, copied for each test (faster than
    migrating every test's database)."""
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = server.create_database("migrated")
    Store.open(server.url(name)).close()
    return name


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A state database at the newest schema, on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/var/upskill.db"
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        template: str = request.getfixturevalue("migrated_template")
        name = server.create_database(template=template)
        request.addfinalizer(lambda: server.drop_database(name))
        url = server.url(name)
    opened = Store.open(url)
    try:
        yield opened
    finally:
        opened.close()
