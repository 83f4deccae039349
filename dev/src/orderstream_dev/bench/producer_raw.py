"""The plainest producer loop: aiokafka `send` for every record, all of them in flight,
then every acknowledgement awaited. Run as a process of its own:

    python -m orderstream_dev.bench.producer_raw RECORDS TOPIC RESULT --compression lz4

It sends the pickled records of `backlog.save` with the producer options of the settings
(acks=all, idempotence, linger, batch size) and writes its timing as JSON to RESULT.
"""

import argparse
import asyncio
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import uvloop

from adapters.kafka.clients import started_producer
from adapters.kafka.options import ProducerOptions
from orderstream.runtime.settings import Settings
from orderstream.runtime.wiring import build_container
from orderstream_dev.bench import backlog
from orderstream_dev.bench.proc import cpu_seconds, mb, peak_rss_bytes


def producer_options(settings: Settings, compression: str) -> ProducerOptions:
    """The options the relay's producer gets from the same settings (the container's),
    with `compression`."""
    options: ProducerOptions = build_container(settings).producer_options()
    return replace(options, compression=compression)


async def produce(options: ProducerOptions, topic: str,
                  records: list[backlog.Record]) -> float:
    """Seconds from the first send to the last acknowledgement."""
    async with started_producer(options) as producer:
        await producer.partitions_for(topic)
        started = time.perf_counter()
        futures = [await producer.send(topic, value, key=key, headers=headers)
                   for key, value, headers in records]
        await asyncio.gather(*futures)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("records", type=Path)
    parser.add_argument("topic")
    parser.add_argument("result", type=Path)
    parser.add_argument("--compression", default="none")
    args = parser.parse_args()
    records = backlog.load(args.records)
    options = replace(producer_options(Settings(), args.compression), client_id="bench-raw")
    cpu = cpu_seconds(os.getpid())
    elapsed = uvloop.run(produce(options, args.topic, records))
    args.result.write_text(json.dumps({
        "messages": len(records), "elapsed_s": elapsed,
        "cpu_s": cpu_seconds(os.getpid()) - cpu,
        "peak_rss_mb": mb(peak_rss_bytes(os.getpid()))}))


if __name__ == "__main__":
    main()
