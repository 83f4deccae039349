"""CPU time of the flow's processes, PostgreSQL's and the broker's included, and of the
whole machine, read from /proc.

PostgreSQL is a postmaster and a process per connection: its CPU is the postmaster's own,
that of its children still running, and that of the children it has reaped (the kernel
adds a reaped child's time to its parent's `cutime` and `cstime`), so backends that come
and go are counted too. A broker is one JVM process, its threads included.
"""

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def _fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (field 3 onwards)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return stat[stat.rindex(")") + 2:].split()


def machine_busy_s(stat: str | None = None) -> float:
    """CPU seconds the machine's cores spent busy since boot: the first line of /proc/stat,
    less idle and iowait (and steal, time the hypervisor gave to others)."""
    fields = (stat or Path("/proc/stat").read_text()).splitlines()[0].split()
    assert fields[0] == "cpu", fields
    user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in fields[1:8])
    return (user + nice + system + irq + softirq) / _TICKS


def parent_of(pid: int) -> int | None:
    fields = _fields(pid)
    return int(fields[1]) if fields else None


def own_cpu_s(pid: int) -> float:
    """User plus system time of `pid` (0 once it is gone)."""
    fields = _fields(pid)
    return (int(fields[11]) + int(fields[12])) / _TICKS if fields else 0.0


def tree_cpu_s(root: int) -> float:
    """`root`'s time, its reaped children's, and its living children's own."""
    fields = _fields(root)
    if fields is None:
        return 0.0
    total = sum(int(value) for value in fields[11:15]) / _TICKS
    return total + sum(own_cpu_s(pid) for pid in children_of(root))


def children_of(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and parent_of(int(entry.name)) == parent:
            found.append(int(entry.name))
    return found


def processes_running(marker: str) -> list[int]:
    """The pids whose command line contains `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in command:
            found.append(int(entry.name))
    return found


class CpuClock:
    """Reads the CPU seconds of named groups of processes; `since` gives each group's use
    between two readings. A group is a set of single processes, or of process trees."""

    def __init__(self, processes: Mapping[str, Iterable[int]],
                 trees: Mapping[str, Iterable[int]]) -> None:
        self._processes = {name: list(pids) for name, pids in processes.items()}
        self._trees = {name: list(pids) for name, pids in trees.items()}

    def read(self) -> dict[str, float]:
        now = {name: sum(own_cpu_s(pid) for pid in pids)
               for name, pids in self._processes.items()}
        now.update({name: sum(tree_cpu_s(pid) for pid in pids)
                    for name, pids in self._trees.items()})
        return now

    @staticmethod
    def since(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
        return {name: after[name] - before.get(name, 0.0) for name in after}
