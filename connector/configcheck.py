"""``upskill config check``: the settings are valid, and so is what they point to.

Every problem is collected, none stops the others; secrets are shown as ``**********``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from connector.config import Settings
from connector.errors import UpskillError


def _masked(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return "**********"
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    return str(value) if value is not None and not isinstance(value, bool | int | float) else value


def _source_files(settings: Settings) -> list[str]:
    """The directory source's secrets (inline or ``<name>_file``) and CA file: readable."""
    from connector.config import read_secret

    problems: list[str] = []
    source = settings.directory
    fields = type(source).model_fields
    ca_file = getattr(source, "ca_file", None)
    if isinstance(ca_file, Path) and not settings.path(ca_file).is_file():
        problems.append(f"directory.ca_file: {settings.path(ca_file)} not found")
    unused: set[str] = set()
    if source.type == "okta":  # the API token or the service app's key, as auth says
        unused = {"token"} if source.auth == "oauth" else {"private_key"}
    for name in fields:
        if f"{name}_file" not in fields or name in unused:
            continue
        inline = getattr(source, name)
        if inline is not None and not isinstance(inline, SecretStr):
            continue
        where = f"directory.{name}"
        try:
            path = settings.path_or_none(getattr(source, f"{name}_file"))
            value = read_secret(inline, path, where)
        except UpskillError as exc:
            problems.append(exc.message)
            continue
        if value is None and name != "password":  # an anonymous LDAP bind has no password
            env = "UPSKILL_DIRECTORY__" + name.upper()
            problems.append(f"{where}: not set; set {env} or directory.{name}_file")
        elif value is not None and source.type == "okta" and name == "private_key":
            from connector.directory.okta import load_signing_key

            try:  # the service app's key: one Okta can check a signature with
                load_signing_key(value)
            except UpskillError as exc:
                problems.append(exc.message)
    return problems


def _report_addresses(settings: Settings) -> list[str]:
    """The report's sender, reply-to and admin addresses: each one valid."""
    from connector.report.address import parse_address

    report = settings.report
    named = [("report.sender", report.sender), ("report.reply_to", report.reply_to)]
    named += [(f"report.admins[{i}]", a) for i, a in enumerate(report.admins)]
    problems = []
    for where, value in named:
        if value is None:
            continue
        try:
            parse_address(value)
        except UpskillError as exc:
            problems.append(f"{where}: {exc.message}")
    return problems


def check_settings(settings: Settings) -> tuple[list[str], str]:
    """(problems, a summary of the effective settings with secrets masked)."""
    problems: list[str] = []
    directory = settings.directory
    if directory.type == "csv":
        csv_path = settings.path(directory.path)
        if not csv_path.is_file():
            problems.append(f"directory.path: {csv_path} is not a file; point it at the HR export")
        groups = settings.path_or_none(directory.groups_path)
        if groups is not None and not groups.is_file():
            problems.append(f"directory.groups_path: {groups} is not a file")
    problems.extend(_source_files(settings))
    problems.extend(_report_addresses(settings))
    mappings = settings.path(settings.mappings.path)
    if not mappings.is_dir():
        problems.append(f"mappings.path: {mappings} is not a folder of YAML mappings")
    else:
        from connector.personas.loader import load_mappings

        try:
            load_mappings(mappings)
        except UpskillError as exc:
            problems.append(f"mappings: {exc.message}")
    moodle = settings.targets.moodle
    if moodle.enabled:
        try:
            if not settings.moodle_token():
                problems.append(
                    "targets.moodle: no token; set UPSKILL_TARGETS__MOODLE__TOKEN or "
                    "targets.moodle.token_file"
                )
        except UpskillError as exc:
            problems.append(exc.message)
        problems.extend(
            _remote(settings, "targets.moodle", "url", moodle.url, moodle.ca_file, "the token")
        )
    problems.extend(_skillbuilder_folders(settings))
    xapi = settings.progress.xapi
    if xapi is not None:
        try:
            if xapi.username and not settings.xapi_password():
                problems.append(
                    "progress.xapi: a username without a password; set "
                    "UPSKILL_PROGRESS__XAPI__PASSWORD or progress.xapi.password_file"
                )
        except UpskillError as exc:
            problems.append(exc.message)
        problems.extend(
            _remote(
                settings, "progress.xapi", "endpoint", xapi.endpoint, xapi.ca_file,
                "the LRS credentials",
            )
        )
    try:
        from connector.store.database import parse_url

        parse_url(settings.state_url())
    except UpskillError as exc:
        problems.append(exc.message)
    from connector.worker import schedule_problems

    problems.extend(schedule_problems(settings))
    summary = json.dumps(_masked(settings.model_dump()), indent=2, sort_keys=True)
    return problems, summary


def _skillbuilder_folders(settings: Settings) -> list[str]:
    """The outbox and inbox are folders this user can write (created when missing); the drop
    folder, another process's, must exist already."""
    sb = settings.targets.skillbuilder
    if not sb.enabled:
        return []
    import os

    found: list[str] = []
    for name, value, must_exist in (("outbox", sb.outbox, False), ("inbox", sb.inbox, False),
                                    ("drop_dir", sb.drop_dir, True)):
        if value is None:
            continue
        folder = settings.path(value)
        if folder.exists() and not folder.is_dir():
            found.append(f"targets.skillbuilder.{name}: {folder} is not a folder")
        elif folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
            found.append(f"targets.skillbuilder.{name}: {folder} is not writable by this user")
        elif not folder.exists() and must_exist:
            found.append(f"targets.skillbuilder.{name}: {folder} does not exist; create it (the "
                         "upload job reads from it) or remove drop_dir")
    return found


def _remote(
    settings: Settings, section: str, key: str, url: str, ca_file: Path | None, secret: str
) -> list[str]:
    """Problems of a service the connector sends a secret to: a CA file that is not there.
    (Plain http to a remote host is refused when the settings load, unless allowed:
    :func:`transport_warnings`.)"""
    found = []
    if ca_file is not None and not settings.path(ca_file).is_file():
        found.append(f"{section}.ca_file: {settings.path(ca_file)} not found")
    return found



def transport_warnings(settings: Settings) -> list[str]:
    """One line per connection that ``allow_plaintext = true`` lets travel in clear to a host
    that is not this machine (``config check`` and every run print them)."""
    from connector.transport import (
        is_loopback_host,
        is_plaintext_remote,
        plaintext_warning,
        url_host,
    )

    found = []
    source = settings.directory
    if getattr(source, "allow_plaintext", False):
        for name in ("url", "graph_url", "authority_url"):
            url = getattr(source, name, None)
            if isinstance(url, str) and is_plaintext_remote(url) and not (
                source.type == "ldap" and getattr(source, "start_tls", False)
            ):
                found.append(plaintext_warning(
                    "directory", url_host(url), "the credentials and every person's record"))
    moodle = settings.targets.moodle
    if moodle.enabled and moodle.allow_plaintext and is_plaintext_remote(moodle.url):
        found.append(plaintext_warning(
            "targets.moodle", url_host(moodle.url), "the token and every person's record"))
    xapi = settings.progress.xapi
    if xapi is not None and xapi.allow_plaintext and is_plaintext_remote(xapi.endpoint):
        found.append(plaintext_warning(
            "progress.xapi", url_host(xapi.endpoint), "the LRS credentials and statements"))
    smtp = settings.report.smtp
    if smtp is not None and smtp.security == "none" and not is_loopback_host(smtp.host):
        found.append(plaintext_warning(
            "report.smtp", smtp.host, "the login and every report"))
    return found
