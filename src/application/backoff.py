"""How long to wait before retrying something that failed for a reason that may pass."""

import math
import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter, so retrying workers do not move in step.

    The exponent stops growing once the delay reached `maximum_s`: retrying goes on forever,
    and `2.0 ** n` overflows a float past n = 1023.
    """

    initial_s: float = 0.05
    maximum_s: float = 5.0
    jitter: Callable[[], float] = random.random

    def delay(self, attempt: int) -> float:
        doublings = max(0, min(attempt - 1, self._doublings_to_maximum()))
        ceiling: float = min(self.maximum_s, self.initial_s * 2.0 ** doublings)
        return self.jitter() * ceiling

    def _doublings_to_maximum(self) -> int:
        if self.initial_s <= 0 or self.maximum_s <= self.initial_s:
            return 0
        return math.ceil(math.log2(self.maximum_s / self.initial_s))
