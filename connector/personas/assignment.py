"""What the persona engine gives people: a persona each, with the rules that decided it.

:class:`Assignments` is the engine's answer for a whole snapshot. People with equal facts get
one shared :class:`Assignment`, so it keeps, per person, only the number of their facts (the
mapping the engine numbered them in) and, apart, the people an override gives their own: a
million people cost one dictionary the engine built anyway, not a second one.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, Mapping, Sequence, ValuesView
from dataclasses import dataclass
from typing import TypeVar, overload

from connector.model import Persona
from connector.personas.loader import Override

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Match:
    """A rule that matched a person. Why it matched (``group executive-team via cfo-office →
    executive-team``, ``title 'VP of Sales' matches '^vp\\b'``) is built on demand by
    :func:`~connector.personas.engine.reasons`: only ``explain`` and the preview's per-person
    output need the words."""

    rule: str
    persona: str
    priority: int


@dataclass(frozen=True, slots=True)
class Assignment:
    """The persona a person gets (:func:`~connector.personas.engine.assign` maps person keys
    to these; people with equal facts and no override share one). ``rule`` is ``None`` when no
    rule matched and the default persona applies; ``lost`` holds the rules that matched too
    but lost, in precedence order."""

    persona: Persona
    rule: str | None
    winner: Match | None
    lost: tuple[Match, ...]
    pin: Override | None = None  # the override in force for this person, if any


class Assignments(Mapping[str, Assignment]):
    """Person key → :class:`Assignment`, in the order of ``numbers`` (key order): the
    assignment of the person's facts (``by_fact[numbers[key]]``) unless ``own`` has one."""

    __slots__ = ("_by_fact", "_numbers", "_own")

    def __init__(
        self,
        numbers: Mapping[str, int],
        by_fact: Sequence[Assignment],
        own: Mapping[str, Assignment],
    ) -> None:
        self._numbers = numbers
        self._by_fact = by_fact
        self._own = own

    def __getitem__(self, key: str) -> Assignment:
        found = self._own.get(key)
        return found if found is not None else self._by_fact[self._numbers[key]]

    @overload
    def get(self, key: str, /) -> Assignment | None: ...

    @overload
    def get(self, key: str, /, default: Assignment | T) -> Assignment | T: ...

    def get(self, key: str, /, default: Assignment | T | None = None) -> Assignment | T | None:
        found = self._own.get(key)
        if found is not None:
            return found
        number = self._numbers.get(key)
        return default if number is None else self._by_fact[number]

    def __contains__(self, key: object) -> bool:
        return key in self._numbers

    def __iter__(self) -> Iterator[str]:
        return iter(self._numbers)

    def __len__(self) -> int:
        return len(self._numbers)

    def pairs(self) -> Iterator[tuple[str, Assignment]]:
        """(person key, assignment), in order: ``items()`` without a look-up a person."""
        if not self._own:
            found = map(self._by_fact.__getitem__, self._numbers.values())
            return zip(self._numbers, found, strict=True)
        return ((key, self[key]) for key in self._numbers)

    def items(self) -> ItemsView[str, Assignment]:
        return _Items(self)

    def values(self) -> ValuesView[Assignment]:
        return _Values(self)

    def __repr__(self) -> str:
        return f"Assignments({dict(self.pairs())!r})"


class _Items(ItemsView[str, Assignment]):
    def __init__(self, owner: Assignments) -> None:
        super().__init__(owner)
        self._owner = owner

    def __iter__(self) -> Iterator[tuple[str, Assignment]]:
        return self._owner.pairs()


class _Values(ValuesView[Assignment]):
    def __init__(self, owner: Assignments) -> None:
        super().__init__(owner)
        self._owner = owner

    def __iter__(self) -> Iterator[Assignment]:
        return (assignment for _, assignment in self._owner.pairs())
