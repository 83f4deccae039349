"""orderstream's service: the runtime (settings, container, processes) in `runtime`, the
command line in `cli`."""
