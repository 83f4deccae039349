"""What bounds each result: the profiles of the run, when py-spy was there to take them."""

from typing import Any


def section(results: dict[str, Any]) -> str:
    return ""
