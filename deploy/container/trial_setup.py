"""The compose trial's one-shot set-up, run inside the image (python trial_setup.py ...).

  secrets DIR                   random secrets on first start (the Moodle sandbox token, the
                                PostgreSQL password and the state URL holding it), mode 0600
  courses URL MAPPINGS          every Moodle course the mappings name, created in the sandbox
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path


def make_secrets(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    password = folder / "db-password"
    if not password.exists():
        password.write_text(secrets.token_urlsafe(24), encoding="utf-8")
    token = folder / "moodle-token"
    if not token.exists():
        token.write_text(secrets.token_hex(16), encoding="utf-8")
    url = f"postgresql+psycopg://upskill:{password.read_text(encoding='utf-8')}@db/upskill"
    (folder / "state-url").write_text(url, encoding="utf-8")
    for path in folder.iterdir():
        path.chmod(0o644)  # read by the postgres image's user and the upskill user: a trial
    print(f"trial secrets in {folder}")


def make_courses(url: str, mappings: Path) -> None:
    from connector.lms.moodle.control import SandboxControl
    from connector.personas.loader import load_mappings

    control = SandboxControl(url)
    courses = [c for c in load_mappings(mappings).courses().values() if c.target == "moodle"]
    for course in courses:
        control.create_course(course.ref, course.title)
    print(f"{len(courses)} course(s) present in the Moodle sandbox at {url}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["secrets"]:
        make_secrets(Path(sys.argv[2]))
    elif sys.argv[1:2] == ["courses"]:
        make_courses(sys.argv[2], Path(sys.argv[3]))
    else:
        sys.exit(__doc__)
