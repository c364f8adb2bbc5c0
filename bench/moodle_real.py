"""``make bench``: the first sync of 2,000 people x 3 courses against real Moodle, beside the
same run against the sandbox.

Each real Moodle of ``../shared/moodle/`` (5.x and 4.5 LTS, or ``UPSKILL_TEST_MOODLE_ARCHIVE``)
is installed on a private PostgreSQL cluster as the tests do (tests/servers/moodle_site.py),
served by PHP's built-in server, and synced through the real client and executor: requests per
function against the minimum the ``max_input_vars`` budget allows (the ratio must stay 1.00),
wall time of the first sync, the nightly no-op and a reconciliation's reads; then completion
collection of every enrollment and a reconciliation through Moodle's core functions and
through the local_upskill plugin (installed from its zip by the fixture), requests and time.
Without PHP or the archives it says so and measures the sandbox only.

``python -m bench.moodle_real --people 2000``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from bench.moodle import COURSES, first_sync, first_sync_on


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=2000)
    args = parser.parse_args()
    rows: list[tuple[str, dict[str, object]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(("sandbox", first_sync(args.people, Path(tmp))))
        if shutil.which("php") is None:
            print("real Moodle: skipped (no PHP; apt-get install php-cli php-pgsql php-intl ...)")
        else:
            from tests.postgres import start_server, stop_server
            from tests.servers.moodle_site import SiteControl, archives, installed, label

            postgres = start_server()
            try:
                for archive in archives():
                    if not archive.exists():
                        print(f"{label(archive)}: skipped ({archive} is not there)")
                        continue
                    with installed(archive, postgres, [(r, r) for r in COURSES]) as site:
                        token = site.plugin_token
                        figures = first_sync_on(
                            site.url, site.token, SiteControl(site), args.people, Path(tmp),
                            lambda token=token: token,  # type: ignore[misc]
                        )
                        rows.append((f"{label(archive)} ({site.release})", figures))
            finally:
                stop_server(postgres)
    print(f"First sync of {args.people} people x {len(COURSES)} courses "
          "(requests against the max_input_vars minimum):")
    for name, f in rows:
        ratio = int(f["requests"]) / int(f["minimum"])  # type: ignore[call-overload]
        print(f"  {name:<40} requests {f['requests']}/{f['minimum']} = {ratio:.2f}, "
              f"{f['first_sync_s']:.1f} s; nightly no-op {f['nightly_requests']} requests "
              f"{f['nightly_s']:.2f} s; reconcile {f['reconcile_reads']} reads "
              f"{f['reconcile_s']:.1f} s")
        print(f"      {f['by_function']}")
        paths = f.get("paths") or {}
        assert isinstance(paths, dict)
        for path, p in paths.items():
            print(f"      {path:<6} path: completion of every enrollment "
                  f"{p['completion_requests']} requests {p['completion_s']:.1f} s "
                  f"({p['completed']} completed); reconcile "
                  f"{p['reconcile_reads']} reads {p['reconcile_s']:.2f} s")


if __name__ == "__main__":
    main()
