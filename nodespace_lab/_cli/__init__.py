"""Building blocks of the `nodespace` command (see `nodespace_lab.cli`)."""
