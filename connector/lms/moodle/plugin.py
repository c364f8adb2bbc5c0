"""``local_upskill``: the Moodle plugin shipped with the connector, and the zip a site installs.

The plugin (PHP, in ``local_upskill/`` beside this module) adds two read-only web-service
functions that replace the connector's per-learner reads: :data:`GET_COMPLETIONS` (course
completion of every learner of some courses, suspended enrolments included, paged) and
:data:`GET_ENROLMENTS` (every enrolment of some courses with its status, paged). On install it
predefines the external service :data:`SERVICE_NAME` (shortname :data:`SERVICE_SHORTNAME`)
holding every function the connector calls, and creates the role :data:`ROLE_SHORTNAME` with
exactly the capabilities the connector needs (:data:`connector.lms.moodle.setup.CAPABILITIES`
plus :data:`CAPABILITY`). The connector uses the plugin when the token's functions include
both functions at :data:`MIN_VERSION` or later (``core_webservice_get_site_info``), and
Moodle's core functions otherwise.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from connector.errors import ConfigError

COMPONENT = "local_upskill"
FOLDER = "upskill"  # local/upskill in the Moodle tree; the zip's top folder
GET_COMPLETIONS = "local_upskill_get_completions"
GET_ENROLMENTS = "local_upskill_get_enrolments"
FUNCTIONS: tuple[str, ...] = (GET_COMPLETIONS, GET_ENROLMENTS)
CAPABILITY = "local/upskill:read"
SERVICE_SHORTNAME = "local_upskill"
SERVICE_NAME = "Upskill connector (local_upskill)"
ROLE_NAME = "Upskill connector"
ROLE_SHORTNAME = "upskillconnector"
MAX_PAGE = 5000
"""The most rows one page of the plugin's reads holds (``limitnumbertoolarge`` above)."""
MIN_VERSION = 2026120700
"""The oldest plugin version whose answers this connector reads."""

_VERSION = re.compile(r"^\$plugin->version\s*=\s*(\d+);", re.MULTILINE)
_RELEASE = re.compile(r"^\$plugin->release\s*=\s*'([^']+)';", re.MULTILINE)
_FIXED_TIME = (2026, 12, 7, 0, 0, 0)  # the same zip for the same sources


def source() -> Traversable:
    """The plugin's files inside the installed connector package."""
    return files("connector.lms.moodle") / COMPONENT


def _version_php() -> str:
    return (source() / "version.php").read_text(encoding="utf-8")


def version() -> int:
    """The plugin's version number (``$plugin->version``)."""
    match = _VERSION.search(_version_php())
    if match is None:  # a broken package, not a user's mistake
        raise RuntimeError("local_upskill/version.php has no $plugin->version")
    return int(match.group(1))


def release() -> str:
    """The plugin's release name (``$plugin->release``)."""
    match = _RELEASE.search(_version_php())
    return match.group(1) if match else str(version())


def _walk(folder: Traversable, prefix: str) -> Iterator[tuple[str, Traversable]]:
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        name = f"{prefix}/{entry.name}"
        if entry.is_dir():
            if entry.name != "__pycache__":
                yield from _walk(entry, name)
        elif entry.name.endswith(".php"):
            yield name, entry


def files_of_plugin() -> list[str]:
    """The plugin's files as the zip holds them (``upskill/version.php``, ...)."""
    return [name for name, _entry in _walk(source(), FOLDER)]


def write_zip(out_dir: Path) -> Path:
    """Write ``local_upskill-RELEASE.zip`` into ``out_dir`` (created when missing): the
    archive Moodle's *Install plugins* page takes, or unzipped into ``local/`` of the Moodle
    tree (``public/local/`` on 5.x) before ``admin/cli/upgrade.php``."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the folder {out_dir} ({exc.strerror}); choose another --out"
        ) from exc
    target = out_dir / f"{COMPONENT}-{release()}.zip"
    try:
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, entry in _walk(source(), FOLDER):
                info = zipfile.ZipInfo(name, _FIXED_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, entry.read_bytes())
    except OSError as exc:
        raise ConfigError(
            f"cannot write {target} ({exc.strerror}); check the folder's permissions"
        ) from exc
    return target
