"""The parking rule and the retry loop of a worker, from the settings."""

from collections.abc import Mapping

from adapters.codec import CloudEventsDecoder
from application.backoff import Backoff
from application.dead_letter_sink import DeadLetterSink
from application.handlers import EventHandler
from application.observation import UNOBSERVED, ConsumerObserver
from application.parking import ParkingRule
from application.ports.unit_of_work import UnitOfWorkFactory
from application.unparking import ParkedRetrier
from domain.events import Event
from orderstream.runtime.settings import Settings

# The first retry of a parked key waits up to this long; each failed one doubles it.
PARKED_RETRY_INITIAL_S = 0.1


def parking_rule(settings: Settings) -> ParkingRule | None:
    """None when parking is off: a batch that fails transiently is retried until it
    applies, holding up its partition."""
    if not settings.parking:
        return None
    return ParkingRule(after_attempts=settings.park_after_attempts,
                       after_s=settings.park_after_s,
                       backoff=Backoff(initial_s=PARKED_RETRY_INITIAL_S,
                                       maximum_s=settings.parked_retry_max_s))


def parked_retrier(settings: Settings, *, group: str, dead_letter_group: str,
                   uow_factory: UnitOfWorkFactory,
                   handlers: Mapping[type[Event], EventHandler], dead_letters: DeadLetterSink,
                   observer: ConsumerObserver = UNOBSERVED) -> ParkedRetrier | None:
    """The retry loop of the keys parked under inbox group `group` (a worker's name), None
    when parking is off; its dead letters name `dead_letter_group`, the worker's consumer
    group id."""
    rule = parking_rule(settings)
    if rule is None:
        return None
    return ParkedRetrier(group=group, uow_factory=uow_factory, decoder=CloudEventsDecoder(),
                         handlers=handlers, dead_letters=dead_letters, backoff=rule.backoff,
                         poll_interval_s=settings.parked_poll_interval_s, observer=observer,
                         dead_letter_group=dead_letter_group)
