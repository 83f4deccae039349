"""What a run measured on: machine, versions, native extensions in use, PostgreSQL and
Kafka settings, and the client options of the processes. Numbers mean little without it."""

import asyncio
import importlib.machinery
import importlib.util
import inspect
from dataclasses import replace
from importlib import metadata
from typing import Any

from orderstream.runtime.settings import Settings
from orderstream_dev.bench import machine
from orderstream_dev.bench.consumer_raw import consumer_options
from orderstream_dev.bench.producer_raw import producer_options
from orderstream_dev.infra.kafka_dist import KAFKA_VERSION

PACKAGES = ("aiokafka", "asyncpg", "sqlalchemy", "fastapi", "starlette", "pydantic",
            "pydantic-core", "uvicorn", "h11", "uvloop", "cramjam")


async def describe(database_url: str, settings: Settings, local_broker: bool) -> dict[str, Any]:
    described = await machine.describe(database_url)
    described["packages"] = {name: _version(name) for name in PACKAGES}
    described["native"] = native()
    described["kafka"] = {
        "broker": f"Apache Kafka {KAFKA_VERSION} (orderstream infra)" if local_broker
        else "not the local broker: version not read",
        "partitions_per_topic": settings.kafka_topic_partitions, "replication_factor": 1,
        "producer": _options(replace(producer_options(settings, settings.kafka_compression),
                                     bootstrap_servers="").kwargs()),
        "consumer": _options(consumer_options(settings).kwargs("group")),
    }
    described["orderstream"] = {
        "relay_batch_size": settings.relay_batch_size,
        "consumer_batch_size": settings.consumer_batch_size,
        "database_pool_size": settings.database_pool_size,
        "api_workers": settings.api_workers,
    }
    return described


def native() -> dict[str, Any]:
    """Which compiled speed-ups are in use."""
    from aiokafka.record.default_records import DefaultRecordBatchBuilder

    return {
        # The record batch builder every producer uses: aiokafka's compiled one unless the
        # extensions are missing or AIOKAFKA_NO_EXTENSIONS is set.
        "aiokafka_c_extensions": compiled(DefaultRecordBatchBuilder),
        "bench_event_loop": type(asyncio.get_running_loop()).__module__.split(".")[0],
        "orderstream_processes_event_loop": "uvloop (orderstream.runtime.signals.run_service)",
        "uvicorn_http": "httptools" if importlib.util.find_spec("httptools") else "h11",
    }


def compiled(cls: type) -> bool:
    """Whether `cls` is defined by a compiled extension module rather than Python source."""
    try:
        path = inspect.getfile(cls)
    except TypeError:  # built into the interpreter
        return True
    return path.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def _options(kwargs: dict[str, Any]) -> dict[str, Any]:
    hidden = {"bootstrap_servers", "client_id", "group_id", "partition_assignment_strategy",
              "ssl_context", "sasl_plain_username", "sasl_plain_password"}
    return {name: value for name, value in kwargs.items() if name not in hidden}


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"
