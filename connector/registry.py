"""Builds the configured adapters: the directory source and the LMS targets.

This is the only place that knows which class serves which configuration ``type``.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING

from connector.config import Settings
from connector.directory import DirectorySource
from connector.directory.hrcsv import CsvDirectory
from connector.errors import ConfigError
from connector.lms import LmsTarget

if TYPE_CHECKING:  # the HTTP stack is imported by the commands that contact a target
    pass

GROUPS_FILE = "groups.csv"


def build_source(settings: Settings) -> DirectorySource:
    directory = settings.directory
    if directory.type == "ldap":
        from connector.directory.ldap import LdapDirectory

        return LdapDirectory.from_settings(directory, settings)
    if directory.type == "graph":
        from connector.directory.graph import GraphDirectory

        return GraphDirectory.from_settings(directory, settings)
    if directory.type == "okta":
        from connector.directory.okta import OktaDirectory

        return OktaDirectory.from_settings(directory, settings)
    if directory.type == "scim":
        from connector.directory.scim import ScimDirectory

        return ScimDirectory.from_settings(directory, settings)
    path = settings.path(directory.path)
    groups = path.with_name(GROUPS_FILE)
    groups_path = settings.path_or_none(directory.groups_path) or (
        groups if groups.exists() else None
    )
    return CsvDirectory(directory, path, groups_path)


def enabled_targets(settings: Settings) -> list[str]:
    targets = settings.targets
    enabled = {"moodle": targets.moodle.enabled, "skillbuilder": targets.skillbuilder.enabled}
    return [name for name, on in enabled.items() if on]


TARGET_GROUP = "upskill.targets"
"""Entry-point group of LMS targets: ``name = "package.module:factory"``, where the factory
takes the settings and returns an :class:`LmsTarget`. Another LMS is a separate package
that registers here."""


def target_factories() -> dict[str, Callable[..., LmsTarget]]:
    """Target name → factory, from the installed packages' ``upskill.targets`` entry points."""
    found: dict[str, Callable[..., LmsTarget]] = {}
    for entry in entry_points(group=TARGET_GROUP):
        found.setdefault(entry.name, entry.load())
    if "moodle" not in found:  # running from a source tree that was never installed
        from connector.lms.moodle.target import MoodleTarget

        found["moodle"] = MoodleTarget.from_settings
    if "skillbuilder" not in found:
        from connector.skillbuilder.target import SkillBuilderTarget

        found["skillbuilder"] = SkillBuilderTarget.from_settings
    return found


def build_targets(settings: Settings) -> dict[str, LmsTarget]:
    factories = target_factories()
    targets: dict[str, LmsTarget] = {}
    for name in enabled_targets(settings):
        factory = factories.get(name)
        if factory is None:
            raise ConfigError(
                f"targets.{name}: no installed package provides the target {name!r} "
                f"(entry point group {TARGET_GROUP}); install it or disable the target"
            )
        targets[name] = factory(settings)
    return targets


def mappings_path(settings: Settings) -> Path:
    return settings.path(settings.mappings.path)
