"""`orderstream bench`: measure the real code paths against the plainest loop that does
the same work, in one process, alternately, and report the ratios.

Each benchmark is a module with a `Benchmark` (see `base.py`), listed in `bench_command.bench`.
"""
