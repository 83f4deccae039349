"""`Idempotency-Key` on `POST /orders`, on every store: a retry is answered as the first
request was and places nothing more; the key belongs to one API key and one request."""

import asyncio
import uuid

import pytest
from sqlalchemy import text

from orderstream.runtime.wiring import resolve

from .conftest import auth


def _order(customer: str, quantity: int = 2) -> dict:
    return {"customer_id": customer, "lines": [{"sku": "KB-1", "quantity": quantity}]}


def _headers(key: str, who: str = "shop") -> dict[str, str]:
    return {**auth(who), "Idempotency-Key": key}


async def test_a_repeated_request_gets_the_first_response_and_places_one_order(store_api):
    customer, key = f"c-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    first = await store_api.client.post("/orders", json=_order(customer), headers=_headers(key))
    again = await store_api.client.post("/orders", json=_order(customer), headers=_headers(key))
    third = await store_api.client.post("/orders", json=_order(customer), headers=_headers(key))

    assert first.status_code == again.status_code == third.status_code == 202
    assert first.json() == again.json() == third.json()
    assert first.headers["location"] == again.headers["location"]
    assert (first.headers["idempotent-replayed"], again.headers["idempotent-replayed"]) == (
        "false", "true")
    assert await store_api.orders_of(customer) == 1
    assert await store_api.placed_events_of(customer) == 1


async def test_the_same_key_with_another_body_is_refused_and_writes_nothing(store_api):
    customer, key = f"c-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    await store_api.client.post("/orders", json=_order(customer), headers=_headers(key))

    other = await store_api.client.post("/orders", json=_order(customer, quantity=3),
                                        headers=_headers(key))

    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["type"] == "/problems/idempotency-key-reused"
    assert await store_api.orders_of(customer) == 1


async def test_a_key_belongs_to_the_api_key_that_sent_it(store_api):
    customer, key = f"c-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    mine = await store_api.client.post("/orders", json=_order(customer), headers=_headers(key))
    theirs = await store_api.client.post("/orders", json=_order(customer),
                                         headers=_headers(key, "other"))

    assert (mine.status_code, theirs.status_code) == (202, 202)
    assert mine.json()["id"] != theirs.json()["id"]
    assert await store_api.orders_of(customer) == 2


async def test_twenty_concurrent_requests_with_one_key_place_exactly_one_order(store_api):
    customer, key = f"c-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex

    responses = await asyncio.gather(*(
        store_api.client.post("/orders", json=_order(customer), headers=_headers(key))
        for _ in range(20)))

    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {202, 409}, statuses
    accepted = {r.json()["id"] for r in responses if r.status_code == 202}
    assert len(accepted) == 1
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.json()["type"] == "/problems/idempotency-key-in-flight"
        assert refused.headers["retry-after"] == "1"
    assert await store_api.orders_of(customer) == 1
    assert await store_api.placed_events_of(customer) == 1


async def test_an_invalid_key_is_a_validation_problem(store_api):
    response = await store_api.client.post("/orders", json=_order("c"),
                                           headers=_headers("has spaces"))
    assert response.status_code == 422
    assert await store_api.orders_of("c") == 0


@pytest.mark.integration
@pytest.mark.parametrize("store_api", ["postgres"], indirect=True)
async def test_a_request_whose_key_is_still_in_flight_gets_409(store_api):
    """(On the memory store transactions run one at a time: a second request waits for
    the first and replays its response, so nothing is ever seen in flight.)"""
    customer, key = f"c-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    engine = await resolve(store_api._container.engine)
    async with engine.connect() as first_request:  # holds the key as a request in flight
        await first_request.execute(text(
            "SELECT pg_advisory_xact_lock(hashtextextended(:s || E'\\x1f' || :k, 7305))"),
            {"s": "shop", "k": key})
        busy = await store_api.client.post("/orders", json=_order(customer),
                                           headers=_headers(key))
        await first_request.rollback()
    after = await store_api.client.post("/orders", json=_order(customer), headers=_headers(key))

    assert (busy.status_code, after.status_code) == (409, 202)
    assert await store_api.orders_of(customer) == 1
