"""Safety guards: a plan that could do mass harm stops before anything is written.

Pure: the run (:mod:`connector.sync.run`) calls :func:`check_plan` after planning and before
the executor, and raises :class:`~connector.errors.SafetyStop` with every violation. Checks:

- **Removals by count**: more than ``max_removals`` people lose at least one enrollment
  (suspend or unenroll).
- **Removals by share**: those people are more than ``max_removal_share`` percent of the
  population (the people in the directory read, or the people holding active enrollments,
  whichever is larger, so that a directory read that shrank does not hide the harm).
- **Tier shift**: a tier's share of the assigned people moves more than ``max_tier_shift``
  percentage points against the last applied run (its tier headcounts are in its counts).

The share checks ignore changes of ``min_people`` people or fewer: a single leaver of a small
team is not an accident. ``upskill sync --approve-plan FILE`` applies a reviewed plan past
the guards (and refuses when anything moved since the review; :mod:`connector.sync.approval`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from connector.model import Plan, Tier
from connector.sync.policy import removals

TIER_COUNT_PREFIX = "tier."


@dataclass(frozen=True, slots=True)
class GuardLimits:
    max_removals: int = 50
    max_removal_share: float = 5.0
    max_tier_shift: float = 10.0
    min_people: int = 5


@dataclass(frozen=True, slots=True)
class Violation:
    guard: str  # removals, removal_share, tier_shift
    message: str

    def __str__(self) -> str:
        return self.message


def tier_counts_from(counts: Mapping[str, int]) -> dict[str, int]:
    """The tier headcounts a run recorded in its counts (``tier.consumers`` ...)."""
    return {
        key.removeprefix(TIER_COUNT_PREFIX): value
        for key, value in counts.items()
        if key.startswith(TIER_COUNT_PREFIX)
    }


def _share(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


def check_plan(
    plan: Plan,
    *,
    population: int,
    tiers_now: Mapping[str, int],
    tiers_before: Mapping[str, int] | None,
    limits: GuardLimits,
) -> list[Violation]:
    """Every guard ``plan`` trips; empty when it may be applied."""
    found: list[Violation] = []
    losing = len(removals(plan))
    if losing > limits.max_removals:
        found.append(
            Violation(
                "removals",
                f"{losing} people would lose enrollments, more than the limit of "
                f"{limits.max_removals} ([guards] max_removals)",
            )
        )
    share = _share(losing, population)
    if losing > limits.min_people and share > limits.max_removal_share:
        found.append(
            Violation(
                "removal_share",
                f"{losing} of {population} people ({share:.1f} %) would lose enrollments, "
                f"more than {limits.max_removal_share:g} % ([guards] max_removal_share)",
            )
        )
    if tiers_before:
        total_now, total_before = sum(tiers_now.values()), sum(tiers_before.values())
        for tier in Tier:
            now, before = tiers_now.get(tier.value, 0), tiers_before.get(tier.value, 0)
            moved = _share(now, total_now) - _share(before, total_before)
            if abs(moved) > limits.max_tier_shift and abs(now - before) > limits.min_people:
                found.append(
                    Violation(
                        "tier_shift",
                        f"tier {tier.value} would move from {_share(before, total_before):.1f} % "
                        f"({before} people) to {_share(now, total_now):.1f} % ({now}), "
                        f"{abs(moved):.1f} points, more than {limits.max_tier_shift:g} "
                        "([guards] max_tier_shift)",
                    )
                )
    return found


def stop_message(violations: list[Violation]) -> str:
    return (
        "safety guards stopped the run before any write:\n"
        + "\n".join(f"  - {v}" for v in violations)
        + "\nReview the plan with `upskill plan --verbose`; if it is right, save it with "
        "`upskill plan --save FILE` and apply exactly that plan with "
        "`upskill sync --approve-plan FILE`, or raise the limits in [guards]."
    )
