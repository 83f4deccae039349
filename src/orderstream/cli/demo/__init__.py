"""`orderstream demo`: the whole flow in one process, seeded, checked and summarised."""
