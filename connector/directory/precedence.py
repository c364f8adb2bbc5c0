"""Which of two records wins when a source holds two for one person (pure).

Two cases, one order, never the source's row order:

* **Rehires**: several rows of one key in an HR export.
* **Same e-mail**: two people whose e-mails differ only in letter case (any source); the
  connector needs the e-mail to be one person's, so one record is kept and both are reported.

The order: a record still employed (active or on leave) before one that left; then the latest
hire date (a record without one comes after every dated record); then active before disabled;
then, for a same-e-mail pair, the smaller key; for rehire rows still equal, the smaller row text.
"""

from __future__ import annotations

from datetime import date

from connector.model import PersonStatus

RULE = ("still employed first, then the latest hire date, then active before on leave, "
        "then the smaller key")


def rank(status: PersonStatus, hired: date | None, tiebreak: str) -> tuple[bool, int, bool, str]:
    """A sort key: the record that sorts first wins."""
    return (
        status is PersonStatus.LEFT,
        -(hired.toordinal() if hired is not None else 0),
        status is not PersonStatus.ACTIVE,
        tiebreak,
    )
