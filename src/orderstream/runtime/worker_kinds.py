"""The two workers of the flow: which topic each consumes with which handlers, and how a
worker's inbox processor and parked-key retry loop are made (the container's providers call
these)."""

from collections.abc import Callable, Mapping

from adapters.codec import INVENTORY_TOPIC, ORDERS_TOPIC
from application.dead_letter_sink import DeadLetterSink
from application.handlers import INVENTORY_HANDLERS, ORDERS_HANDLERS, EventHandler
from application.inbox import InboxProcessor
from application.observation import UNOBSERVED, ConsumerObserver
from application.ports.messaging import MessageDecoder
from application.ports.unit_of_work import UnitOfWorkFactory
from application.unparking import ParkedRetrier
from domain.events import Event
from orderstream.runtime import worker_parking as parking
from orderstream.runtime.settings import Settings

INVENTORY_GROUP = "inventory"
ORDERS_GROUP = "orders"

# Which worker consumes which topic with which handlers: the two workers of the flow. A
# worker's name is its inbox group, and, behind the prefix, its consumer group.
WORKERS: dict[str, tuple[str, dict[type[Event], EventHandler]]] = {
    INVENTORY_GROUP: (ORDERS_TOPIC, dict(INVENTORY_HANDLERS)),
    ORDERS_GROUP: (INVENTORY_TOPIC, dict(ORDERS_HANDLERS)),
}


def source_topic_of(names: Mapping[str, str], worker: str) -> str:
    """The topic `worker` consumes, by its configured name."""
    topic, _ = WORKERS[worker]
    return names[topic]


def retrier_of(settings: Settings, worker: str, *, consumer_group: Callable[[str], str],
               uow_factory: UnitOfWorkFactory, dead_letters: DeadLetterSink,
               observer: ConsumerObserver = UNOBSERVED) -> ParkedRetrier | None:
    """The retry loop of the keys parked under `worker`'s inbox group, None when parking is
    off."""
    _, handlers = WORKERS[worker]
    return parking.parked_retrier(settings, group=worker,
                                  dead_letter_group=consumer_group(worker),
                                  uow_factory=uow_factory, handlers=handlers,
                                  dead_letters=dead_letters, observer=observer)


def processor_of(worker: str, uow_factory: UnitOfWorkFactory, *,
                 decoder: MessageDecoder,
                 observer: ConsumerObserver = UNOBSERVED) -> InboxProcessor:
    """The inbox group is the worker's name whatever its consumer group is called, so a
    renamed group still recognises the messages it processed."""
    _, handlers = WORKERS[worker]
    return InboxProcessor(group=worker, uow_factory=uow_factory, decoder=decoder,
                          handlers=handlers, observer=observer)
