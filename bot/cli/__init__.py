"""The ``kasane`` command line: one module per group of subcommands."""
