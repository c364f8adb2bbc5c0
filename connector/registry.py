"""Builds the configured adapters: the directory source and the LMS targets.

This is the only place that knows which class serves which configuration ``type``.
"""

from __future__ import annotations

from pathlib import Path

import requests

from connector.config import Settings
from connector.directory import DirectorySource
from connector.directory.hrcsv import CsvDirectory
from connector.errors import ConfigError
from connector.lms import LmsTarget
from connector.lms.moodle.client import MoodleClient
from connector.lms.moodle.target import MoodleTarget

GROUPS_FILE = "groups.csv"


def build_source(settings: Settings) -> DirectorySource:
    directory = settings.directory
    path = settings.path(directory.path)
    groups = path.with_name(GROUPS_FILE)
    groups_path = settings.path_or_none(directory.groups_path) or (
        groups if groups.exists() else None
    )
    return CsvDirectory(directory, path, groups_path)


def enabled_targets(settings: Settings) -> list[str]:
    return ["moodle"] if settings.targets.moodle.enabled else []


def build_targets(
    settings: Settings, session: requests.Session | None = None
) -> dict[str, LmsTarget]:
    targets: dict[str, LmsTarget] = {}
    moodle = settings.targets.moodle
    if moodle.enabled:
        token = settings.moodle_token()
        if not token:
            raise ConfigError(
                "targets.moodle: no token; set UPSKILL_TARGETS__MOODLE__TOKEN or "
                "targets.moodle.token_file (a file holding the web service token)"
            )
        verify: bool | str = moodle.verify_tls
        if moodle.verify_tls and moodle.ca_file is not None:
            verify = str(settings.path(moodle.ca_file))
        client = MoodleClient(
            moodle.url,
            token,
            session=session,
            timeout=moodle.timeout,
            verify=verify,
            retries=moodle.retries,
        )
        targets["moodle"] = MoodleTarget(client, moodle)
    return targets


def mappings_path(settings: Settings) -> Path:
    return settings.path(settings.mappings.path)
