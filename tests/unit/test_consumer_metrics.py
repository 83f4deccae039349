"""A consumer group's outcomes counted by kind, each kind the batch reports."""

from dataclasses import fields

from prometheus_client.parser import text_string_to_metric_families

from adapters.prometheus import ConsumerMetrics, Metrics
from application.observation import Applied

# What each field of `Applied` is counted as.
OUTCOME_OF = {"applied": "applied", "duplicates": "duplicate", "ignored": "ignored",
              "relocked": "relocked"}


def test_every_count_of_a_batch_is_an_outcome_of_its_group() -> None:
    metrics = Metrics()
    observer = ConsumerMetrics(metrics, "inventory")
    counted = {field.name: n for n, field in enumerate(fields(Applied), start=1)}

    observer.applied(Applied(**counted))

    found = {sample.labels["outcome"]: sample.value
             for family in text_string_to_metric_families(metrics.exposition().decode())
             for sample in family.samples
             if sample.name == "orderstream_consumer_messages_total"
             and sample.labels.get("group") == "inventory"}
    for name, outcome in OUTCOME_OF.items():
        assert found[outcome] == counted[name], name
