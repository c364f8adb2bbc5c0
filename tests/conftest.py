"""Fixtures shared by the whole suite: the private PostgreSQL cluster lives in tests/postgres.py."""

pytest_plugins = ["tests.postgres"]
