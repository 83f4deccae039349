"""Whether a consumer is stuck: messages wait for it, and it has committed none for a while."""

import time
from collections.abc import Callable

from application.observation import Unobserved


class ProgressWatch(Unobserved):
    """A consumer observer that remembers since when messages have waited without a commit.

    The clock starts at the last commit, or at the last reading that found nothing waiting,
    whichever is later: a consumer that sat idle is not stuck the moment a message arrives.
    """

    def __init__(self, stall_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._stall_s = stall_s
        self._clock = clock
        self._since = clock()
        self._lag = 0

    def offsets_committed(self) -> None:
        self._since = self._clock()

    def waiting(self, lag: int) -> None:
        """A reading of the consumer's lag: the messages its group has not committed."""
        self._lag = lag
        if lag == 0:
            self._since = self._clock()

    def stuck(self) -> str | None:
        """Why the consumer is stuck, or None while it is not."""
        still = self._clock() - self._since
        if self._lag > 0 and still > self._stall_s:
            return (f"{self._lag} messages wait and nothing was committed for {still:.0f}s "
                    f"(more than {self._stall_s:g}s)")
        return None
