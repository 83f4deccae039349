"""What /proc says about a process: resident memory, its peak, CPU time. Linux only."""

import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def _status(pid: int) -> dict[str, str]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.strip()
    return fields


def rss_bytes(pid: int) -> int:
    """Resident set size now (VmRSS)."""
    return int(_status(pid)["VmRSS"].split()[0]) * 1024


def peak_rss_bytes(pid: int) -> int:
    """The largest resident set size the process had so far (VmHWM)."""
    return int(_status(pid)["VmHWM"].split()[0]) * 1024


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time used so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def mb(size: float) -> float:
    """Bytes as megabytes (10^6), as the memory target is written."""
    return round(size / 1e6, 1)
