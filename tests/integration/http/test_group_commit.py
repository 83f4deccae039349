"""Group commit on PostgreSQL: concurrent `POST /orders` share transactions, and every
order accepted is stored with its event."""

import asyncio
import uuid

import pytest
from sqlalchemy import text

from orderstream.runtime.wiring import resolve

from .conftest import auth

pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("store_api", ["postgres"], indirect=True)]
REQUESTS = 60


def _order(customer: str, quantity: int = 1) -> dict:
    return {"customer_id": customer, "lines": [{"sku": "KB-1", "quantity": quantity}]}


async def _transactions_of(store_api, customer: str) -> tuple[int, int]:
    """How many orders of `customer` the outbox holds events of, and in how many
    transactions they were written (the outbox row's transaction id)."""
    engine = await resolve(store_api._container.engine)
    async with engine.connect() as connection:
        row = (await connection.execute(text(
            "SELECT count(*), count(DISTINCT txid) FROM orders.outbox"
            " WHERE type = 'OrderPlaced' AND payload->>'customer_id' = :c"),
            {"c": customer})).one()
    return int(row[0]), int(row[1])


async def test_concurrent_orders_share_commits_and_each_is_stored_with_its_event(store_api):
    customer = f"c-{uuid.uuid4().hex[:8]}"

    responses = await asyncio.gather(*(
        store_api.client.post("/orders", json=_order(customer), headers=auth())
        for _ in range(REQUESTS)))

    assert [r.status_code for r in responses] == [202] * REQUESTS
    assert len({r.json()["id"] for r in responses}) == REQUESTS
    events, transactions = await _transactions_of(store_api, customer)
    assert events == REQUESTS == await store_api.orders_of(customer)
    assert transactions <= REQUESTS // 2, "requests in flight together were not grouped"


async def test_a_lone_order_is_committed_on_its_own(store_api):
    customer = f"c-{uuid.uuid4().hex[:8]}"

    response = await asyncio.wait_for(
        store_api.client.post("/orders", json=_order(customer), headers=auth()), 10)

    assert response.status_code == 202
    assert await _transactions_of(store_api, customer) == (1, 1)


async def test_one_key_sent_twice_at_once_places_one_order_and_answers_both_the_same(store_api):
    customer, key = f"c-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    headers = {**auth(), "Idempotency-Key": key}

    responses = await asyncio.gather(
        *(store_api.client.post("/orders", json=_order(customer), headers=headers)
          for _ in range(2)),
        *(store_api.client.post("/orders", json=_order(f"{customer}-other"), headers=auth())
          for _ in range(10)))

    first, second = responses[:2]
    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json() == second.json()
    assert sorted([first.headers["idempotent-replayed"], second.headers["idempotent-replayed"]]
                  ) == ["false", "true"]
    assert await store_api.orders_of(customer) == 1
    assert await store_api.placed_events_of(customer) == 1


async def test_a_cancel_of_an_unknown_order_fails_alone_and_its_group_is_stored(store_api):
    """A cancel of an unknown order in the middle of a group of placements: the cancel is
    404, the placements are stored."""
    customer = f"c-{uuid.uuid4().hex[:8]}"

    responses = await asyncio.gather(
        *(store_api.client.post("/orders", json=_order(customer), headers=auth())
          for _ in range(5)),
        store_api.client.post("/orders/no-such-order/cancel", json={"reason": "x"},
                              headers=auth()),
        *(store_api.client.post("/orders", json=_order(customer), headers=auth())
          for _ in range(5)))

    assert [r.status_code for r in responses] == [202] * 5 + [404] + [202] * 5
    assert await store_api.orders_of(customer) == 10
