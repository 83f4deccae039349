"""`orderstream demo --store postgres` as a benchmark: the whole flow, orders per second."""

from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from orderstream.cli.demo.demo_run import plan, run_with_settings
from orderstream.runtime.settings import Settings
from orderstream_dev.bench.base import Advance, BenchContext


@dataclass
class DemoBenchmark:
    orders: int = 20_000
    clients: int = 8
    seed: int = 7
    name: str = "demo"

    def steps(self, context: BenchContext) -> int:
        return self.orders

    async def run(self, context: BenchContext, advance: Advance) -> dict[str, Any]:
        settings = Settings(store="postgres", database_url=SecretStr(context.database_url))
        report = await run_with_settings(
            settings, plan(self.orders, self.seed), clients=self.clients,
            on_progress=lambda placed, settled: advance("demo: settled", settled, self.orders))
        return {
            "store": "postgres", "orders": report.placed, "clients": self.clients,
            "elapsed_s": round(report.elapsed_s, 2),
            "orders_per_s": round(report.orders_per_s),
            "confirmed": report.statuses["confirmed"], "rejected": report.statuses["rejected"],
            "invariants_hold": not report.violations, "violations": report.violations,
        }

    def summary(self, result: dict[str, Any]) -> list[tuple[str, str]]:
        verdict = "all invariants hold" if result["invariants_hold"] else "INVARIANTS VIOLATED"
        return [("demo --store postgres, orders/s",
                 f"{result['orders_per_s']:,} ({result['orders']:,} orders, {verdict})")]
