"""Kafka clients orderstream did not write, as a consumer or producer elsewhere would run them:

- kafka-go (segmentio/kafka-go, Go): the program in `kafkago/`, pinned by its go.mod and
  go.sum, built with the machine's Go from the Go module proxy and cached by its source;
- librdkafka, through confluent-kafka (a test dependency from PyPI);
- Java: Kafka's own `kafka-console-consumer` (`ConsoleConsumer`), from the jars
  `orderstream infra fetch` caches.

Each gives back what it read as `Record`s: the exact bytes of key, value and header values.
"""

import asyncio
import base64
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

from orderstream_dev.infra import kafka_dist, layout

KAFKA_GO_SOURCE = Path(__file__).parent / "kafkago"
GO_FALLBACK = Path("/usr/local/go/bin/go")
CLIENT_TIMEOUT_S = 30.0
CODECS = ("none", "gzip", "snappy", "lz4", "zstd")


class ClientFailed(Exception):
    """A client could not read or write; its own words are the message."""


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> str:
        return dict(self.headers)[name].decode()


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A record a foreign producer writes."""

    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


# -- kafka-go ---------------------------------------------------------------------------------

def go_command() -> str | None:
    found = shutil.which("go")
    if found is None and GO_FALLBACK.is_file():
        found = str(GO_FALLBACK)
    return found


def kafka_go_binary(go: str) -> Path:
    """The kafka-go program, built once per version of its source (main.go, go.mod, go.sum)
    into the orderstream cache; `go build` keeps go.sum as it is (-mod=readonly)."""
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum", "main.go"):
        digest.update((KAFKA_GO_SOURCE / name).read_bytes())
    target = layout.cache_dir() / "interop" / f"kafkago-{digest.hexdigest()[:16]}"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        built = Path(work) / "kafkago"
        env = {**os.environ, "GOFLAGS": "-mod=readonly -buildvcs=false", "CGO_ENABLED": "0"}
        result = subprocess.run([go, "build", "-trimpath", "-o", str(built), "."],
                                cwd=KAFKA_GO_SOURCE, env=env, capture_output=True, text=True,
                                timeout=300, check=False)
        if result.returncode != 0:
            raise ClientFailed(f"go build of {KAFKA_GO_SOURCE} failed:\n{result.stderr}")
        os.replace(built, target)
    return target


async def kafka_go_read(binary: Path, servers: str, topics: Iterable[str]) -> list[Record]:
    arguments = ["read", "-brokers", servers, "-timeout", f"{CLIENT_TIMEOUT_S:.0f}s"]
    for topic in topics:
        arguments += ["-topic", topic]
    output = await _run([str(binary), *arguments])
    return [_from_json(json.loads(line)) for line in output.splitlines()]


async def kafka_go_write(binary: Path, servers: str, topic: str, records: Sequence[Outgoing],
                         compression: str) -> None:
    lines = "".join(json.dumps({
        "key": _b64(r.key), "value": _b64(r.value),
        "headers": [[_b64(name.encode()), _b64(value)] for name, value in r.headers],
    }) + "\n" for r in records)
    await _run([str(binary), "write", "-brokers", servers, "-topic", topic,
                "-compression", compression], stdin=lines.encode())


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _from_json(line: dict) -> Record:
    def raw(text: str | None) -> bytes | None:
        return None if text is None else base64.b64decode(text)

    headers = tuple((base64.b64decode(name).decode(), raw(value) or b"")
                    for name, value in line["headers"])
    return Record(line["topic"], line["partition"], line["offset"], raw(line["key"]),
                  raw(line["value"]), headers)


# -- librdkafka -------------------------------------------------------------------------------

async def librdkafka_read(servers: str, topics: Iterable[str]) -> list[Record]:
    return await asyncio.to_thread(_librdkafka_read, servers, list(topics))


def _librdkafka_read(servers: str, topics: list[str]) -> list[Record]:
    consumer = Consumer({
        "bootstrap.servers": servers, "group.id": f"interop-{uuid.uuid4().hex[:12]}",
        "enable.auto.commit": False, "isolation.level": "read_committed",
        "check.crcs": True, "enable.partition.eof": False,
    })
    try:
        ends: dict[tuple[str, int], int] = {}
        for topic in topics:
            metadata = consumer.list_topics(topic, timeout=10).topics[topic]
            for partition in metadata.partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition),
                                                           timeout=10)
                if high > low:
                    ends[(topic, partition)] = high
        consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in ends])
        records: list[Record] = []
        positions = {tp: -1 for tp in ends}
        deadline = time.monotonic() + CLIENT_TIMEOUT_S
        while any(positions[tp] + 1 < end for tp, end in ends.items()):
            if time.monotonic() > deadline:
                raise ClientFailed(f"librdkafka read only up to {positions} of {ends}")
            for message in consumer.consume(500, timeout=0.5):
                if message.error() is not None:
                    raise ClientFailed(f"librdkafka: {message.error()}")
                records.append(Record(
                    message.topic(), message.partition(), message.offset(), message.key(),
                    message.value(),
                    tuple((name, value or b"") for name, value in message.headers() or [])))
                positions[(message.topic(), message.partition())] = message.offset()
        return records
    except KafkaException as error:
        raise ClientFailed(f"librdkafka: {error}") from error
    finally:
        consumer.close()


async def librdkafka_write(servers: str, topic: str, records: Sequence[Outgoing],
                           compression: str) -> None:
    await asyncio.to_thread(_librdkafka_write, servers, topic, list(records), compression)


def _librdkafka_write(servers: str, topic: str, records: list[Outgoing],
                      compression: str) -> None:
    # murmur2: Kafka's Java client partitions keys so; librdkafka's default (CRC32) would put
    # one order's events on another partition than orderstream's producers do.
    producer = Producer({"bootstrap.servers": servers, "acks": "all",
                         "enable.idempotence": True, "compression.type": compression,
                         "partitioner": "murmur2_random", "linger.ms": 5})
    failures: list[str] = []

    def delivered(error, message) -> None:
        if error is not None:
            failures.append(str(error))

    for record in records:
        producer.produce(topic, value=record.value, key=record.key,
                         headers=list(record.headers), on_delivery=delivered)
    if producer.flush(CLIENT_TIMEOUT_S) or failures:
        raise ClientFailed(f"librdkafka could not write every record: {failures}")


# -- Java: kafka-console-consumer -------------------------------------------------------------

# Control characters: none can stand in a JSON text outside an escape, in an identifier or in
# a header value orderstream writes, so they can separate the fields of the output.
_FIELD, _HEADER, _LINE = "\x1f", "\x1e", "\x1d"


def console_consumer_classpath() -> str:
    """Fetches `kafka-tools` on first use when `orderstream infra fetch` has not."""
    kafka_dist.install_tools(layout.cache_dir())
    return kafka_dist.tools_classpath(layout.cache_dir())


async def console_consumer_read(classpath: str, servers: str, topics: Sequence[str],
                                count: int) -> list[Record]:
    """`count` records of `topics`, in one subscription (`--include`), so one JVM reads them
    all. The console consumer does not print a record's topic: `Record.topic` is empty."""
    pattern = "|".join(topic.replace(".", r"\.") for topic in topics)
    output = await _run([
        shutil.which("java") or "java", "-Xshare:auto", "-XX:TieredStopAtLevel=1",
        "-cp", classpath, kafka_dist.CONSOLE_CONSUMER,
        "--bootstrap-server", servers, "--include", f"^({pattern})$", "--from-beginning",
        "--max-messages", str(count), "--timeout-ms", f"{CLIENT_TIMEOUT_S * 1000:.0f}",
        "--isolation-level", "read_committed",
        *_properties(print_partition="true", print_offset="true", print_headers="true",
                     print_key="true", key_separator=_FIELD, headers_separator=_HEADER,
                     line_separator=_LINE)], text=False)
    return [_console_record(chunk) for chunk in output.split(_LINE.encode()) if chunk]


def _properties(**values: str) -> list[str]:
    pairs = [(name.replace("_", "."), value) for name, value in values.items()]
    return [part for name, value in pairs for part in ("--property", f"{name}={value}")]


def _console_record(chunk: bytes) -> Record:
    partition, offset, headers, key, value = chunk.split(_FIELD.encode(), 4)
    parsed: list[tuple[str, bytes]] = []
    if headers != b"NO_HEADERS":
        for header in headers.split(_HEADER.encode()):
            name, _, content = header.partition(b":")
            parsed.append((name.decode(), content))
    return Record("", int(partition.removeprefix(b"Partition:")),
                  int(offset.removeprefix(b"Offset:")), key, value, tuple(parsed))


# -- processes --------------------------------------------------------------------------------

async def _run(command: list[str], *, stdin: bytes | None = None, text: bool = True):
    process = await asyncio.create_subprocess_exec(
        *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        async with asyncio.timeout(CLIENT_TIMEOUT_S + 30):
            out, err = await process.communicate(stdin)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise ClientFailed(f"{Path(command[0]).name} did not finish") from None
    if process.returncode != 0:
        raise ClientFailed(err.decode(errors="replace").strip()[-2000:])
    return out.decode() if text else out
