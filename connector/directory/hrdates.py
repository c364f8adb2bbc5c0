"""Dates in HR exports: every date a cell can mean (pure).

ISO, ``d/m/Y`` or ``m/d/Y`` (both readings when the numbers allow both), ``d.m.Y``,
``12 Mar 2024``, ``Mar 12, 2024``.
"""

from __future__ import annotations

import re
from datetime import date

_MONTHS = {
    m: i + 1
    for i, names in enumerate((
        ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
        ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
        ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
        ("dec", "december"),
    ))
    for m in names
}
_ISO_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ].*)?")
_NUMERIC_DATE = re.compile(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4})")
_DAY_MONTH_DATE = re.compile(r"(\d{1,2})[ -]([A-Za-z]{3,9})\.?[ ,-]+(\d{4})")
_MONTH_DAY_DATE = re.compile(r"([A-Za-z]{3,9})\.? (\d{1,2})(?:st|nd|rd|th)?,? (\d{4})")


def date_readings(text: str) -> tuple[date, ...]:
    """Every date ``text`` can mean: none when it is not a date, two for ``03/04/2024``."""
    text = text.strip()
    parts: list[tuple[int, int, int]] = []  # (year, month, day)
    if m := _ISO_DATE.fullmatch(text):
        parts.append((int(m[1]), int(m[2]), int(m[3])))
    elif m := _NUMERIC_DATE.fullmatch(text):
        a, sep, b, year = int(m[1]), m[2], int(m[3]), int(m[4])
        parts.append((year, b, a))  # day first
        if sep == "/" and a != b:
            parts.append((year, a, b))  # month first
    elif m := _DAY_MONTH_DATE.fullmatch(text):
        parts.append((int(m[3]), _MONTHS.get(m[2].lower(), 0), int(m[1])))
    elif m := _MONTH_DAY_DATE.fullmatch(text):
        parts.append((int(m[3]), _MONTHS.get(m[1].lower(), 0), int(m[2])))
    out: list[date] = []
    for year, month, day in parts:
        try:
            out.append(date(year, month, day))
        except ValueError:
            continue
    return tuple(out)
