"""`orderstream dlq`: the dead-letter topics on Kafka, listed, shown and replayed."""
