"""`orderstream demo` as a benchmark: the whole flow in one process, orders per second, on
the embedded default (memory store and bus, a run per round) and on PostgreSQL (one run)."""

import gc
import time
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from orderstream.cli.demo.demo_run import DemoReport, plan, run_with_settings
from orderstream.runtime.settings import Settings
from orderstream_dev.bench.base import Advance, BenchContext, spread, spread_text


@dataclass
class DemoBenchmark:
    orders: int = 20_000
    clients: int = 8
    seed: int = 7
    name: str = "demo"

    def steps(self, context: BenchContext) -> int:
        return self.orders * (context.rounds + 1)

    async def run(self, context: BenchContext, advance: Advance) -> dict[str, Any]:
        done = 0

        def settled(description: str) -> Any:
            return lambda placed, outcomes: advance(description, done + outcomes,
                                                    self.orders * (context.rounds + 1))

        memory = []
        for _ in range(context.rounds):
            memory.append(await self._round(Settings(), settled("demo (memory)")))
            done += self.orders
        report, _ = await self._round(
            Settings(store="postgres", database_url=SecretStr(context.database_url)),
            settled("demo (postgres)"))
        gc.collect()
        gc.freeze()  # the bench's heap frozen again, as it was, for what runs next
        return {
            "memory": _memory(memory), "store": "postgres", "orders": report.placed,
            "clients": self.clients, "elapsed_s": round(report.elapsed_s, 2),
            "orders_per_s": round(report.orders_per_s),
            "confirmed": report.statuses["confirmed"], "rejected": report.statuses["rejected"],
            "invariants_hold": not report.violations, "violations": report.violations,
        }

    async def _round(self, settings: Settings, on_progress: Any) -> tuple[DemoReport, float]:
        """One run as `orderstream demo` makes it: the plan made first and frozen with what
        else lives all run long (`gc.freeze()`), out of the collector's walks, and let go
        after the run; the process's CPU time per order, setup and checks included."""
        demo = plan(self.orders, self.seed)
        gc.collect()
        gc.freeze()
        started = time.process_time()
        try:
            report = await run_with_settings(settings, demo, clients=self.clients,
                                             on_progress=on_progress)
        finally:
            cpu_s = time.process_time() - started
            gc.unfreeze()
        return report, cpu_s * 1e6 / self.orders

    def summary(self, result: dict[str, Any]) -> list[tuple[str, str]]:
        memory = result["memory"]
        return [("demo (memory store and bus), orders/s",
                 f"{spread_text(memory['orders_per_s'])} ({memory['orders']:,} orders, "
                 f"{len(memory['per_round'])} runs, {_verdict(memory)})"),
                ("demo (memory), process CPU per order, us",
                 spread_text(memory["cpu_us_per_order"], 1)),
                ("demo --store postgres, orders/s",
                 f"{result['orders_per_s']:,} ({result['orders']:,} orders, "
                 f"{_verdict(result)})")]


def _verdict(result: dict[str, Any]) -> str:
    return "all invariants hold" if result["invariants_hold"] else "INVARIANTS VIOLATED"


def _memory(runs: list[tuple[DemoReport, float]]) -> dict[str, Any]:
    return {
        "orders": runs[0][0].placed,
        "per_round": [round(report.orders_per_s) for report, _ in runs],
        "orders_per_s": spread([report.orders_per_s for report, _ in runs]),
        "cpu_us_per_order": spread([cpu for _, cpu in runs]),
        "invariants_hold": not any(report.violations for report, _ in runs),
        "violations": [v for report, _ in runs for v in report.violations],
    }
