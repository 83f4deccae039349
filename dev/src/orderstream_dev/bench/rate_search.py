"""Which rate the live flow is offered next, in search of the highest it sustains.

Up a ladder (100, 200, 400, 800, 1,200, 1,600 and on by 400) until a rate is not
sustained; then by bisection between the highest rate sustained and the lowest rate above
it that was not, until the one is within `WITHIN` (10%) of the other. A rate that fails
below one that held is taken as it is: the bisection works between the highest rate that
held and the lowest failure above it, wherever they came from.
"""

from collections.abc import Mapping
from dataclasses import dataclass

LADDER = (100, 200, 400, 800, 1_200, 1_600)
LADDER_STEP = 400
WITHIN = 0.10
STEP = 10
"""Rates of the bisection are rounded to this many orders/s."""


def ladder(limit: float) -> list[int]:
    """100, 200, 400, 800, 1,200, 1,600 and on by 400, up to `limit`."""
    rates = [rate for rate in LADDER if rate <= limit]
    while rates and rates[-1] + LADDER_STEP <= limit:
        rates.append(rates[-1] + LADDER_STEP)
    return rates


@dataclass(frozen=True, slots=True)
class Bracket:
    """The highest rate sustained (0: none was) and the lowest above it that was not
    (None: none was, so far)."""

    held: int
    failed: int | None

    @classmethod
    def of(cls, results: Mapping[int, bool]) -> "Bracket":
        held = max((rate for rate, ok in results.items() if ok), default=0)
        above = [rate for rate, ok in results.items() if not ok and rate > held]
        return cls(held, min(above, default=None))

    @property
    def narrow(self) -> bool:
        """Within `WITHIN`: the maximum is known closely enough."""
        return self.failed is not None and self.failed <= self.held * (1 + WITHIN)


def next_rate(results: Mapping[int, bool], limit: float) -> int | None:
    """The next rate to offer, given whether each rate offered so far was sustained;
    None once the maximum is bracketed within `WITHIN`, the ladder reached `limit`, or
    not even `STEP` orders/s held."""
    bracket = Bracket.of(results)
    if bracket.failed is None:
        tried = max(results, default=0)
        return next((rate for rate in ladder(limit) if rate > tried), None)
    if bracket.narrow:
        return None
    middle = _rounded((bracket.held + bracket.failed) / 2)
    if not bracket.held < middle < bracket.failed or middle in results:
        return None
    return middle


def _rounded(rate: float) -> int:
    return int(rate / STEP + 0.5) * STEP
