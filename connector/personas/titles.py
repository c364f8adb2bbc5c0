"""Title patterns: regular expressions an administrator writes, matched in linear time.

A title condition is compiled with RE2 (``google-re2``), whose matching time grows linearly
with the title and never backtracks: ``(a|a)*$``, ``(.*a){20}$`` or ``(a+)+$`` cost what any
other pattern costs, on any title. Its memory is bounded too (``MAX_MEMORY`` per pattern; a
pattern that needs more is refused when the mappings load). The syntax is Python's for
everything rules use (classes, alternation, anchors, ``\\b``, counted repeats, ``(?:...)``),
without look-around and back-references, which have no linear-time algorithm. Matching is
case-insensitive.
"""

from __future__ import annotations

from typing import Any

import re2

MAX_MEMORY = 8 << 20  # bytes RE2 may use per compiled pattern


class PatternError(ValueError):
    """The pattern is not valid RE2 syntax; the message says why, in RE2's words."""


class TitlePattern:
    """A compiled, case-insensitive title pattern; equal when their texts are equal."""

    __slots__ = ("_compiled", "pattern")

    def __init__(self, pattern: str) -> None:
        options = re2.Options()
        options.case_sensitive = False
        options.log_errors = False
        options.max_mem = MAX_MEMORY
        try:
            self._compiled: Any = re2.compile(pattern, options)
        except re2.error as exc:
            raise PatternError(_reason(exc)) from None
        self.pattern = pattern

    def search(self, text: str) -> bool:
        """Whether the pattern matches anywhere in ``text``."""
        return self._compiled.search(text) is not None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TitlePattern) and other.pattern == self.pattern

    def __hash__(self) -> int:
        return hash(self.pattern)

    def __repr__(self) -> str:
        return f"TitlePattern({self.pattern!r})"


def _reason(exc: BaseException) -> str:
    raw = exc.args[0] if exc.args else str(exc)
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    if "invalid perl operator: (?<" in text or "invalid perl operator: (?=" in text \
            or "invalid perl operator: (?!" in text:
        return f"{text} (look-around is not supported: it has no linear-time matching)"
    if "invalid escape sequence: \\" in text and any(d in text[-2:] for d in "123456789"):
        return f"{text} (back-references are not supported: no linear-time matching)"
    return text
