"""The LDAP reader against a real OpenLDAP server: paging and limits, escaping, TLS, failures."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from connector.errors import (
    AuthenticationError,
    ConfigError,
    UnavailableError,
)
from connector.report.reasons import reason_class
from tests.contract import org
from tests.servers import slapd as s
from tests.servers.support import Entry, free_port


def test_paged_read_goes_beyond_the_size_limit_in_the_fewest_pages(slapd: s.Slapd) -> None:
    reader = slapd.reader(user_base=s.BULK_BASE, page_size=500)
    snapshot = reader.read()
    assert len(snapshot) == s.BULK_PEOPLE > s.SIZE_LIMIT
    assert {p.email for p in snapshot.people.values()} == {
        f"bulk.{i:05d}@example.org" for i in range(s.BULK_PEOPLE)
    }
    # bind, one page of groups, ceil(1200 / 500) = 3 pages of people
    assert reader.requests == 1 + 1 + 3


def test_a_manager_outside_the_read_scope_is_kept_unknown_and_reported(slapd: s.Slapd) -> None:
    snapshot = slapd.reader(user_base=s.BULK_BASE, page_size=500).read()
    problems = [p for p in snapshot.problems if p.field == "manager"]
    assert len(problems) == 1 and s.OUTSIDE_MANAGER in problems[0].message
    person = snapshot.people[problems[0].record_key or ""]
    assert person.email == "bulk.00000@example.org" and person.manager_key is None


def test_a_read_cut_by_the_size_limit_is_an_outage_not_a_partial_snapshot(
    slapd: s.Slapd,
) -> None:
    reader = slapd.reader(
        password=s.CAPPED_PASSWORD, bind_dn=s.CAPPED_DN, user_base=s.BULK_BASE, page_size=200
    )
    with pytest.raises(UnavailableError) as caught:
        reader.read()
    message = str(caught.value)
    assert message.startswith("the read of the LDAP directory at 127.0.0.1:")
    assert " was incomplete: " in message and "size limit" in message
    assert "; nothing was changed" in message


def test_key_attribute_is_configurable(slapd: s.Slapd) -> None:
    snapshot = slapd.reader(attributes={"key": "employeeNumber"}).read()
    assert set(snapshot.people) == {p.key for p in org.readable(include_left=False)}
    assert snapshot.people["E007"].manager_key == "E005"


def test_escaped_values_find_the_group_with_metacharacters(slapd: s.Slapd) -> None:
    """``Smith (Contractor)*`` sits beside ``Smith (Contractor) Alumni``, which an unescaped
    ``*`` would also match."""
    reader = slapd.reader(group_base=s.ALL_GROUPS_BASE, people_in_group=org.SMITH)
    people = reader.read().people
    assert {slapd.key_of[k] for k in ("E005", "E007")} == set(people)


def test_a_group_name_with_backslash_comma_and_plus(slapd: s.Slapd) -> None:
    reader = slapd.reader(group_base=s.ALL_GROUPS_BASE, people_in_group=s.AWKWARD)
    snapshot = reader.read()
    assert set(snapshot.people) == {slapd.key_of["E002"]}
    assert s.AWKWARD in snapshot.people[slapd.key_of["E002"]].groups


def test_a_group_filter_with_escaped_metacharacters(slapd: s.Slapd) -> None:
    wanted = r"(&(objectClass=groupOfNames)(cn=Smith \28Contractor\29\2a))"
    snapshot = slapd.reader(group_base=s.ALL_GROUPS_BASE, group_filter=wanted).read()
    assert set(snapshot.groups) == {org.SMITH}
    assert snapshot.people[slapd.key_of["E005"]].groups == {org.SMITH}


def test_an_unknown_people_in_group_is_a_configuration_error(slapd: s.Slapd) -> None:
    with pytest.raises(ConfigError, match=r"no group named 'Smith \(Contractor\)\?'"):
        slapd.reader(people_in_group="Smith (Contractor)?").read()


def test_an_invalid_filter_is_a_configuration_error(slapd: s.Slapd) -> None:
    with pytest.raises(ConfigError, match="invalid LDAP filter"):
        slapd.reader(user_filter="(objectClass=inetOrgPerson").read()


def test_check_names_a_base_that_does_not_exist(slapd: s.Slapd) -> None:
    with pytest.raises(ConfigError, match=r"directory\.user_base: ou=nobody"):
        slapd.reader(user_base=f"ou=nobody,{s.SUFFIX}").check()


def test_a_referral_instead_of_the_entries_is_an_incomplete_read(slapd: s.Slapd) -> None:
    with pytest.raises(UnavailableError, match=r"incomplete: the server sent a referral"):
        slapd.reader(user_base=s.MOVED_BASE).read()


def test_a_subtree_referred_to_another_server_is_an_incomplete_read(slapd: s.Slapd) -> None:
    with pytest.raises(UnavailableError, match=r"referred part of ou=outside") as caught:
        slapd.reader(user_base=s.OUTSIDE_BASE).read()
    assert "elsewhere.example.org" in str(caught.value)


# -- TLS ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["ldaps", "start_tls"])
def test_tls_is_refused_when_the_certificate_is_not_trusted(slapd: s.Slapd, how: str) -> None:
    url = slapd.ldaps_url if how == "ldaps" else slapd.url
    for ca_file in (None, slapd.certificates["other_ca"]):
        reader = slapd.reader(url=url, start_tls=how == "start_tls", ca_file=ca_file)
        with pytest.raises(UnavailableError, match=r"certificate .* is not trusted") as caught:
            reader.read()
        assert "directory.ca_file" in str(caught.value)


@pytest.mark.parametrize("how", ["ldaps", "start_tls"])
def test_tls_succeeds_with_the_configured_ca(slapd: s.Slapd, how: str) -> None:
    url = slapd.ldaps_url if how == "ldaps" else slapd.url
    reader = slapd.reader(url=url, start_tls=how == "start_tls", ca_file=slapd.certificates["ca"])
    assert set(reader.read().people) == {
        slapd.key_of[p.key] for p in org.readable(include_left=False)
    }


# -- failures -----------------------------------------------------------------------------------


def test_a_wrong_password_names_the_bind_dn_but_never_the_password(slapd: s.Slapd) -> None:
    wrong = "Wrong-Password-123"
    with pytest.raises(AuthenticationError) as caught:
        slapd.reader(password=wrong).read()
    text = f"{caught.value} {caught.value.detail}"
    assert s.READER_DN in text and "invalid credentials" in text
    assert wrong not in text and s.READER_PASSWORD not in text


def test_an_unreachable_server_names_host_and_port() -> None:
    port = free_port()  # nothing listens there
    from connector.config import LdapSource
    from connector.directory.ldap import LdapDirectory

    settings = LdapSource(
        type="ldap",
        url=f"ldap://127.0.0.1:{port}",
        bind_dn=s.READER_DN,
        user_base=s.PEOPLE_BASE,
        timeout=2,
    )
    with pytest.raises(UnavailableError, match=f"127.0.0.1:{port}"):
        LdapDirectory(settings, "x").read()


class CuttingProxy:
    """A TCP relay to the server that drops the connection after ``cut_after`` bytes of
    answers: the server going away in the middle of a read."""

    def __init__(self, port: int, cut_after: int) -> None:
        self.target = port
        self.cut_after = cut_after
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.relayed = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        upstream = socket.create_connection(("127.0.0.1", self.target))
        threading.Thread(target=self._pump, args=(client, upstream, None), daemon=True).start()
        self._pump(upstream, client, self.cut_after)

    def _pump(self, src: socket.socket, dst: socket.socket, limit: int | None) -> None:
        try:
            while chunk := src.recv(4096):
                if limit is not None and self.relayed + len(chunk) > limit:
                    break
                dst.sendall(chunk)
                if limit is not None:
                    self.relayed += len(chunk)
        except OSError:
            pass
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def cutting_proxy(slapd: s.Slapd) -> Iterator[Callable[[int], CuttingProxy]]:
    made: list[CuttingProxy] = []

    def make(cut_after: int) -> CuttingProxy:
        proxy = CuttingProxy(slapd.port, cut_after)
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        proxy.close()


def test_a_connection_lost_mid_read_is_an_outage_not_a_partial_snapshot(
    slapd: s.Slapd, cutting_proxy: Callable[[int], CuttingProxy]
) -> None:
    proxy = cutting_proxy(60_000)  # the 1,200 people are about 400 kB of answers
    reader = slapd.reader(
        url=f"ldap://127.0.0.1:{proxy.port}", user_base=s.BULK_BASE, page_size=100
    )
    with pytest.raises(UnavailableError) as caught:
        reader.read()
    assert "was incomplete: the connection to 127.0.0.1:" in str(caught.value)
    assert str(caught.value).startswith("the read of the LDAP directory at 127.0.0.1:")
    assert 0 < proxy.relayed <= 60_000
    assert reader.requests > 2  # it was cut after some pages, not at the bind


def test_a_server_stopped_before_the_read_is_unavailable(
    slapd_factory: Callable[[list[Entry]], s.Slapd],
) -> None:
    server = slapd_factory(s.bulk_entries(10, s.PEOPLE_BASE))
    reader = server.reader()
    assert len(reader.read()) == 10
    s.stop(server.process)
    with pytest.raises(UnavailableError, match=f"127.0.0.1:{server.port}"):
        reader.read()


def test_unusable_entries_are_set_aside_by_reason_on_openldap(
    slapd_factory: Callable[[list[Entry]], s.Slapd],
) -> None:
    """Every unusable kind on a real server: no usable key (kept under its DN), no e-mail,
    not an e-mail address, another person's e-mail in other case; the others are read."""
    def entry(cn: str, **values: str) -> Entry:
        return (f"cn={cn},{s.PEOPLE_BASE}", {"objectClass": "inetOrgPerson", "cn": cn,
                                             "sn": cn, **values})

    boss = f"cn=Boss,{s.PEOPLE_BASE}"
    server = slapd_factory([
        entry("Boss", employeeNumber="E1", mail="boss@example.org"),
        entry("Keyless", mail="keyless@example.org", manager=boss, title="Analyst"),
        entry("Mailless", employeeNumber="E3", manager=boss),
        entry("Broken", employeeNumber="E4", mail="broken.example.org"),
        entry("Upper", employeeNumber="E5", mail="BOSS@example.org"),
        entry("Fine", employeeNumber="E6", mail="fine@example.org", manager=boss),
    ])
    snapshot = server.reader(attributes={"key": "employeeNumber"}).read()
    assert set(snapshot.people) == {"E1", "E6"}
    keyless = f"cn=Keyless,{s.PEOPLE_BASE}"
    assert {k: why for k, (_, why) in snapshot.unusable.items()} == {
        keyless: "no usable id", "E3": "no e-mail address", "E4": "not an e-mail address",
        "E5": "e-mail address of another person"}
    person = snapshot.unusable[keyless][0]
    assert (person.title, person.manager_key, person.email) == ("Analyst", "E1", "")
    assert snapshot.people["E6"].manager_key == "E1"
    classes = sorted(reason_class(p) for p in snapshot.problems if "skipped" in p.message)
    assert classes == sorted(["no usable id", "no e-mail address", "not an e-mail address",
                              "e-mail address of another person"])
