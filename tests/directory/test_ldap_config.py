"""The ``type = "ldap"`` configuration: TOML and environment, secrets, the registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.config import load_settings
from connector.configcheck import check_settings
from connector.directory.ldap import LdapDirectory
from connector.errors import ConfigError
from connector.registry import build_source

TOML = """
[directory]
type = "ldap"
flavour = "ad"
url = "ldaps://dc1.example.org"
ca_file = "certs/ca.pem"
bind_dn = "CN=upskill-reader,CN=Users,DC=example,DC=org"
password_file = "secrets/ldap-password"
user_base = "OU=People,DC=example,DC=org"
people_in_group = "Smith (Contractor)*"

[directory.attributes]
member_of = "memberOf"
"""


def write(tmp_path: Path, text: str = TOML) -> Path:
    config = tmp_path / "upskill.toml"
    config.write_text(text, encoding="utf-8")
    return config


def test_an_ldap_directory_is_built_from_the_file(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "ldap-password").write_text("S3cret-from-file\n")
    settings = load_settings(write(tmp_path))
    source = build_source(settings)
    assert isinstance(source, LdapDirectory)
    assert source.endpoint.where == "dc1.example.org:636"
    assert source.endpoint.ca_file == tmp_path / "certs" / "ca.pem"
    assert source.schema.key == "objectGUID" and source.schema.member_of == "memberOf"
    assert source._password == "S3cret-from-file"
    assert "S3cret" not in repr(source) and "S3cret" not in repr(settings)
    problems, _ = check_settings(settings)
    assert not any("directory.path" in p for p in problems)


def test_a_missing_password_is_a_configuration_error(tmp_path: Path) -> None:
    settings = load_settings(
        write(tmp_path, TOML.replace('password_file = "secrets/ldap-password"\n', ""))
    )
    with pytest.raises(ConfigError, match="no password for CN=upskill-reader"):
        build_source(settings)


def test_the_password_may_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPSKILL_DIRECTORY__PASSWORD", "S3cret-from-env")
    settings = load_settings(
        write(tmp_path, TOML.replace('password_file = "secrets/ldap-password"\n', ""))
    )
    source = build_source(settings)
    assert isinstance(source, LdapDirectory) and source._password == "S3cret-from-env"


def test_bad_ldap_settings_are_reported_by_field(tmp_path: Path) -> None:
    text = TOML.replace("ldaps://dc1.example.org", "https://dc1.example.org").replace(
        'flavour = "ad"', 'flavour = "novell"'
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    message = str(caught.value)
    assert "directory.url" in message and "directory.flavour" in message
