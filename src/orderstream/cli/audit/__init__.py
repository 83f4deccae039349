"""`orderstream audit`: the flow's invariants checked on the live database."""
