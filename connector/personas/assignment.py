"""What the persona engine gives people: a persona each, with the rules that decided it.

:class:`Assignments` is the engine's answer for a whole snapshot. People with equal facts get
one shared :class:`Assignment`, so it keeps, per person, only the number of their facts (two
lists in key order, as the engine numbered them) and, apart, the people an override gives
their own. A person is looked up by key through an index built on the first look-up: the
planner and the reports walk everyone in order and need none (at a million people the index
is a third of a second to build).
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
    """Person key → :class:`Assignment`, in the order of ``keys`` (key order): for
    ``keys[i]``, the assignment of the person's facts (``by_fact[numbers[i]]``) unless
    ``own`` has one."""

    __slots__ = ("_by_fact", "_index", "_keys", "_numbers", "_own")

    def __init__(
        self,
        keys: Sequence[str],
        numbers: Sequence[int],
        by_fact: Sequence[Assignment],
        own: Mapping[str, Assignment],
    ) -> None:
        if len(keys) != len(numbers):
            raise ValueError("one number of facts a person key")
        self._keys = keys
        self._numbers = numbers
        self._by_fact = by_fact
        self._own = own
        self._index: dict[str, int] | None = None

    @classmethod
    def of(
        cls,
        numbers: Mapping[str, int],
        by_fact: Sequence[Assignment],
        own: Mapping[str, Assignment],
    ) -> Assignments:
        """From person key → number of facts (in order)."""
        return cls(list(numbers), list(numbers.values()), by_fact, own)

    def _number_of(self) -> dict[str, int]:
        """Person key → number of facts, built on the first look-up."""
        if self._index is None:
            self._index = dict(zip(self._keys, self._numbers, strict=True))
        return self._index

    def __getitem__(self, key: str) -> Assignment:
        found = self._own.get(key)
        return found if found is not None else self._by_fact[self._number_of()[key]]

    @overload
    def get(self, key: str, /) -> Assignment | None: ...

    @overload
    def get(self, key: str, /, default: Assignment | T) -> Assignment | T: ...

    def get(self, key: str, /, default: Assignment | T | None = None) -> Assignment | T | None:
        found = self._own.get(key)
        if found is not None:
            return found
        number = self._number_of().get(key)
        return default if number is None else self._by_fact[number]

    def __contains__(self, key: object) -> bool:
        return key in self._number_of()

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def pairs(self) -> Iterator[tuple[str, Assignment]]:
        """(person key, assignment), in order: ``items()`` without a look-up a person."""
        found = map(self._by_fact.__getitem__, self._numbers)
        if not self._own:
            return zip(self._keys, found, strict=True)
        own = self._own
        return (
            (key, own.get(key, assignment))
            for key, assignment in zip(self._keys, found, strict=True)
        )

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
