"""Settings of the web directory sources: the ``type`` union, secrets, and the registry."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connector.config import load_settings
from connector.directory.graph import GraphDirectory
from connector.directory.hrcsv import CsvDirectory
from connector.directory.okta import OktaDirectory
from connector.directory.scim import ScimDirectory
from connector.errors import ConfigError
from connector.registry import build_source


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("UPSKILL_"):
            monkeypatch.delenv(name)


def _load(tmp: Path, text: str) -> object:
    path = tmp / "upskill.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path)


def test_a_directory_without_type_is_the_hr_export(tmp_path: Path) -> None:
    settings = _load(tmp_path, '[directory]\npath = "org.csv"\n')
    assert isinstance(build_source(settings), CsvDirectory)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "kind"), [
    ('type = "graph"\ntenant_id = "t"\nclient_id = "c"\nclient_secret_file = "s"', GraphDirectory),
    ('type = "okta"\nurl = "https://acme.okta.com"\ntoken_file = "s"', OktaDirectory),
    ('type = "scim"\nurl = "https://idp.example.org/scim/v2"\ntoken_file = "s"', ScimDirectory),
])
def test_each_type_builds_its_reader_with_the_secret_from_a_file(
    tmp_path: Path, text: str, kind: type
) -> None:
    (tmp_path / "s").write_text("the-secret\n", encoding="utf-8")
    settings = _load(tmp_path, f"[directory]\n{text}\n")
    source = build_source(settings)  # type: ignore[arg-type]
    assert isinstance(source, kind)
    assert source.settings.verify_tls is True  # type: ignore[attr-defined]
    assert "the-secret" not in repr(settings)


def test_a_missing_secret_says_which_setting(tmp_path: Path) -> None:
    settings = _load(tmp_path, '[directory]\ntype = "okta"\nurl = "https://acme.okta.com"\n')
    with pytest.raises(ConfigError, match="UPSKILL_DIRECTORY__TOKEN"):
        build_source(settings)  # type: ignore[arg-type]


def test_bad_values_are_named_by_their_file_key_and_secrets_masked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, '[directory]\ntype = "graph"\ntenant_id = "t"\nclient_id = "c"\n'
                        'client_secret = "hunter2"\nclient_secret_file = "s"\n'
                        'graph_url = "graph.microsoft.com"\npage_size = 5000\n')
    text = str(caught.value)
    assert "directory.graph_url" in text and "directory.page_size" in text
    assert "hunter2" not in text
    with pytest.raises(ConfigError, match="'csv', 'ldap', 'graph', 'okta', 'scim'") as caught:
        _load(tmp_path, '[directory]\ntype = "workday"\ntoken = "hunter3"\n')
    assert "hunter3" not in str(caught.value)
