"""No secret leaves: every secret setting through every configuration error path, and every
command of a night run with planted secrets, with all their output and files grepped."""

from __future__ import annotations

import os
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest

from connector.cli import main
from tests.bounded import run_bounded
from tests.report.smtp_server import PASSWORD as SMTP_PASSWORD
from tests.report.smtp_server import USER as SMTP_USER
from tests.report.smtp_server import smtp_server
from tests.servers.moodle import catalogue_sandbox
from tests.servers.support import answer_json, serve_http

ROOT = Path(__file__).resolve().parents[1]
PLANTED = "PLANTED-s3cret-7f3a9c"
BASE = f"""
[mappings]
path = "{ROOT / 'mappings'}"
"""
CSV = f'[directory]\npath = "{ROOT / "examples" / "org.csv"}"\n'


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("UPSKILL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


# (section in the file, the secret's variable, a sibling setting that fails, the section body)
SECRET_FIELDS = [
    ("targets.moodle", "UPSKILL_TARGETS__MOODLE__TOKEN", "token_file", CSV + "[targets.moodle]\n"),
    ("report.smtp", "UPSKILL_REPORT__SMTP__PASSWORD", "password_file",
     CSV + '[report.smtp]\nhost = "127.0.0.1"\nusername = "u"\n'),
    ("progress.xapi", "UPSKILL_PROGRESS__XAPI__PASSWORD", "password_file",
     CSV + '[progress.xapi]\nendpoint = "https://lrs.example.org/xAPI/"\nusername = "u"\n'),
    ("state", "UPSKILL_STATE__URL", "url_file", CSV + "[state]\n"),
    ("directory", "UPSKILL_DIRECTORY__PASSWORD", "password_file",
     '[directory]\ntype = "ldap"\nurl = "ldaps://dc.example.org"\nuser_base = "dc=x"\n'),
    ("directory", "UPSKILL_DIRECTORY__CLIENT_SECRET", "client_secret_file",
     '[directory]\ntype = "graph"\ntenant_id = "t"\nclient_id = "c"\n'),
    ("directory", "UPSKILL_DIRECTORY__TOKEN", "token_file",
     '[directory]\ntype = "okta"\nurl = "https://acme.okta.com"\n'),
    ("directory", "UPSKILL_DIRECTORY__PRIVATE_KEY", "private_key_file",
     '[directory]\ntype = "okta"\nurl = "https://acme.okta.com"\nauth = "oauth"\n'
     'client_id = "c"\n'),
    ("directory", "UPSKILL_DIRECTORY__TOKEN", "token_file",
     '[directory]\ntype = "scim"\nurl = "https://idp.example.org/scim/v2"\n'),
]

ERROR_PATHS = ["both sources", "bad sibling", "unknown sibling", "secret as a table"]
COMMANDS = [["config", "check", "--show"], ["sync"], ["plan"], ["runs"], ["report"]]


def _config(tmp_path: Path, body: str, file_key: str, error: str) -> str:
    text = body
    if error == "both sources":  # the H1 case: the variable and a left-over *_file
        text += f'{file_key} = "f"\n'  # short: a long path pushed the secret past the cut
    elif error == "bad sibling":
        text += "timeout = -1\n" if "directory" in body.split("\n")[0] or "ldap" in body \
            else 'verify_tls = "perhaps"\n'
    elif error == "unknown sibling":
        text += 'colour = "blue"\n'
    elif error == "secret as a table":
        key = file_key.removesuffix("_file")
        text += f'{key} = {{ value = "{PLANTED}" }}\n'
    path = tmp_path / "upskill.toml"
    path.write_text(BASE + text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("error", ERROR_PATHS)
@pytest.mark.parametrize(("section", "variable", "file_key", "body"), SECRET_FIELDS,
                         ids=[f"{s[0]}:{s[2]}" for s in SECRET_FIELDS])
def test_no_configuration_error_quotes_a_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    section: str, variable: str, file_key: str, body: str, error: str,
) -> None:
    secret = f"postgresql://u:{PLANTED}@127.0.0.1:1/db" if section == "state" else PLANTED
    if error != "secret as a table":  # there, the file's value is the secret
        monkeypatch.setenv(variable, secret)
    config = _config(tmp_path, body, file_key, error)
    for command in COMMANDS:
        code = main(["--config", config, *command])
        out = capsys.readouterr()
        assert code == 2, (command, out.err)
        assert PLANTED not in out.out + out.err, (command, out.err)
        assert "Traceback" not in out.err


@pytest.mark.parametrize(
    ("body", "refused"),
    [
        ('[targets.moodle]\nurl = "http://moodle.example.org"\n', "moodle.example.org"),
        ('[targets.moodle]\nurl = "http://127.attacker.example"\n', "127.attacker.example"),
        ('[targets.moodle]\nurl = "http://10.1.2.3:8080"\n', "10.1.2.3"),
        ('[progress.xapi]\nendpoint = "http://lrs.example.org/xAPI"\n', "lrs.example.org"),
        ('[report.smtp]\nhost = "mail.example.org"\nsecurity = "none"\n', "mail.example.org"),
        ('[directory]\ntype = "scim"\nurl = "http://idp.example.org/scim"\n', "idp.example.org"),
        ('[directory]\ntype = "ldap"\nurl = "ldap://dc.example.org"\nuser_base = "dc=x"\n'
         'bind_dn = "cn=r"\npassword_file = "pw"\n', "dc.example.org"),
    ],
)
def test_clear_text_to_a_remote_host_is_refused_unless_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    body: str, refused: str,
) -> None:
    monkeypatch.setenv("UPSKILL_TARGETS__MOODLE__TOKEN", PLANTED)
    text = BASE + (CSV if "[directory]" not in body else "") + body
    path = tmp_path / "upskill.toml"
    path.write_text(text, encoding="utf-8")
    for command in (["config", "check"], ["sync"]):
        assert main(["--config", str(path), *command]) == 2
        err = capsys.readouterr().err
        assert f"{refused} is not this machine" in err and "allow_plaintext = true" in err
        assert PLANTED not in err
    path.write_text(text + "allow_plaintext = true\n", encoding="utf-8")
    main(["--config", str(path), "config", "check"])
    err = capsys.readouterr().err
    assert "warning: " in err and f"in clear to {refused} (allow_plaintext = true)" in err


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "127.0.0.2"])
def test_loopback_is_judged_by_parsed_address(host: str) -> None:
    from connector.transport import is_plaintext_remote

    assert not is_plaintext_remote(f"http://{host}:8080/x")
    if not host.startswith("["):
        assert is_plaintext_remote(f"http://{host}.attacker.example/x")
    assert is_plaintext_remote(f"http://user@evil.example/?{host}")


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        type(self).seen.append(self.path)
        answer_json(self, b"{}")

    do_GET = do_POST

    def log_message(self, *args: object) -> None:
        pass


class _Redirector(BaseHTTPRequestHandler):
    to = ""

    def do_POST(self) -> None:
        self.send_response(307)  # a 307 keeps the method and the query: the token would follow
        self.send_header("Location", self.to + self.path)
        self.end_headers()

    do_GET = do_POST

    def log_message(self, *args: object) -> None:
        pass




def test_a_redirect_is_an_error_naming_the_location_and_the_token_never_follows() -> None:
    from connector.errors import ProtocolError
    from connector.lms.moodle.client import MoodleClient

    _Recorder.seen = []
    with serve_http(_Recorder) as other:
        _Redirector.to = f"http://127.0.0.1:{other.server_address[1]}"
        with serve_http(_Redirector) as site:
            client = MoodleClient(f"http://127.0.0.1:{site.server_address[1]}", PLANTED,
                                  timeout=5, verify=True, retries=0)
            with pytest.raises(ProtocolError) as caught:
                client.call("core_webservice_get_site_info")
    assert _Recorder.seen == []  # the other host never saw a request, so never the token
    message = caught.value.message
    assert "redirected" in message and _Redirector.to in message and PLANTED not in message
    assert PLANTED not in (caught.value.detail or "")


def test_a_directory_redirect_is_not_followed_with_the_credentials() -> None:
    import requests

    from connector.directory.http import JsonClient, RetryPolicy, Wording
    from connector.errors import ProtocolError

    _Recorder.seen = []
    with serve_http(_Recorder) as other:
        _Redirector.to = f"http://127.0.0.1:{other.server_address[1]}"
        with serve_http(_Redirector) as site:
            client = JsonClient(
                Wording("SCIM at test", "directory.token", "-", "directory.url"),
                session=requests.Session(), timeout=5, verify=True,
                policy=RetryPolicy("SCIM", retries=0, max_wait=1),
                headers=lambda: {"Authorization": f"Bearer {PLANTED}"}, secrets=[PLANTED],
            )
            with pytest.raises(ProtocolError, match="redirected"):
                client.get(f"http://127.0.0.1:{site.server_address[1]}/Users", "the users")
    assert _Recorder.seen == []


def test_every_command_of_a_night_leaks_no_planted_secret(tmp_path: Path) -> None:
    """The token, the SMTP password and the state URL's password are planted; every command
    runs at DEBUG with its output kept, then all of it and every file the run wrote (state
    database, reports, .eml, admin summary) is grepped. Only the secret files themselves may
    hold them."""
    token = f"tok-{PLANTED}"
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "smtp").write_text(SMTP_PASSWORD, encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    with catalogue_sandbox(token) as sandbox, smtp_server(tmp_path, auth=True) as smtp:
        config = work / "upskill.toml"
        config.write_text(
            CSV + BASE + f'[targets.moodle]\nurl = "{sandbox.url}"\n'
            f'[report]\nout_dir = "{work / "reports"}"\nadmin_dir = "{work / "admin"}"\n'
            f'admins = ["admin@example.org"]\nsender = "Upskill <upskill@example.org>"\n'
            f'[report.smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\nsecurity = "none"\n'
            f'username = "{SMTP_USER}"\npassword_file = "{secrets_dir / "smtp"}"\n'
            f'[state]\nurl = "sqlite:///{work / "state.db"}"\n',
            encoding="utf-8",
        )
        env = {"UPSKILL_TARGETS__MOODLE__TOKEN": token}
        outputs = []
        for command in (
            ["config", "check", "--show"], ["target", "check", "moodle"], ["plan", "-v"],
            ["sync", "-v"], ["sync", "--reconcile"], ["runs"], ["runs", "--show", "2"],
            ["report", "--send", "--period", "2026-W49"], ["report", "--out",
                                                            str(work / "out")],
            ["explain", "E10001"], ["collect"],
        ):
            done = run_bounded(["--config", str(config), "--log-level", "DEBUG", *command],
                               cwd=work, env=env, cpu_seconds=120)
            outputs.append(done.stdout + done.stderr)
            assert "Traceback" not in done.stderr, (command, done.stderr[-1500:])
            assert done.returncode == 0, (command, done.stderr[-1500:])
        mail = b"".join(m.raw for m in smtp.inbox.received)
    assert smtp.inbox.logins  # the password was used, so it was there to leak
    assert smtp.inbox.received
    planted = [token, SMTP_PASSWORD, PLANTED]
    for text in outputs:
        for secret in planted:
            assert secret not in text, text[-1500:]
    written = [p for p in work.rglob("*") if p.is_file()]
    assert any(p.suffix == ".db" for p in written) and any(p.suffix == ".html" for p in written)
    for path in written:
        data = path.read_bytes()
        for secret in planted:
            assert secret.encode() not in data, path
    for secret in planted:
        assert secret.encode() not in mail
