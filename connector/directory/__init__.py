"""Directory readers: each turns one kind of directory into a :class:`~connector.model.Snapshot`.

A reader is selected by the configuration's ``directory.type`` and implements
:class:`DirectorySource`. Readers that can read only what changed also implement
:class:`DeltaSource`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from connector.model import Snapshot


def incomplete_read(source: str, what: str) -> str:
    """The one message shape of a read that stopped part way, for every reader: which source,
    which request or page, and that nothing was changed."""
    return (f"the read of {source} was incomplete: {what}; nothing was changed "
            "(the next run reads everything again)")


@runtime_checkable
class DirectorySource(Protocol):
    """Reads who works here."""

    name: str

    def check(self) -> str:
        """Verify the source can be read; return a one-line description of what was reached.
        Raise a :class:`~connector.errors.UpskillError` with an actionable message if not."""
        ...

    def read(self) -> Snapshot:
        """A complete read. Unusable records go to ``Snapshot.problems``, never silently away;
        a read that cannot be completed raises rather than returning a partial snapshot."""
        ...


@runtime_checkable
class DeltaSource(DirectorySource, Protocol):
    """A source that can read only what changed since an earlier read."""

    source_id: str  # the name its cursor is kept under (the snapshots' ``source``)
    full_round: bool  # the last changes_since read everything (no usable token, or expired)

    def changes_since(self, token: str) -> tuple[Snapshot, str]:
        """The whole directory as of now, read through what changed since ``token`` (an empty
        token reads everything), and the next token."""
        ...
