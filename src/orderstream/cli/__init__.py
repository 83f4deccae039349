"""The `orderstream` command line: the lazy Typer app (`main`) and one module or package per
command group."""
