"""`orderstream chaos`: faults injected at random into the whole flow running as processes,
then the audit (docs/operations.md#chaos)."""
