"""The plainest consumer loops, as processes of their own: aiokafka `getmany`, then
(with `--apply asyncpg`) the raw asyncpg reservation loop on the batch, then a commit of
the batch's offsets. Without `--apply` they only fetch and commit: the ceiling of
reading from Kafka.

    python -m orderstream_dev.bench.consumer_raw TOPIC GROUP MESSAGES [--apply asyncpg]

They stop after MESSAGES; the bench times them by their committed offsets, as it times
the worker.
"""

import argparse
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

import asyncpg
import uvloop
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from adapters.kafka.options import ConsumerOptions
from orderstream.runtime.settings import Settings
from orderstream.runtime.wiring import build_container
from orderstream_dev.bench import reservations_raw
from orderstream_dev.bench.machine import asyncpg_dsn

Apply = Callable[[Sequence[ConsumerRecord[Any, Any]]], Awaitable[None]]
FETCH_TIMEOUT_MS = 200


def consumer_options(settings: Settings) -> ConsumerOptions:
    """The options the worker's consumer gets from the same settings (the container's)."""
    options: ConsumerOptions = build_container(settings).consumer_options()
    return replace(options, client_id="bench-raw")


async def consume(settings: Settings, topic: str, group: str, messages: int,
                  apply: Apply) -> None:
    consumer = AIOKafkaConsumer(topic, **consumer_options(settings).kwargs(group))
    await consumer.start()
    try:
        seen = 0
        while seen < messages:
            records = await consumer.getmany(timeout_ms=FETCH_TIMEOUT_MS,
                                             max_records=settings.consumer_batch_size)
            batch = [record for tp in sorted(records) for record in records[tp]]
            if not batch:
                continue
            await apply(batch)
            await consumer.commit({tp: rs[-1].offset + 1 for tp, rs in records.items()})
            seen += len(batch)
    finally:
        await consumer.stop()


async def run(settings: Settings, topic: str, group: str, messages: int,
              apply_with: str | None) -> None:
    if apply_with is None:
        async def nothing(batch: Sequence[ConsumerRecord[Any, Any]]) -> None:
            return None
        await consume(settings, topic, group, messages, nothing)
        return
    connection = await asyncpg.connect(asyncpg_dsn(settings.database_url.get_secret_value()))
    try:
        async def reserve(batch: Sequence[ConsumerRecord[Any, Any]]) -> None:
            await reservations_raw.apply(connection, batch)
        await consume(settings, topic, group, messages, reserve)
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("topic")
    parser.add_argument("group")
    parser.add_argument("messages", type=int)
    parser.add_argument("--apply", choices=["asyncpg"], default=None)
    args = parser.parse_args()
    uvloop.run(run(Settings(), args.topic, args.group, args.messages, args.apply))


if __name__ == "__main__":
    main()
