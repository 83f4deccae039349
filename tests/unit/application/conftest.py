"""Stateful in-memory fakes: the real memory adapters, fresh for every test."""

import functools

import pytest

from adapters.memory.bus import InMemoryBus
from adapters.memory.store import InMemoryStore
from adapters.memory.uow import InMemoryUnitOfWork
from application.ports.unit_of_work import UnitOfWorkFactory


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def uow_factory(store: InMemoryStore) -> UnitOfWorkFactory:
    return functools.partial(InMemoryUnitOfWork, store)


@pytest.fixture
def bus() -> InMemoryBus:
    return InMemoryBus(partitions=3)
