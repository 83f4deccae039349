"""The live flow's counters, read in one go (`FlowCounters.read`): CPU of each process,
of the bench's ended children (the load generator's runs), of the bench itself and of the
machine; the broker's requests by kind (its JMX exporter); PostgreSQL's statements
(pg_stat_statements); the wake-ups each relay and worker counts on its /metrics. And what
the flow has done so far (`progress`): orders the API accepted, orders the orders worker
decided; and PostgreSQL's transactions, which it reports late (`transactions`).

Reading them costs little and nothing the flow counts: the broker serves its request meters
only, PostgreSQL is read from its maintenance database, and a process serves its metrics
on the event loop between two of its requests or batches.
"""

import asyncio
import resource
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from orderstream_dev.bench.cpu import CpuClock, machine_busy_s
from orderstream_dev.bench.flow_accounting import Reading, requests_by_kind
from orderstream_dev.bench.pg_activity import PostgresActivity
from orderstream_dev.infra.jmx_exporter import REQUESTS

SCRAPE_TIMEOUT_S = 10.0
WORKERS = ("inventory worker", "orders worker")
ACCEPTED = ("orderstream_http_requests_total",
            {"method": "POST", "route": "/orders", "status": "202"})
DECIDED = ("orderstream_consumer_messages_total", {"outcome": "applied"})


@dataclass
class FlowCounters:
    cpu: CpuClock
    postgres: PostgresActivity
    broker_metrics_url: str | None
    metrics_urls: Mapping[str, str]
    """/metrics of each process, by its name in the flow (api, relay 1, ..., orders worker)."""

    async def read(self) -> Reading:
        counters = {"cpu": {**self.cpu.read(), "generator": _children_cpu_s(),
                            "bench": time.process_time(), "machine": machine_busy_s()}}
        if self.broker_metrics_url is not None:
            counters["kafka"] = requests_by_kind(
                (labels, value) for name, labels, value
                in _samples(await _scrape(self.broker_metrics_url)) if name == REQUESTS)
        labels: dict[str, str] = {}
        statements = await self.postgres.statements()
        if statements is not None:
            counters["statements"], labels = statements
        counters["wakeups"] = await self._wakeups()
        return Reading(time.time(), counters, labels)

    async def transactions(self) -> dict[str, float]:
        return await self.postgres.transactions()

    async def progress(self) -> tuple[float, float]:
        """Orders the API accepted (202) and orders the orders worker decided (applied
        its StockReserved or StockRejected) since the processes started."""
        api = await _scrape(self.metrics_urls["api"])
        worker = await _scrape(self.metrics_urls["orders worker"])
        return _total(api, *ACCEPTED), _total(worker, *DECIDED)

    async def _wakeups(self) -> dict[str, float]:
        found: dict[str, float] = {}
        for name, url in self.metrics_urls.items():
            if name != "api":
                for key, value in wakeups(name, await _scrape(url)).items():
                    found[key] = found.get(key, 0.0) + value
        return found


def wakeups(process: str, metrics: str) -> dict[str, float]:
    """The wake-ups counted in a process's /metrics, by what woke and where."""
    found: dict[str, float] = {}
    for sample, labels, value in _samples(metrics):
        key = _wakeup(process, sample, labels)
        if key is not None:
            found[key] = found.get(key, 0.0) + value
    return found


def _wakeup(process: str, sample: str, labels: Mapping[str, str]) -> str | None:
    """The wake-up a sample counts: relay reads and batches per outbox (both relays
    summed), each worker's fetches and batches."""
    if sample == "orderstream_relay_reads_total":
        return f"relay reads ({labels['outbox']})"
    if sample == "orderstream_relay_batch_size_count":
        return f"relay batches ({labels['outbox']})"
    if process in WORKERS and sample == "orderstream_consumer_fetches_total":
        return f"{process} fetches"
    if process in WORKERS and sample == "orderstream_consumer_batch_seconds_count":
        return f"{process} batches"
    return None


async def _scrape(url: str) -> str:
    def get() -> str:
        with urllib.request.urlopen(url, timeout=SCRAPE_TIMEOUT_S) as response:
            return str(response.read().decode())
    return await asyncio.to_thread(get)


def _samples(text: str) -> Iterator[tuple[str, dict[str, str], float]]:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            yield sample.name, sample.labels, sample.value


def _total(text: str, name: str, labels: Mapping[str, str]) -> float:
    wanted = set(labels.items())
    return sum(value for sample, found, value in _samples(text)
               if sample == name and wanted <= set(found.items()))


def _children_cpu_s() -> float:
    """CPU of this process's children that ended: the load generator's runs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
