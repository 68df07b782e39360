"""Subcommands of `podtui`, one module per group: `add_parser` and `run`."""
