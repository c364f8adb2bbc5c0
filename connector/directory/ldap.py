"""The Active Directory and OpenLDAP reader (``directory.type = "ldap"``).

One read opens one connection, binds, reads every group under ``group_base`` and every person
under ``user_base`` in pages, follows the ranges of large groups, and builds the snapshot
(:mod:`connector.directory.ldap_snapshot`). Nesting is resolved from group → member edges on
both flavours, which gives the same :attr:`Group.parents` everywhere and finds cycles. With
``people_in_group`` only the members (through nesting) of one group are read: AD filters on the
server with LDAP_MATCHING_RULE_IN_CHAIN; OpenLDAP, where that filter silently matches nothing,
is filtered from the edges.

A read that cannot be completed raises :class:`~connector.errors.UnavailableError` ("the read was
incomplete: ...; nothing was changed") and never returns part of the directory.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from connector.config import LdapSource, read_secret
from connector.directory.ldap_snapshot import LdapSchema, build_snapshot
from connector.directory.ldap_wire import Endpoint, LdapWire, connect, filter_value
from connector.errors import ConfigError
from connector.model import Snapshot

if TYPE_CHECKING:
    from connector.config import Settings

IN_CHAIN = "1.2.840.113556.1.4.1941"  # LDAP_MATCHING_RULE_IN_CHAIN
FLAVOUR_DEFAULTS = {
    "ad": {
        "key": "objectGUID",
        "department": "department",
        "user_filter": "(&(objectCategory=person)(objectClass=user))",
        "group_filter": "(objectClass=group)",
        "employee_id": "employeeID",
        "username": "sAMAccountName",
    },
    "openldap": {
        "key": "entryUUID",
        "department": "departmentNumber",
        "user_filter": "(objectClass=inetOrgPerson)",
        "group_filter": "(objectClass=groupOfNames)",
        "employee_id": "employeeNumber",
        "username": "uid",
    },
}


def _now() -> datetime:
    return datetime.now(UTC)


def schema_of(settings: LdapSource) -> LdapSchema:
    """The attribute names of a read, with the flavour's defaults for those left empty."""
    defaults = FLAVOUR_DEFAULTS[settings.flavour]
    names = settings.attributes
    rule = settings.disabled
    return LdapSchema(
        ad=settings.flavour == "ad",
        key=names.key or defaults["key"],
        email=names.email,
        first_name=names.first_name,
        last_name=names.last_name,
        department=names.department or defaults["department"],
        title=names.title,
        manager=names.manager,
        member=names.member,
        member_of=names.member_of,
        group_name=names.group_name or "cn",
        disabled_attribute=rule.attribute,
        disabled_values=frozenset(v.strip().lower() for v in rule.values),
        left_values=frozenset(v.strip().lower() for v in rule.left_values),
        identifiers=(
            ("employee id", names.employee_id or defaults["employee_id"]),
            ("username", names.username or defaults["username"]),
            *((("login", "userPrincipalName"),) if settings.flavour == "ad" else ()),
        ),
        group_long_name="description" if settings.flavour == "ad" and not names.group_name else "",
    )


class LdapDirectory:
    """A :class:`~connector.directory.DirectorySource` over AD or OpenLDAP."""

    name = "ldap"

    def __init__(
        self,
        settings: LdapSource,
        password: str | None,
        *,
        ca_file: Path | None = None,
        now: Callable[[], datetime] = _now,
    ) -> None:
        if settings.bind_dn and not password:
            raise ConfigError(
                f"directory: no password for {settings.bind_dn}; set "
                "UPSKILL_DIRECTORY__PASSWORD or directory.password_file"
            )
        self.settings = settings
        self.schema = schema_of(settings)
        self._password = password
        self.endpoint = Endpoint(settings.url, settings.start_tls, ca_file, settings.timeout)
        self._now = now
        self.requests = 0  # requests of the last read or check, for the benchmark

    @classmethod
    def from_settings(cls, directory: LdapSource, settings: Settings) -> LdapDirectory:
        password = read_secret(
            directory.password, settings.path_or_none(directory.password_file), "directory.password"
        )
        return cls(directory, password, ca_file=settings.path_or_none(directory.ca_file))

    def __repr__(self) -> str:
        return f"LdapDirectory({self.settings.url!r}, bind_dn={self.settings.bind_dn!r})"

    @property
    def user_filter(self) -> str:
        return self.settings.user_filter or FLAVOUR_DEFAULTS[self.settings.flavour]["user_filter"]

    @property
    def group_filter(self) -> str:
        return self.settings.group_filter or FLAVOUR_DEFAULTS[self.settings.flavour]["group_filter"]

    def check(self) -> str:
        wire = self._connect()
        try:
            for base, what in (
                (self.settings.user_base, "user_base"),
                (self.settings.group_base or self.settings.user_base, "group_base"),
            ):
                if wire.base_entry(base, ["objectClass"]) is None:
                    raise ConfigError(
                        f"directory.{what}: {base} does not exist on {self.endpoint.where}, or "
                        f"{self.settings.bind_dn or 'an anonymous bind'} may not read it"
                    )
            people = sum(
                1
                for _ in wire.search(
                    self.settings.user_base, self.user_filter, ["1.1"], self.settings.page_size
                )
            )
        finally:
            self.requests = wire.requests
            wire.close()
        who = self.settings.bind_dn or "anonymous"
        return (
            f"{self.settings.flavour} directory at {self.endpoint.where} as {who} "
            f"({people} people under {self.settings.user_base})"
        )

    def read(self) -> Snapshot:
        wire = self._connect()
        try:
            return self._read(wire)
        finally:
            self.requests = wire.requests
            wire.close()

    def _connect(self) -> LdapWire:
        return connect(self.endpoint, self.settings.bind_dn, self._password)

    def _read(self, wire: LdapWire) -> Snapshot:
        settings, schema = self.settings, self.schema
        taken_at = self._now()
        group_base = settings.group_base or settings.user_base
        groups = list(
            wire.search(
                group_base,
                self.group_filter,
                schema.group_attributes(),
                settings.page_size,
                range_size=self._range_size(),
            )
        )
        user_filter = self.user_filter
        only_members_of: str | None = None
        if settings.people_in_group:
            group_dn = self._group_dn(wire, group_base)
            if schema.ad:
                chain = f"(memberOf:{IN_CHAIN}:={filter_value(group_dn)})"
                user_filter = f"(&{_wrapped(user_filter)}{chain})"
            else:
                only_members_of = settings.people_in_group
        people = list(
            wire.search(
                settings.user_base, user_filter, schema.person_attributes(), settings.page_size
            )
        )
        return build_snapshot(
            f"ldap:{self.endpoint.where}",
            taken_at,
            people,
            groups,
            schema,
            only_members_of=only_members_of,
        )

    def _range_size(self) -> int | None:
        return self.settings.range_size if self.schema.ad else None

    def _group_dn(self, wire: LdapWire, base: str) -> str:
        name = self.settings.people_in_group
        search_filter = (
            f"(&{_wrapped(self.group_filter)}({self.schema.group_name}={filter_value(name)}))"
        )
        found = [e.dn for e in wire.search(base, search_filter, ["1.1"], self.settings.page_size)]
        if len(found) != 1:
            how = "no group" if not found else f"{len(found)} groups"
            raise ConfigError(
                f"directory.people_in_group: {how} named {name!r} under {base} "
                f"({self.schema.group_name}={name}); check the name and group_base"
            )
        return found[0]


def _wrapped(search_filter: str) -> str:
    text = search_filter.strip()
    return text if text.startswith("(") else f"({text})"
