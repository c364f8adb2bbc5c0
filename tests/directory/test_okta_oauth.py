"""The Okta reader as an OAuth 2.0 service app (client credentials, ``private_key_jwt``) against
the Okta double, which verifies every client assertion with the registered public key."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests

from connector.cli import main
from connector.config import OktaSource, load_settings
from connector.directory.okta import DPOP_SETTING, OktaDirectory, load_signing_key
from connector.errors import AccessDenied, AuthenticationError, ConfigError
from connector.model import Snapshot
from connector.registry import build_source
from tests.doubles.okta import (
    ASSERTION_TYPE,
    CLIENT_ID,
    TOKEN_PATH,
    OktaDouble,
    ec_key,
    load_org,
    okta_reader,
    register_app,
    rsa_key,
)

ROOT = Path(__file__).resolve().parents[2]


def _same(a: Snapshot, b: Snapshot) -> None:
    assert a.people == b.people
    assert a.groups == b.groups
    assert [p.message for p in a.problems] == [p.message for p in b.problems]


def _key_lines(pem: str) -> list[str]:
    """The base64 lines of a PEM: the key material no message may show."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def _no_key_in(pem: str, *texts: str | None) -> None:
    joined = "\n".join(t or "" for t in texts)
    for line in _key_lines(pem):
        assert line not in joined


def _bearer_calls(double: OktaDouble) -> list[str]:
    return [c.headers.get("authorization", "") for c in double.calls if c.path != TOKEN_PATH]


# -- reads ---------------------------------------------------------------------------------------


def test_a_full_read_over_oauth_gives_the_snapshot_of_ssws(okta_double: OktaDouble) -> None:
    load_org(okta_double)
    pem = register_app(okta_double)
    over_ssws = okta_reader(okta_double, page_size=2, member_page_size=2).read()
    ssws_calls = len(okta_double.calls)
    okta_double.ssws = False  # from now on the API token is refused
    reader = okta_reader(okta_double, page_size=2, member_page_size=2, private_key=pem)
    over_oauth = reader.read()
    _same(over_ssws, over_oauth)
    assert reader.tokens_fetched == 1  # one token for the whole read
    assert len(okta_double.requests_to(TOKEN_PATH)) == 1
    assert all(h.startswith("Bearer ") for h in _bearer_calls(okta_double)[ssws_calls:])
    assert okta_double.refused == []


def test_an_ec_p256_key_signs_es256(okta_double: OktaDouble) -> None:
    load_org(okta_double)
    pem = register_app(okta_double, key=ec_key(), key_id="ec-key-1")
    reader = okta_reader(okta_double, private_key=pem, key_id="ec-key-1")
    assert len(reader.read()) == 9
    assertion = okta_double.requests_to(TOKEN_PATH)
    assert len(assertion) == 1 and okta_double.refused == []


def test_the_client_assertion_has_the_claims_okta_asks_for(okta_double: OktaDouble) -> None:
    pem, public = rsa_key()
    register_app(okta_double, key=(pem, public), key_id="kid-7")
    reader = okta_reader(okta_double, private_key=pem, key_id="kid-7")
    sent: dict[str, Any] = {}
    original = reader.login.post_form

    def spy(url: str, what: str, fields: dict[str, str]) -> Any:
        sent.update(fields, url=url)
        return original(url, what, fields)

    reader.login.post_form = spy  # type: ignore[method-assign]
    reader.access_token()
    assert sent["url"] == okta_double.url + TOKEN_PATH
    assert sent["grant_type"] == "client_credentials"
    assert sent["scope"] == "okta.users.read okta.groups.read"
    assert sent["client_assertion_type"] == ASSERTION_TYPE
    header = jwt.get_unverified_header(sent["client_assertion"])
    assert header["alg"] == "RS256" and header["kid"] == "kid-7"
    claims = jwt.decode(sent["client_assertion"], public, algorithms=["RS256"],
                        audience=okta_double.url + TOKEN_PATH)
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert 0 < claims["exp"] - claims["iat"] <= 3600 and claims["jti"]


def test_the_token_is_reused_until_shortly_before_it_expires(okta_double: OktaDouble) -> None:
    load_org(okta_double)
    pem = register_app(okta_double)  # tokens of 3600 s
    now = [1000.0]
    reader = okta_reader(okta_double, page_size=2, private_key=pem, clock=lambda: now[0])
    reader.read()
    assert reader.tokens_fetched == 1
    now[0] += 3000.0  # still 600 s to go: more than the margin
    reader.check()
    assert reader.tokens_fetched == 1
    now[0] += 400.0  # 200 s to go: renewed before Okta would refuse it
    reader.check()
    assert reader.tokens_fetched == 2
    assert len(okta_double.requests_to(TOKEN_PATH)) == 2
    assert okta_double.refused == []


def test_every_access_token_fetched_is_masked_in_messages(okta_double: OktaDouble) -> None:
    load_org(okta_double)
    pem = register_app(okta_double)
    now = [1000.0]
    reader = okta_reader(okta_double, page_size=2, private_key=pem, clock=lambda: now[0])
    first = reader.access_token()
    now[0] += 3500.0
    second = reader.access_token()
    assert first != second
    for client in (reader.api, reader.login):
        assert client.redact(f"echoed {first} and {second}") == "echoed *** and ***"


def test_a_token_expiring_mid_read_is_renewed_and_the_read_completes(
    okta_double: OktaDouble,
) -> None:
    load_org(okta_double)
    pem = register_app(okta_double)
    whole = okta_reader(okta_double, page_size=2, member_page_size=2, private_key=pem).read()
    okta_double.token_max_uses = 4  # each token now dies after four calls
    reader = okta_reader(okta_double, page_size=2, member_page_size=2, private_key=pem)
    _same(whole, reader.read())
    assert reader.tokens_fetched >= 3


def test_a_token_that_expires_by_the_clock_is_renewed_on_the_401(okta_double: OktaDouble) -> None:
    load_org(okta_double)
    pem = register_app(okta_double)
    reader = okta_reader(okta_double, page_size=2, private_key=pem)
    reader.check()
    okta_double.expire_tokens()  # Okta's clock says expired; ours does not know yet
    assert len(reader.read()) == 9
    assert reader.tokens_fetched == 2


def test_a_token_refused_again_after_renewal_is_an_authentication_error(
    okta_double: OktaDouble,
) -> None:
    load_org(okta_double)
    pem = register_app(okta_double)
    okta_double.token_max_uses = 0  # revoked at once, every time
    reader = okta_reader(okta_double, private_key=pem)
    with pytest.raises(AuthenticationError, match=r"directory\.client_id"):
        reader.read()
    assert reader.tokens_fetched == 2  # one renewal, not a loop


# -- refusals ------------------------------------------------------------------------------------


def test_a_wrong_key_names_client_id_and_key_and_never_shows_the_key(
    okta_double: OktaDouble, caplog: pytest.LogCaptureFixture,
) -> None:
    register_app(okta_double)
    wrong, _ = rsa_key()
    caplog.set_level(logging.DEBUG)
    reader = okta_reader(okta_double, private_key=wrong)
    with pytest.raises(AuthenticationError) as caught:
        reader.check()
    message = caught.value.message
    assert "invalid_client" in message and "signature is invalid" in message
    assert f"directory.client_id ({CLIENT_ID})" in message and "private_key" in message
    assert "registered" in message
    _no_key_in(wrong, message, caught.value.detail, caplog.text, repr(reader.settings),
               repr(reader._key))


def test_a_missing_scope_names_the_scopes(okta_double: OktaDouble) -> None:
    pem = register_app(okta_double, granted=("okta.users.read",))
    with pytest.raises(AccessDenied) as caught:
        okta_reader(okta_double, private_key=pem).check()
    assert "okta.users.read" in caught.value.message
    assert "okta.groups.read" in caught.value.message
    assert "Okta API Scopes" in caught.value.message


def test_a_token_without_the_groups_scope_is_refused_at_the_groups(
    okta_double: OktaDouble,
) -> None:
    pem = register_app(okta_double)
    reader = okta_reader(okta_double, private_key=pem, scopes=["okta.users.read"])
    with pytest.raises(AccessDenied, match=r"okta\.groups\.read"):
        reader.check()


def test_an_app_requiring_dpop_gets_dpop_bound_tokens_and_reads_the_same(
    okta_double: OktaDouble,
) -> None:
    load_org(okta_double)
    over_ssws = okta_reader(okta_double, page_size=2, member_page_size=2).read()
    first = len(okta_double.calls)
    pem = register_app(okta_double, dpop=True)  # the default of new API Services apps
    okta_double.dpop_nonce = "nonce-of-the-token-endpoint"
    okta_double.ssws = False
    reader = okta_reader(okta_double, page_size=2, member_page_size=2, private_key=pem)
    _same(over_ssws, reader.read())
    assert reader.dpop and reader.tokens_fetched == 1
    assert okta_double.refused == [
        "invalid_dpop_proof: The DPoP proof JWT header is missing.",
        "use_dpop_nonce: Authorization server requires nonce in DPoP proof."]
    api = [c for c in okta_double.calls[first:] if c.path != TOKEN_PATH]
    assert api and all(c.headers["authorization"].startswith("DPoP ") and c.headers["dpop"]
                       for c in api)
    assert len({c.headers["dpop"] for c in api}) == len(api)  # a proof per request


def test_the_apis_own_dpop_nonce_and_a_token_expiring_mid_read(okta_double: OktaDouble) -> None:
    load_org(okta_double)
    pem = register_app(okta_double, dpop=True)
    okta_double.api_dpop_nonce = "nonce-of-the-api"
    reader = okta_reader(okta_double, page_size=2, member_page_size=2, private_key=pem)
    assert len(reader.read()) == 9
    assert reader.tokens_fetched == 1  # the nonce is met with the same token
    okta_double.expire_tokens()
    okta_double.token_max_uses = 5  # and each new one dies after five calls
    okta_double.api_dpop_nonce = "a-newer-nonce"
    assert len(reader.read()) == 9
    assert reader.tokens_fetched >= 3


def test_a_dpop_proof_okta_refuses_names_the_setting_to_clear(
    okta_double: OktaDouble, monkeypatch: pytest.MonkeyPatch,
) -> None:
    pem = register_app(okta_double, dpop=True)
    reader = okta_reader(okta_double, private_key=pem)
    proof = reader._proof
    monkeypatch.setattr(reader, "_proof", lambda method, url, token=None: proof(
        method, "https://elsewhere.example/token", token))
    with pytest.raises(AuthenticationError) as caught:
        reader.check()
    assert DPOP_SETTING in caught.value.message and "htu" in caught.value.message


def test_an_unknown_client_id_is_an_authentication_error(okta_double: OktaDouble) -> None:
    pem = register_app(okta_double)
    with pytest.raises(AuthenticationError, match=r"directory\.client_id \(0oaSomeoneElse\)"):
        okta_reader(okta_double, private_key=pem, client_id="0oaSomeoneElse").check()


# -- the double is as strict as Okta ------------------------------------------------------------


def _post(double: OktaDouble, assertion: str) -> requests.Response:
    return requests.post(double.url + TOKEN_PATH, timeout=5, data={
        "grant_type": "client_credentials", "scope": "okta.users.read",
        "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion})


def _assertion(double: OktaDouble, pem: str, **claims: Any) -> str:
    now = int(time.time())
    base = {"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": double.url + TOKEN_PATH, "iat": now,
            "exp": now + 300, "jti": "jti-1"}
    key = load_signing_key(pem).key
    return jwt.encode({k: v for k, v in {**base, **claims}.items() if v is not None}, key,
                      algorithm="RS256")


def test_the_double_refuses_a_reused_jti_a_wrong_aud_and_a_far_exp(
    okta_double: OktaDouble,
) -> None:
    pem = register_app(okta_double)
    assert _post(okta_double, _assertion(okta_double, pem)).status_code == 200
    again = _post(okta_double, _assertion(okta_double, pem))
    assert again.status_code == 401 and "already been used" in again.json()["error_description"]
    aud = _post(okta_double, _assertion(okta_double, pem, jti="2", aud="https://x/token"))
    assert aud.status_code == 401 and "audience" in aud.json()["error_description"]
    far = _post(okta_double, _assertion(okta_double, pem, jti="3",
                                        exp=int(time.time()) + 7200))
    assert far.status_code == 401 and "too far" in far.json()["error_description"]
    late = _post(okta_double, _assertion(okta_double, pem, jti="4", exp=int(time.time()) - 60))
    assert late.status_code == 401 and "expired" in late.json()["error_description"]
    no_jti = _post(okta_double, _assertion(okta_double, pem, jti=None))
    assert no_jti.status_code == 401
    bearer = okta_double.issued
    assert len(bearer) == 1  # only the first assertion earned a token


# -- the key and the configuration ---------------------------------------------------------------


def test_the_key_may_be_a_jwk_and_its_kid_is_used() -> None:
    pem, _ = rsa_key()
    key = load_signing_key(pem).key
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key))
    signing = load_signing_key(json.dumps({**jwk, "kid": "from-okta"}))
    assert signing.algorithm == "RS256" and signing.key_id == "from-okta"
    assert "from-okta" in repr(signing) and jwk["d"] not in repr(signing)


@pytest.mark.parametrize("material, why", [
    ("not a key at all", "not a PEM private key"),
    ("-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----", "public key"),
    ('{"kty": "oct", "k": "c2VjcmV0"}', "neither an RSA nor an EC"),
])
def test_a_key_that_is_not_a_usable_private_key_is_a_config_error(material: str,
                                                                  why: str) -> None:
    with pytest.raises(ConfigError, match=r"directory\.private_key") as caught:
        load_signing_key(material)
    assert why in caught.value.message and material not in caught.value.message


def test_a_short_rsa_key_is_refused() -> None:
    pem, _ = rsa_key(1024)
    with pytest.raises(ConfigError, match="1024 bits"):
        load_signing_key(pem)


def _okta_settings(tmp_path: Path, extra: str) -> Any:
    config = tmp_path / "upskill.toml"
    config.write_text('[directory]\ntype = "okta"\nurl = "https://acme.okta.com"\n' + extra,
                      encoding="utf-8")
    return load_settings(config)


def test_an_unreadable_key_file_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    settings = _okta_settings(tmp_path, 'auth = "oauth"\nclient_id = "0oa1"\n'
                                        'private_key_file = "keys/missing.pem"\n')
    with pytest.raises(ConfigError) as caught:
        build_source(settings)
    assert "directory.private_key" in caught.value.message
    assert str(tmp_path / "keys" / "missing.pem") in caught.value.message


def test_the_key_is_read_from_the_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    pem, _ = rsa_key()
    (tmp_path / "okta.pem").write_text(pem, encoding="utf-8")
    settings = _okta_settings(tmp_path, 'auth = "oauth"\nclient_id = "0oa1"\n'
                                        'private_key_file = "okta.pem"\n')
    assert isinstance(build_source(settings), OktaDirectory)
    monkeypatch.setenv("UPSKILL_DIRECTORY__PRIVATE_KEY", pem.replace("\n", "\\n"))
    settings = _okta_settings(tmp_path, 'auth = "oauth"\nclient_id = "0oa1"\n')
    assert build_source(settings).oauth
    with pytest.raises(ConfigError, match="UPSKILL_DIRECTORY__PRIVATE_KEY"):
        OktaDirectory(OktaSource(type="okta", url="https://acme.okta.com", auth="oauth",
                                 client_id="0oa1"))


@pytest.mark.parametrize("extra, names", [
    ('auth = "oauth"\n', ["directory.auth", "client_id", "Client ID"]),
    ('client_id = "0oa1"\n', ["directory.auth", "client_id", 'auth = \\"oauth\\"']),
    ('auth = "oauth"\nclient_id = "0oa1"\ntoken_file = "t"\n', ["token / token_file"]),
    ('auth = "oauth"\nclient_id = "0oa1"\nprivate_key_file = "k"\n', ["not both"]),
    ('auth = "saml"\n', ["directory.auth", "'ssws' or 'oauth'"]),
    ('auth = "oauth"\nclient_id = "0oa1"\nscopes = []\n', ["directory.scopes"]),
])
def test_configuration_errors_name_the_field_and_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str, names: list[str],
) -> None:
    pem, _ = rsa_key()
    monkeypatch.setenv("UPSKILL_DIRECTORY__PRIVATE_KEY", pem)
    with pytest.raises(ConfigError) as caught:
        _okta_settings(tmp_path, extra)
    for name in names:
        assert name.replace('\\"', '"') in caught.value.message
    _no_key_in(pem, caught.value.message)


# -- the command line ----------------------------------------------------------------------------


def _cli_config(tmp_path: Path, url: str, extra: str = "") -> Path:
    config = tmp_path / "upskill.toml"
    config.write_text(f"""
[directory]
type = "okta"
url = "{url}"
auth = "oauth"
client_id = "{CLIENT_ID}"
{extra}
[mappings]
path = "{ROOT / 'mappings'}"
""", encoding="utf-8")
    return config


def test_the_cli_reports_a_wrong_key_without_traceback_or_key(
    okta_double: OktaDouble, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    register_app(okta_double)
    wrong, _ = rsa_key()
    monkeypatch.setenv("UPSKILL_DIRECTORY__PRIVATE_KEY", wrong)
    config = _cli_config(tmp_path, okta_double.url)
    assert main(["--config", str(config), "directory", "check"]) == 1
    out, err = capsys.readouterr()
    assert "error: Okta refused the service app's credentials" in err
    assert "Traceback" not in out + err
    _no_key_in(wrong, out, err)


def test_the_cli_reads_over_oauth(
    okta_double: OktaDouble, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    load_org(okta_double)
    pem = register_app(okta_double)
    (tmp_path / "okta.pem").write_text(pem, encoding="utf-8")
    config = _cli_config(tmp_path, okta_double.url, 'private_key_file = "okta.pem"')
    assert main(["--config", str(config), "directory", "check"]) == 0
    assert f"service app {CLIENT_ID}" in capsys.readouterr().out


def test_config_check_masks_the_key_and_checks_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    pem, _ = rsa_key()
    monkeypatch.setenv("UPSKILL_DIRECTORY__PRIVATE_KEY", pem)
    monkeypatch.setenv("UPSKILL_TARGETS__MOODLE__TOKEN", "cli-token-abcdef0123456789")
    config = _cli_config(tmp_path, "https://acme.okta.com")
    main(["--config", str(config), "config", "check", "--show"])
    out, err = capsys.readouterr()
    assert "UPSKILL_DIRECTORY__TOKEN" not in err  # the API token is not asked for
    assert '"private_key": "**********"' in out
    _no_key_in(pem, out, err)
    monkeypatch.setenv("UPSKILL_DIRECTORY__PRIVATE_KEY", "garbage")
    assert main(["--config", str(config), "config", "check"]) == 2
    assert "directory.private_key: not a PEM private key" in capsys.readouterr().err
