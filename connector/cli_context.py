"""What every ``upskill`` command shares: the settings, read once and on first use (logging,
progress display and the metrics textfile follow them), and the warnings several print."""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from connector.errors import UpskillError

if TYPE_CHECKING:  # each command imports what it uses, so that --help stays fast
    from connector.config import Settings
    from connector.personas.reach import UnseenGroup

log = logging.getLogger("connector")


class CommandContext:
    def __init__(
        self, config: str | None, log_level: str | None = None, log_format: str | None = None
    ) -> None:
        self.config = config
        self.log_level = log_level
        self.log_format = log_format
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from connector.config import load_settings
            from connector.monitoring import logs, stages

            self._settings = load_settings(self.config)
            started()
            chosen = self._settings.logging
            logs.configure(
                self.log_level or chosen.level,
                self.log_format or chosen.format,
                libraries=chosen.libraries,
            )
            stages.show("bar" if sys.stderr.isatty() else "log")
            if self._settings.monitoring.textfile is not None:
                click.get_current_context().call_on_close(self._write_textfile)
        return self._settings

    def _write_textfile(self) -> None:
        """After a command: the metrics for node_exporter (``monitoring.textfile``)."""
        from connector.monitoring.metrics import write_textfile
        from connector.sync.prepare import open_store

        settings = self.settings
        assert settings.monitoring.textfile is not None
        try:
            store = open_store(settings)
        except UpskillError as exc:
            log.warning("metrics textfile not written: %s", exc.message)
            return
        try:
            write_textfile(settings.path(settings.monitoring.textfile), lambda: store)
        finally:
            store.close()


pass_ctx = click.make_pass_decorator(CommandContext)


def started() -> None:
    """Under :func:`connector.cli.run`: what the command has imported so far moves out of the
    collector's way (``gc.freeze``), and the collector is on again for the command's work."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def warn_unseen(unseen: Sequence[UnseenGroup]) -> None:
    """Name the groups the rules name that the read shows nobody in."""
    for item in unseen:
        click.echo(f"warning: {item}", err=True)
