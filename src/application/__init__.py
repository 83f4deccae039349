"""Use cases of orderstream: ports, handlers, the consumer policy and the relay."""
