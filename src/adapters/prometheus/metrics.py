"""Every metric of orderstream, registered in a registry of the process's own."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.process_collector import ProcessCollector

from adapters.prometheus.loop_histogram import LoopHistogram

HANDLER_BUCKETS = (1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.5, 1.0)
BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
END_TO_END_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                      300.0)
PUBLISH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0)
SIZE_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
PRUNE_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """The metric families, created in `registry` (a new one by default), with the
    process's CPU, memory and open files."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self._consumer()
        self._relay()
        self._flow()
        self._tables()
        self._http()

    def _consumer(self) -> None:
        r = self.registry
        self.messages = Counter(
            "orderstream_consumer_messages", "Messages a consumer group is done with, by "
            "outcome: applied, duplicate, ignored, dead_lettered, parked (stepped aside "
            "behind their key), unparked (parked, then applied or dead-lettered by the retry "
            "loop); retried counts attempts that failed transiently.", ["group", "outcome"],
            registry=r)
        # Observed once per message: lock-free (see loop_histogram).
        self.handler_seconds = LoopHistogram(
            "orderstream_consumer_handler_seconds", "Time a handler took for one message.",
            ["group", "event_type"], HANDLER_BUCKETS, r)
        self.batch_seconds = Histogram(
            "orderstream_consumer_batch_seconds", "From the fetch of a batch to the commit of "
            "its transaction (and its dead letters stored).", ["group"], buckets=BATCH_BUCKETS,
            registry=r)
        self.end_to_end_seconds = LoopHistogram(
            "orderstream_consumer_end_to_end_seconds", "From an event's time (ce_time, when "
            "its outbox row was written) to the commit of the transaction that applied it.",
            ["group"],
            END_TO_END_BUCKETS, r)
        self.fetches = Counter(
            "orderstream_consumer_fetches", "Fetches a consumer member made: each a wake-up "
            "of its loop, with a batch or none (the fetch timed out).", ["group"], registry=r)
        self.last_commit = Gauge(
            "orderstream_consumer_last_commit_timestamp_seconds", "When this member last "
            "committed offsets (Unix time).", ["group"], registry=r)

    def _relay(self) -> None:
        r = self.registry
        self.publish_seconds = Histogram(
            "orderstream_relay_publish_seconds", "Time until the broker acknowledged a batch.",
            ["outbox"], buckets=PUBLISH_BUCKETS, registry=r)
        self.batch_size = Histogram(
            "orderstream_relay_batch_size", "Messages per published batch.", ["outbox"],
            buckets=SIZE_BUCKETS, registry=r)
        self.published = Counter(
            "orderstream_relay_published_messages", "Messages sent in batches the broker "
            "answered (acknowledged, or refused for good and marked failed).",
            ["outbox"], registry=r)
        self.reads = Counter(
            "orderstream_relay_reads", "Reads of the outbox (each a round trip to PostgreSQL "
            "that deletes what was published before it): each a wake-up of the relay, with a "
            "batch or none.", ["outbox"], registry=r)
        self.leader = Gauge(
            "orderstream_relay_leader", "1 while this process relays the outbox, else 0.",
            ["outbox"], registry=r)

    def _flow(self) -> None:
        r = self.registry
        self.lag = Gauge(
            "orderstream_consumer_lag", "Messages of a partition the group has not committed "
            "yet: log end offset minus committed offset.", ["group", "topic", "partition"],
            registry=r)
        self.backlog = Gauge(
            "orderstream_outbox_backlog", "Outbox rows not yet published.", ["outbox"],
            registry=r)
        self.oldest_age = Gauge(
            "orderstream_outbox_oldest_age_seconds", "Age of the oldest row not yet published "
            "(0 when there is none).", ["outbox"], registry=r)
        self.slot_active = Gauge(
            "orderstream_replication_slot_active", "1 while a reader (Debezium's connector) "
            "streams from the replication slot; 0 when none does or the slot is missing.",
            ["slot"], registry=r)
        self.slot_lag = Gauge(
            "orderstream_replication_slot_lag_bytes", "WAL written since the last position "
            "the slot's reader confirmed: Debezium mode's backlog.", ["slot"], registry=r)
        self.slot_retained = Gauge(
            "orderstream_replication_slot_retained_bytes", "WAL the server keeps on disk for "
            "the slot; it grows without bound while nothing reads the slot.", ["slot"],
            registry=r)
        self.parked_keys = Gauge(
            "orderstream_parked_keys", "Keys a consumer group has parked: their messages "
            "wait for the retry loop instead of holding up their partition.", ["group"],
            registry=r)
        self.parked_messages = Gauge(
            "orderstream_parked_messages", "Messages parked, the first of each key and those "
            "behind it.", ["group"], registry=r)
        self.parked_oldest_age = Gauge(
            "orderstream_parked_oldest_age_seconds", "Age of the oldest parked message (0 "
            "when none is).", ["group"], registry=r)
        self.ready = Gauge(
            "orderstream_ready", "1 while the process is ready (what /readyz answers), else 0.",
            registry=r)

    def _tables(self) -> None:
        r = self.registry
        self.table_rows = Gauge(
            "orderstream_table_rows", "Live rows of a table, as PostgreSQL's statistics "
            "estimate them (n_live_tup).", ["table"], registry=r)
        self.table_dead_rows = Gauge(
            "orderstream_table_dead_rows", "Dead row versions of a table that vacuum has not "
            "removed yet (n_dead_tup).", ["table"], registry=r)
        self.table_size = Gauge(
            "orderstream_table_size_bytes", "A table's size on disk with its indexes and "
            "TOAST.", ["table"], registry=r)
        self.table_last_vacuum = Gauge(
            "orderstream_table_last_vacuum_timestamp_seconds", "When a table was last "
            "vacuumed, by autovacuum or by hand (Unix time; 0: never).", ["table"],
            registry=r)
        self.oldest_transaction = Gauge(
            "orderstream_postgres_oldest_transaction_seconds", "Age of the oldest transaction "
            "open on the database (autovacuum's aside), prepared ones included.", registry=r)
        self.oldest_xmin_age = Gauge(
            "orderstream_postgres_oldest_xmin_age_transactions", "Transactions begun since "
            "the oldest snapshot still held (a session's xmin, a replication slot's, a "
            "prepared transaction): vacuum removes no row deleted after it.", registry=r)
        self.pruned_rows = Counter(
            "orderstream_pruned_rows", "Rows deleted past their retention by this "
            "process's prune.", ["table"], registry=r)
        self.prune_seconds = Histogram(
            "orderstream_prune_round_seconds", "Time the batches of one prune round took "
            "(the pauses between them aside).", ["table"], buckets=PRUNE_BUCKETS, registry=r)

    def _http(self) -> None:
        r = self.registry
        self.requests = Counter(
            "orderstream_http_requests", "HTTP requests answered, by route template and "
            "status (those refused at the door are in orderstream_http_shed).",
            ["method", "route", "status"], registry=r)
        self.request_seconds = Histogram(
            "orderstream_http_request_seconds", "Time to answer an HTTP request.",
            ["method", "route", "status"], buckets=HTTP_BUCKETS, registry=r)
        self.in_flight = Gauge(
            "orderstream_http_in_flight", "Requests inside the API now (the operations "
            "routes aside).", registry=r)
        self.shed = Counter(
            "orderstream_http_shed", "Requests refused at the door with 503 overloaded, by "
            "why: a standing queue, a request that waited an interval, or requests in "
            "flight at the limit.", ["reason"], registry=r)

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)
