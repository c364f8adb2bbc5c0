"""CSV cells a spreadsheet opens safely: a cell that starts like a formula (``=``, ``+``, ``-``,
``@``, a tab or a carriage return) gets an apostrophe in front, so Excel, LibreOffice and Google
Sheets show it as text instead of running it; a plain number such as ``-3.7`` stays a number.
Every CSV the connector writes (reports, the run history, Skill Builder uploads) goes through it.
"""

from __future__ import annotations

import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def formula_like(cell: str) -> bool:
    """Whether a spreadsheet would take ``cell`` for a formula."""
    return cell.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(cell)


def neutralise(cell: str) -> str:
    """``cell`` with an apostrophe in front when a spreadsheet would take it for a formula."""
    return "'" + cell if formula_like(cell) else cell
