"""The sent log: one row per (leader, period) report, so each is e-mailed at most once.

A row's life: ``sending`` is written (with the Message-ID) *before* the message is handed to
the SMTP server, then ``sent`` or ``failed`` after. :meth:`SentLog.claim` only takes a
(leader, period) that has no row, or whose row is ``failed`` (the server never accepted it) or
``written`` (the report was only written to files). A row left ``sending`` by a run that
crashed mid-send is *not* claimed again: the server may have accepted the message, and at most
once wins over at least once; the run reports it as "delivery unknown".

``figures`` holds the report's flat figures as JSON (no names, no e-mail addresses): the next
period's report shows its change against them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Engine, RowMapping, select, update

from connector.store import database
from connector.store.tables import sent_log

ORGANISATION_KEY = "*"
"""The leader key under which the organisation-wide report's figures are kept."""

Figures = Mapping[str, float | None]


@dataclass(frozen=True, slots=True)
class SentEntry:
    leader_key: str
    period: str
    status: str
    recipient: str | None
    message_id: str | None
    sent_at: datetime | None
    attempts: int
    error: str | None
    figures: dict[str, float | None] = field(default_factory=dict)


def _entry(row: RowMapping) -> SentEntry:
    raw = row["figures"]
    figures = json.loads(raw) if isinstance(raw, str) and raw else {}
    return SentEntry(
        leader_key=str(row["leader_key"]),
        period=str(row["period"]),
        status=str(row["status"]),
        recipient=row["recipient"],
        message_id=row["message_id"],
        sent_at=row["sent_at"],
        attempts=int(row["attempts"]),
        error=row["error"],
        figures=figures,
    )


class SentLog:
    """The sent log of one state database (pass ``store.engine``)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @contextmanager
    def _write(self, doing: str) -> Iterator[Connection]:
        with database.translated(self._engine.url, doing), self._engine.begin() as conn:
            yield conn

    @contextmanager
    def _read(self, doing: str) -> Iterator[Connection]:
        with database.translated(self._engine.url, doing), self._engine.connect() as conn:
            yield conn

    def entries(self, period: str) -> dict[str, SentEntry]:
        """Every row of ``period`` by leader key."""
        query = select(sent_log).where(sent_log.c.period == period)
        with self._read("read the sent log") as conn:
            return {e.leader_key: e for e in map(_entry, conn.execute(query).mappings())}

    def get(self, leader_key: str, period: str) -> SentEntry | None:
        return self.entries(period).get(leader_key) if leader_key else None

    def claim(
        self,
        leader_key: str,
        period: str,
        *,
        recipient: str,
        message_id: str,
        figures: Figures,
        now: datetime,
    ) -> bool:
        """Mark (leader, period) ``sending`` if it may be sent; False when it was sent already
        or a send is in flight or of unknown outcome."""
        values = {
            "status": "sending",
            "recipient": recipient,
            "message_id": message_id,
            "error": None,
            "figures": json.dumps(dict(figures), sort_keys=True),
            "updated_at": now,
        }
        with self._write("claim a report in the sent log") as conn:
            inserted = conn.execute(
                database.dialect_insert(conn, sent_log)
                .values(leader_key=leader_key, period=period, attempts=0, **values)
                .on_conflict_do_nothing(index_elements=[sent_log.c.leader_key, sent_log.c.period])
                .returning(sent_log.c.leader_key)
            ).first()
            if inserted is not None:
                return True
            retaken = conn.execute(
                update(sent_log)
                .where(
                    sent_log.c.leader_key == leader_key,
                    sent_log.c.period == period,
                    sent_log.c.status.in_(("failed", "written")),
                )
                .values(**values)
                .returning(sent_log.c.leader_key)
            ).first()
            return retaken is not None

    def finish(
        self,
        leader_key: str,
        period: str,
        *,
        status: str,
        attempts: int,
        now: datetime,
        error: str | None = None,
    ) -> None:
        """Record the outcome of a claimed send: ``sent`` (with ``sent_at``) or ``failed``."""
        if status not in ("sent", "failed"):
            raise ValueError(f"a send cannot finish as {status!r}")
        with self._write("record a sent report") as conn:
            conn.execute(
                update(sent_log)
                .where(sent_log.c.leader_key == leader_key, sent_log.c.period == period)
                .values(
                    status=status,
                    attempts=sent_log.c.attempts + attempts,
                    error=error,
                    sent_at=now if status == "sent" else None,
                    updated_at=now,
                )
            )

    def keep_figures(self, leader_key: str, period: str, figures: Figures, now: datetime) -> None:
        """Keep the figures of a report written to files (not e-mailed); a row of a report
        that was sent or is being sent keeps its own figures."""
        text = json.dumps(dict(figures), sort_keys=True)
        with self._write("keep report figures") as conn:
            insert = database.dialect_insert(conn, sent_log).values(
                leader_key=leader_key,
                period=period,
                status="written",
                attempts=0,
                figures=text,
                updated_at=now,
            )
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=[sent_log.c.leader_key, sent_log.c.period],
                    set_={"figures": text, "updated_at": now},
                    where=sent_log.c.status.in_(("written", "failed")),
                )
            )

