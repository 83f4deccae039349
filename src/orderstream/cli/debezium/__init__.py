"""`orderstream debezium`: hand the outboxes to Debezium's connector instead of the relay."""
