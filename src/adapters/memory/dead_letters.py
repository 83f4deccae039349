"""Dead letters on the memory bus: appended to `<topic>.dlt`, as on Kafka."""

from collections.abc import Sequence
from datetime import UTC, datetime

from adapters.dead_letters import dead_letter
from adapters.memory.bus import InMemoryBus
from application.inbox_batch import Failure


class InMemoryDeadLetterSink:
    def __init__(self, bus: InMemoryBus) -> None:
        self._bus = bus

    async def send(self, failures: Sequence[Failure], group: str) -> None:
        now = datetime.now(UTC)
        for failure in failures:
            letter = dead_letter(failure, group, now=now)
            self._bus.append(letter.topic, letter.key, letter.value, letter.headers)
