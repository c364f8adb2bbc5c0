"""The small HR exports the whole-run tests write (the columns of examples/org.csv they use)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

HEADER = "employee_id,work_email,first_name,last_name,department,title,manager_employee_id,status,groups"


def write_org(path: Path, rows: Sequence[str]) -> None:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
