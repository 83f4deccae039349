"""How long to wait before retrying something that failed for a reason that may pass."""

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter, so retrying workers do not move in step."""

    initial_s: float = 0.05
    maximum_s: float = 5.0
    jitter: Callable[[], float] = random.random

    def delay(self, attempt: int) -> float:
        ceiling: float = min(self.maximum_s, self.initial_s * 2.0 ** (attempt - 1))
        return self.jitter() * ceiling
