"""``make bench``: the leader reports for a synthetic organisation of 100,000 people and 500
leaders: compute every figure, then compose (HTML with table charts, text, people and figures
CSV, MIME) and send every report to a local SMTP server (aiosmtpd on a loopback port), through
the sent log of a SQLite state database. Targets: figures in at most 5 s, compose and send in
at most 30 s, peak memory under 800 MB.

The organisation comes from :mod:`bench.orggen` (not measured), personas from the shipped
mappings, every desired Moodle enrollment is active since a seeded date; about 45 % of them
are completed on seeded dates over the last 16 weeks and a fifth of the rest have progress.
Leaders: the whole organisation, each department, and managers picked by seed among those with
reports.
"""

from __future__ import annotations

import argparse
import random
import resource
import socket
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2025, 6, 30, 6, 0, tzinfo=UTC)


def organisation(size: int, leaders: int, folder: Path):  # type: ignore[no-untyped-def]
    from bench.orggen import write
    from connector.config import CsvSource
    from connector.directory.hrcsv import CsvDirectory
    from connector.model import Completion, Enrollment, Leader, ScopeKind
    from connector.personas.engine import assign
    from connector.personas.loader import load_mappings
    from connector.report.allocation import ReportInput
    from connector.sync.planner import desired_enrollments

    org, groups = folder / "org.csv", folder / "groups.csv"
    write(org, groups, size, seed=11)
    mappings = load_mappings(ROOT / "mappings")
    snapshot = CsvDirectory(CsvSource(), org, groups).read()
    personas = {k: a.persona for k, a in assign(snapshot, mappings).items()}
    rng = random.Random(5)
    completions, since = [], {}
    for (person, target, ref), persona in desired_enrollments(
        snapshot, personas, mappings.bundles, ["moodle"]
    ).items():
        e = Enrollment(person, target, ref, persona=persona)
        since[e.ident] = NOW - timedelta(days=rng.randrange(20, 200))
        draw = rng.random()
        if draw < 0.45:
            done = NOW - timedelta(days=rng.randrange(0, 112), hours=rng.randrange(24))
            completions.append(Completion(person, target, ref, True, done, 100.0, "bench"))
        elif draw < 0.56:
            progress = float(rng.randrange(5, 95))
            completions.append(Completion(person, target, ref, False, None, progress, "bench"))
    base = ReportInput(
        title="Generative AI upskilling progress",
        generated_at=NOW,
        people=dict(snapshot.people),
        personas=personas,
        bundles={k: tuple(c for c in b.courses if c.target == "moodle")
                 for k, b in mappings.bundles.items()},
        completions=completions,
        people_targets={tier: t.share for tier, t in mappings.tiers.items()},
        hours_targets={tier: t.hours for tier, t in mappings.tiers.items()},
        tolerance=mappings.tolerance,
        as_of=NOW,
        since=since,
        period="2025-W27",
    )
    managers = sorted({p.manager_key for p in snapshot.people.values() if p.manager_key})
    departments = sorted({p.department for p in snapshot.people.values() if p.department})
    chosen: list[Leader] = [Leader("org", None, "ceo@example.org", ScopeKind.ORGANISATION)]
    chosen += [Leader(f"dept-{i}", None, f"dept{i}@example.org", ScopeKind.DEPARTMENT, d)
               for i, d in enumerate(departments)]
    for key in rng.sample(managers, max(0, min(len(managers), leaders - len(chosen)))):
        chosen.append(Leader(f"mgr-{key}", key, None, ScopeKind.MANAGER, key))
    return base, dict(snapshot.people), chosen[:leaders]


class Inbox:
    """An aiosmtpd handler that counts what it accepts."""

    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.received += 1
        return "250 2.0.0 accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--leaders", type=int, default=500)
    args = parser.parse_args(argv)

    from aiosmtpd.controller import Controller

    from connector.config import ReportSettings, SmtpSettings
    from connector.report.allocation import population
    from connector.report.delivery import Composer, deliver
    from connector.report.leaders import leader_reports
    from connector.report.mail import SmtpMailer
    from connector.report.render import render_csv, render_figures_csv, render_html, render_plain
    from connector.store import Store
    from connector.store.sentlog import SentLog

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base, directory, leaders = organisation(args.people, args.leaders, folder)
        c0, t0 = time.process_time(), time.perf_counter()
        reports = leader_reports(population(base), leaders, directory)
        c1, t1 = time.process_time(), time.perf_counter()
        in_scope = sum(lr.report.total.headcount for lr in reports)
        sample = reports[:: max(1, len(reports) // 50)]  # the per-part breakdown, on a sample
        t2 = time.perf_counter()
        for lr in sample:
            render_html(lr.report)
            render_plain(lr.report)
        t3 = time.perf_counter()
        for lr in sample:
            render_csv(lr.report)
            render_figures_csv(lr.report)
        t4 = time.perf_counter()
        inbox = Inbox()
        controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
        controller.start()
        try:
            store = Store.open(f"sqlite:///{folder}/state.db")
            composer = Composer.of(ReportSettings(sender="Upskill <upskill@example.org>"), None)
            smtp = SmtpSettings(host="127.0.0.1", port=controller.port, security="none")
            c5, t5 = time.process_time(), time.perf_counter()
            with SmtpMailer(smtp) as mailer:
                result = deliver(
                    reports, composer, now=lambda: NOW, mailer=mailer,
                    sent_log=SentLog(store.engine), directory_keys=frozenset(directory),
                )
            c6, t6 = time.process_time(), time.perf_counter()
        finally:
            controller.stop()
    sent, n = len(result.sent), len(sample)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"Leader reports: {args.people:,} people, {len(reports)} leaders "
          f"({in_scope:,} people in all scopes together)")
    print(f"  compute every report            {t1 - t0:8.2f} s   ({c1 - c0:.2f} s CPU; target 5 s)")
    print(f"  per report (sample of {n}): HTML+text {1000 * (t3 - t2) / n:.0f} ms, "
          f"people and figures CSV {1000 * (t4 - t3) / n:.0f} ms")
    print(f"  compose (HTML, text, CSV, MIME) and send every report over SMTP, with the sent log: "
          f"{t6 - t5:.2f} s, {sent / (t6 - t5):.1f} messages/s "
          f"({sent} sent, {len(result.failed)} failed, {inbox.received} received); "
          f"{c6 - c5:.2f} s CPU in this process (the SMTP server runs in it too)")
    print(f"  wall total (compute + send)     {t1 - t0 + t6 - t5:8.2f} s   peak {peak:.0f} MB "
          "(targets: send 30 s, peak 800 MB)")


if __name__ == "__main__":
    main()
