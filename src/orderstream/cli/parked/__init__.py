"""`orderstream parked list|show|retry|drop`: the keys the workers parked (the parking rule
and retry loop of a worker are in `runtime/worker_parking.py`)."""
