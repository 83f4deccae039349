"""Ports for the processes and servers a test starts on this machine."""

import socket


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on at the time of asking."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
