"""Fixtures shared by the whole suite: the private PostgreSQL cluster lives in tests/postgres.py."""

pytest_plugins = [
    "tests.postgres",
    "tests.servers.slapd",
    "tests.servers.samba",
    "tests.servers.scim",
    "tests.servers.lrs",
    "tests.servers.moodle_site",
    "tests.doubles.graph",
    "tests.doubles.okta",
    "tests.doubles.proxy",
]
