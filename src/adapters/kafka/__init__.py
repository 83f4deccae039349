"""Kafka adapters on aiokafka: publisher, group consumer, dead-letter sink, topic admin.

See docs/kafka.md for every client option and how rebalances and shutdowns behave.
"""

from adapters.kafka.consumer import KafkaMessageConsumer
from adapters.kafka.dead_letters import KafkaDeadLetterSink
from adapters.kafka.publisher import KafkaPublisher

__all__ = ["KafkaDeadLetterSink", "KafkaMessageConsumer", "KafkaPublisher"]
