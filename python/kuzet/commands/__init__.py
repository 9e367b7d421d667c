"""Subcommands of the `kuzet` command line, one module each."""
